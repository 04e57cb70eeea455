"""Comparison of a recording with its score (omr.audio.compare): timing deviations,
missed and added notes, on a FluidSynth rendering with known changes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from omr.audio.align import align
from omr.audio.compare import Comparison, compare
from omr.audio.synth import render, write_notes_midi

from test_align import GUITAR, SR, make_piece, warp  # noqa: E402 (tests/ is on sys.path)

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None, reason="FluidSynth is not installed")

#: Played 120 ms late.
LATE_S = 0.12


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Piece 1 played with three melody notes left out, one played late and two
    notes added between the score's onsets."""
    notes = make_piece(1)
    rng = np.random.default_rng(1)
    melody = [i for i, n in enumerate(notes)
              if n.part == 0 and n.duration_qn >= 1.0 and 1 < n.score_sec < 22]
    deleted = set(rng.choice(melody, 3, replace=False).tolist())
    late = int(rng.choice([i for i in melody if i not in deleted]))
    on = np.array([n.score_sec for n in notes])
    off = on + np.array([n.duration_sec for n in notes])
    start, end = warp(on), warp(off)
    start[late] += LATE_S
    keep = np.array([i not in deleted for i in range(len(notes))])
    added_at = warp(np.array([5.25, 15.45]))  # between eighth-note onsets
    added_pitch = np.array([90, 85])
    pitches = np.array([n.pitch for n in notes])
    parts = np.array([n.part for n in notes])
    mid = write_notes_midi(tmp_path_factory.mktemp("cmp") / "c.mid",
                           np.concatenate([start[keep], added_at]),
                           np.concatenate([end[keep], added_at + 0.4]),
                           np.concatenate([pitches[keep], added_pitch]),
                           parts=np.concatenate([parts[keep], [0, 0]]), programs=GUITAR)
    y = render(mid, sample_rate=SR)
    result = align(notes, y, SR)
    return {"notes": notes, "deleted": deleted, "late": late, "added_at": added_at,
            "added_pitch": added_pitch, "result": result, "cmp": compare(result)}


def test_timing_deviation(case):
    c = case["cmp"]
    by_index = {t.index: t for t in c.timings}
    assert by_index[case["late"]].deviation_sec == pytest.approx(LATE_S, abs=0.05)
    assert by_index[case["late"]].deviation_qn > 0
    assert c.median_abs_deviation_sec < 0.03
    # the smooth tempo curve itself is not a deviation
    others = [t.deviation_sec for t in c.timings if t.index != case["late"]]
    assert np.percentile(np.abs(others), 90) < 0.08


def test_missed_notes(case):
    found = {m.index for m in case["cmp"].missed}
    assert len(found & case["deleted"]) >= 1
    assert len(found - case["deleted"]) <= 2


def test_added_notes(case):
    extra = case["cmp"].extra
    hits = [t for t in case["added_at"]
            if any(abs(e.audio_sec - t) < 0.1 for e in extra)]
    assert len(hits) >= 1
    assert len(extra) <= 4


def test_plain_data(case):
    c = case["cmp"]
    assert isinstance(c, Comparison)
    d = c.to_dict()
    json.dumps(d)  # JSON-able
    assert set(d) >= {"timings", "missed", "extra", "median_abs_deviation_sec"}
    assert c.notes_expected == len(case["notes"])


def test_compare_without_stored_features(case):
    import dataclasses

    r = dataclasses.replace(case["result"], features=None)
    from omr.errors import ParameterError

    with pytest.raises(ParameterError, match="audio"):
        compare(r)
