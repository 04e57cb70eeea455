"""`python -m synth build` and `show`: a tiny real build, determinism, resume, bad arguments."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from omr import vocab
from synth import __main__ as synth_cli
from synth.build import BuildConfig, BuildError, build, read_index

PAGES = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "train"
    config = BuildConfig(pages=PAGES, seed=7, split="test", generated_fraction=0.5)
    report = build(out, config, progress=False)
    return out, config, report


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_writes_complete_pages(dataset):
    out, config, report = dataset
    assert report.pages == PAGES
    assert not report.failed_jobs
    records = read_index(out)
    assert len(records) == PAGES
    for r in records:
        page = json.loads((out / r.record).read_text())
        assert page["split"] == "test"
        assert (out / r.shard / page["musicxml"]).read_text().lstrip().startswith("<?xml")
        notes = json.loads((out / r.shard / page["notes"]).read_text())
        assert notes and all("onset_sec" in n and "pitch" in n for n in notes)
        for variant in ("clean", "camera"):
            assert (out / r.shard / page[variant]["image"]).stat().st_size > 10_000
            symbols = page[variant]["symbols"]
            assert len(symbols) > 20
            assert {s["cls"] for s in symbols} <= set(vocab.NAMES)
            w, h = page[variant]["size"]
            for s in symbols:
                x0, y0, x1, y1 = s["box"]
                assert -1 <= x0 <= x1 <= w + 1 and -1 <= y0 <= y1 <= h + 1
        # the page corners land where the page is in the photo: the page's symbols
        # lie inside the quadrilateral they span
        corners = np.array(page["camera"]["page_corners"], np.float32)
        for s in page["camera"]["symbols"][:50]:
            x0, y0, x1, y1 = s["box"]
            centre = ((x0 + x1) / 2, (y0 + y1) / 2)
            assert cv2.pointPolygonTest(corners, centre, True) > -3
        # ground truth for the staff graph rides along: staff, system, parent, text
        clean = page["clean"]["symbols"]
        assert all("staff" in s for s in clean if s["cls"].startswith("notehead"))
        assert any("parent" in s for s in clean if s["cls"] == "stem")
        texts = [s for s in clean if s["cls"] in ("lyric_syllable", "tempo_text", "credit_text")]
        assert all(s.get("text") for s in texts)
        # a page of music has noteheads and staves
        classes = {s["cls"] for s in page["clean"]["symbols"]}
        assert "staff" in classes
        assert classes & set(vocab.names_with_role("notehead")) or \
            classes & set(vocab.names_with_role("rest"))


def test_same_seed_same_files_and_resume(dataset, tmp_path):
    out, config, _ = dataset
    # a second build of the same config in another folder is byte-identical
    again = tmp_path / "again"
    build(again, config, progress=False)
    assert _files(again) == _files(out)
    # rerunning into a finished folder resumes and adds nothing
    report = build(again, config, progress=False)
    assert report.resumed_from_pages == PAGES and report.pages == 0
    # another seed gives other pages
    other = tmp_path / "other"
    build(other, BuildConfig(pages=1, seed=8, split="test"), progress=False)
    first = read_index(out)[0]
    assert (other / read_index(other)[0].record).read_bytes() != (out / first.record).read_bytes()


def test_resume_after_interruption(dataset, tmp_path):
    out, config, _ = dataset
    partial = tmp_path / "partial"
    build(partial, BuildConfig(**{**config.to_dict(), "pages": 1,
                                  "variants": tuple(config.variants)}), progress=False)
    # same settings except the page count: refused, nothing deleted
    with pytest.raises(BuildError, match="other settings"):
        build(partial, config, progress=False)
    assert len(read_index(partial)) == 1


def test_existing_folders_are_protected(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(BuildError, match="not empty"):
        build(precious, BuildConfig(pages=1), clean=True, progress=False)
    assert (precious / "thesis.txt").exists()


@pytest.mark.parametrize("argv, message", [
    (["build", "--out", "x", "--pages", "0"], "expected a number >= 1"),
    (["build", "--out", "x", "--pages", "ten"], "expected a whole number"),
    (["build", "--out", "x", "--pages", "1", "--split", "training"], "invalid choice"),
    (["build", "--pages", "1"], "required: --out"),
    (["build", "--out", "x", "--pages", "1", "--difficulty", "2"], "in [0, 1]"),
    (["build", "--out", "x", "--pages", "1", "--feature-chance", "rest_rhythms"], "not NAME=CHANCE"),
    (["build", "--out", "x", "--pages", "1", "--feature-chance", "volta=1"], "not a feature"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_cli_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        synth_cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_unknown_variant_and_foreign_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        synth_cli.main(["build", "--out", str(tmp_path / "a"), "--pages", "1",
                        "--variants", "clean,xray"])
    assert exit_info.value.code == 2
    assert "variants" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        synth_cli.main(["show", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no synth data set" in capsys.readouterr().err


def test_show_writes_overlays_via_the_command_line(dataset, tmp_path):
    out, _, _ = dataset
    result = subprocess.run([sys.executable, "-m", "synth", "show", str(out), "--limit", "1",
                             "--out", str(tmp_path / "ov")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    overlays = sorted((tmp_path / "ov").glob("*.png"))
    assert [p.name.split(".")[1] for p in overlays] == ["camera", "clean"]


def test_two_workers_write_the_same_files(tmp_path):
    config = BuildConfig(pages=2, seed=11, split="val", variants=("clean",))
    build(tmp_path / "one", config, progress=False)
    build(tmp_path / "two", config, workers=2, progress=False)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_a_failing_piece_is_recorded_and_the_build_goes_on(tmp_path, monkeypatch):
    from synth import build as build_module

    real_engraver = build_module.engrave.Engraver
    calls = []

    def flaky_engraver(musicxml, options):
        calls.append(1)
        if len(calls) == 1:  # the first piece cannot be engraved
            raise build_module.engrave.EngraveError("verovio cannot load the MusicXML")
        return real_engraver(musicxml, options)

    monkeypatch.setattr(build_module.engrave, "Engraver", flaky_engraver)
    report = build(tmp_path / "ds", BuildConfig(pages=1, seed=3, variants=("clean",)),
                   progress=False)
    assert report.pages == 1
    assert len(report.failed_jobs) == 1
    failure = json.loads((tmp_path / "ds" / "failures.jsonl").read_text())
    assert failure["job"] == 0 and failure["source"].split(":")[0] in ("corpus", "generated")
    assert "cannot load" in failure["error"]
    assert read_index(tmp_path / "ds")[0].job == 1


def test_extras_build_draws_the_decorations_and_old_manifests_still_resume(tmp_path):
    # Generated scores only; a few pages so that flags, arpeggios or fingering come up.
    config = BuildConfig(pages=4, seed=6, split="test", generated_fraction=1.0,
                         variants=("clean",), extras=True)
    build(tmp_path / "extras", config, progress=False)
    manifest = json.loads((tmp_path / "extras" / "manifest.json").read_text())
    assert manifest["config"]["extras"] is True
    classes = set()
    for r in read_index(tmp_path / "extras"):
        page = json.loads((tmp_path / "extras" / r.record).read_text())
        classes |= {s["cls"] for s in page["clean"]["symbols"]}
    assert classes & {"flag_16th", "arpeggio", "fingering"}
    # A build without extras writes the manifest it wrote before the option existed.
    assert "extras" not in BuildConfig(pages=4).to_dict()


def test_feature_chance_build_prints_short_rests(tmp_path):
    config = BuildConfig(pages=2, seed=6, split="test", generated_fraction=1.0,
                         variants=("clean",), feature_chance=(("rest_rhythms", 1.0),))
    build(tmp_path / "rests", config, progress=False)
    manifest = json.loads((tmp_path / "rests" / "manifest.json").read_text())
    assert manifest["config"]["feature_chance"] == {"rest_rhythms": 1.0}
    rests = 0
    for r in read_index(tmp_path / "rests"):
        page = json.loads((tmp_path / "rests" / r.record).read_text())
        rests += sum(s["cls"] == "rest_16th" for s in page["clean"]["symbols"])
    assert rests >= 2
    assert "feature_chance" not in BuildConfig(pages=4).to_dict()
    with pytest.raises(BuildError, match="not a feature"):
        BuildConfig(pages=4, feature_chance=(("volta", 0.5),)).validate()


def test_labelling_a_metronome_marks_note_leaves_the_photos_as_they_were():
    """The camera draws pencil and highlighter marks at symbols' centres, so every
    label it sees moves its random draws: the parts of a metronome mark's note, which
    carry their tempo text's id, are no places of their own, and a page's photos are
    the same with and without them (a label-only change keeps the test builds)."""
    import dataclasses

    from synth import engrave
    from synth.build import _photograph
    from test_engrave import RICH

    page = engrave.engrave(RICH, engrave.EngraveOptions(font="Leipzig", staff_space_px=24)).pages[0]
    texts = {s.id for s in page.symbols if s.cls == "tempo_text"}
    parts = [s for s in page.symbols if s.id in texts and s.cls != "tempo_text"]
    assert {s.cls for s in parts} == {"notehead_black", "stem"}
    unlabelled = dataclasses.replace(page, symbols=[s for s in page.symbols if s not in parts])
    for seed in (4, 5):  # seeds whose photos get pencil or highlighter marks
        labelled = _photograph(page, np.random.default_rng(seed), 0.9)[1]
        before = _photograph(unlabelled, np.random.default_rng(seed), 0.9)[1]
        assert labelled.shape == before.shape and np.array_equal(labelled, before), seed
