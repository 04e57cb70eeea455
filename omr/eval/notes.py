"""Note accuracy of a transcription against a reference score, mir_eval style.

A note is ``(staff, measure, onset, pitch, duration)``: the staff counted over the
whole score top to bottom (a piano part has two), the measure's position among the
compared measures (0-based), the onset in quarter notes from the measure's start,
the written MIDI pitch, and the notated duration in quarter notes (ties are not
merged: every printed notehead is a note). Grace notes are left out.

Matching is per staff and measure: a reference note is correct when the estimate has
a note with the same onset, pitch and duration there (each estimated note matches
once). ``note_accuracy = correct / max(n_ref, n_est)``, so both missed and extra notes
cost.

Examples
--------
>>> ref = [(0, 0, 0.0, 60, 1.0), (0, 0, 1.0, 62, 1.0)]
>>> est = [(0, 0, 0.0, 60, 1.0), (0, 0, 1.0, 62, 0.5)]
>>> scores = evaluate(ref, est)
>>> scores["note_accuracy"], scores["pitch_onset_accuracy"]
(0.5, 1.0)
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Iterable, Sequence

Note = tuple[int, int, float, int, float]

#: Onsets and durations are compared after rounding to this many quarter notes
#: (1/48: exact for tuplets up to sextuplets of 32nds).
GRID_QN = Fraction(1, 48)


def validate(ref: Sequence[Note], est: Sequence[Note]) -> None:
    """Raise ``ValueError`` if a note is not ``(staff, measure, onset, pitch, duration)``."""
    for name, notes in (("reference", ref), ("estimate", est)):
        for n in notes:
            if len(n) != 5:
                raise ValueError(f"{name} note {n!r} is not (staff, measure, onset, pitch, duration)")
            if not 0 <= int(n[3]) <= 127:
                raise ValueError(f"{name} note {n!r} has a pitch outside MIDI 0..127")
            if float(n[4]) < 0 or float(n[2]) < 0:
                raise ValueError(f"{name} note {n!r} has a negative onset or duration")


def _q(v: float) -> Fraction:
    return (Fraction(v).limit_denominator(960) / GRID_QN).__round__() * GRID_QN


def _keys(notes: Iterable[Note], fields: tuple[int, ...]) -> Counter:
    out = Counter()
    for n in notes:
        key = []
        for f in fields:
            v = n[f]
            key.append(_q(v) if f in (2, 4) else int(v))
        out[tuple(key)] += 1
    return out


def _matched(ref, est, fields) -> int:
    a, b = _keys(ref, fields), _keys(est, fields)
    return sum(min(c, b[k]) for k, c in a.items())


def evaluate(ref: Sequence[Note], est: Sequence[Note]) -> dict[str, float]:
    """Every note metric by name.

    - ``note_accuracy``: pitch + onset + duration correct, over max(n_ref, n_est);
    - ``precision``, ``recall``, ``f1`` of the same matches;
    - ``pitch_onset_accuracy``: ignoring duration; ``onset_duration_accuracy``:
      ignoring pitch (rhythm);
    - ``note_accuracy_aligned``: like ``note_accuracy`` after aligning each staff's
      measures to the reference's in order, so a missed or extra barline costs
      only the notes of that measure;
    - ``n_ref``, ``n_est``, ``correct``.
    """
    validate(ref, est)
    n_ref, n_est = len(ref), len(est)
    full = _matched(ref, est, (0, 1, 2, 3, 4))
    denom = max(n_ref, n_est, 1)
    p = full / n_est if n_est else 0.0
    r = full / n_ref if n_ref else 0.0
    return {
        "note_accuracy": full / denom,
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "pitch_onset_accuracy": _matched(ref, est, (0, 1, 2, 3)) / denom,
        "onset_duration_accuracy": _matched(ref, est, (0, 1, 2, 4)) / denom,
        "note_accuracy_aligned": _aligned_matches(ref, est) / denom,
        "n_ref": float(n_ref),
        "n_est": float(n_est),
        "correct": float(full),
    }


def _aligned_matches(ref: Sequence[Note], est: Sequence[Note]) -> int:
    """Matched notes when each staff's estimated measures are aligned to the
    reference measures in order (dynamic programming, a measure matched at most
    once), so one missed or extra barline costs only its own measure."""
    total_matched = 0
    for staff in {int(n[0]) for n in ref} | {int(n[0]) for n in est}:
        r = {}
        e = {}
        for n in ref:
            if int(n[0]) == staff:
                r.setdefault(int(n[1]), []).append(n)
        for n in est:
            if int(n[0]) == staff:
                e.setdefault(int(n[1]), []).append(n)
        rk, ek = sorted(r), sorted(e)
        rc = [_keys([(0, 0) + tuple(n[2:]) for n in r[k]], (2, 3, 4)) for k in rk]
        ec = [_keys([(0, 0) + tuple(n[2:]) for n in e[k]], (2, 3, 4)) for k in ek]
        dp = [[0] * (len(ek) + 1) for _ in range(len(rk) + 1)]
        for i in range(1, len(rk) + 1):
            for j in range(1, len(ek) + 1):
                sim = sum(min(c, ec[j - 1][key]) for key, c in rc[i - 1].items())
                dp[i][j] = max(dp[i - 1][j], dp[i][j - 1], dp[i - 1][j - 1] + sim)
        total_matched += dp[-1][-1]
    return total_matched


def notes_from_score(score, *, positions: Sequence[int] | None = None) -> list[Note]:
    """The notes of a music21 score as compared here.

    ``positions``: the measures to keep by position in each part (0-based), in order
    (not by number: a score may number two measures alike); they are renumbered 0..
    in that order. Default: all measures, numbered by position. Every
    ``Part``/``PartStaff`` of the score is one staff.
    """
    notes: list[Note] = []
    at = None if positions is None else {p: i for i, p in enumerate(positions)}
    for staff, part in enumerate(score.parts):
        for pos, m in enumerate(part.getElementsByClass("Measure")):
            index = pos if at is None else at.get(pos)
            if index is None:
                continue
            for n in m.recurse().notes:
                if n.duration.isGrace:
                    continue
                onset = float(n.getOffsetInHierarchy(m))
                for p in (n.pitches if n.isChord else [n.pitch]):
                    notes.append((staff, int(index), onset, int(p.midi), float(n.quarterLength)))
    return notes
