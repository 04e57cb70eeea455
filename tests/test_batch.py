"""`omr batch` (omr.batch, omr.batch_ray): pieces from a folder tree, outputs that
mirror it, a summary CSV, failures recorded and the run going on, resuming, naming
rules and manifests, local worker processes and a local Ray instance.

The photos are small: the music of a short generated piece cut out of its engraved
page and photographed by synth.camera, so the detector takes about a second per page
and the whole module stays well under a minute and a half. OCR is off throughout.
"""

from __future__ import annotations

import csv
import json
import os
import shutil

import cv2
import music21
import numpy as np
import pytest

from omr import batch
from omr.batch import (
    BatchError,
    Page,
    Piece,
    group_files,
    read_manifest,
    run_batch,
    up_to_date,
)


def _small_photo(seed: int, features: list[str]) -> np.ndarray:
    """A phone photo of the music of a 4-measure generated piece (page margins cut)."""
    from synth import camera, engrave
    from synth.generate import generate_score

    score = generate_score(seed, features=features, n_measures=4)
    page = engrave.Engraver(score.musicxml, engrave.EngraveOptions()).render_page(1)
    boxes = np.array([s.box for s in page.symbols], np.float32)
    margin = int(4 * page.staff_space_px)
    h, w = page.image.shape[:2]
    x0, y0 = max(0, int(boxes[:, 0].min()) - margin), max(0, int(boxes[:, 1].min()) - margin)
    x1, y1 = min(w, int(boxes[:, 2].max()) + margin), min(h, int(boxes[:, 3].max()) + margin)
    crop = np.ascontiguousarray(page.image[y0:y1, x0:x1])
    boxes = boxes - np.array([x0, y0, x0, y0], np.float32)
    for k in range(10):
        shot = camera.photograph(crop, boxes, np.random.default_rng(k), difficulty=0.0,
                                 staff_space_px=page.staff_space_px)
        if shot.visible.all():
            break
    return shot.image


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two different small photos, as JPEG and PNG files."""
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for i, (seed, features) in enumerate([(5, ["dots"]), (8, ["accidentals"])]):
        rgb = _small_photo(seed, features)
        path = folder / f"photo{i}.jpg"
        assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        png = folder / f"photo{i}.png"
        assert cv2.imwrite(str(png), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        out.append((path, png))
    return out


def _tree(root, photos):
    """solo.jpg; duet-p1.jpg + duet-p2.jpg (one piece); sub/inner.png; a corrupt
    broken.jpg; a text file."""
    (root / "sub").mkdir(parents=True)
    shutil.copy(photos[0][0], root / "solo.jpg")
    shutil.copy(photos[0][0], root / "duet-p1.jpg")
    shutil.copy(photos[1][0], root / "duet-p2.jpg")
    shutil.copy(photos[1][1], root / "sub" / "inner.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg " * 40)
    (root / "readme.txt").write_text("photos of my scores")
    return root


def _summary(out):
    with open(out / "summary.csv", newline="") as f:
        return {r["piece"]: r for r in csv.DictReader(f)}


RUN = {"ocr": False, "progress": False}


def test_batch_tree_failures_resume(tmp_path, photos):
    src = _tree(tmp_path / "in", photos)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    partial = out / "sub" / f".inner.mid.999{batch.PARTIAL_SUFFIX}"  # left by a stopped run
    partial.write_bytes(b"half")

    result = run_batch(src, out, **RUN)
    assert not partial.exists()
    rows = _summary(out)
    assert list(rows) == ["broken", "duet", "solo", "sub/inner"]
    assert rows["broken"]["status"] == "failed" and rows["broken"]["file"] == "broken.jpg"
    assert "cannot be read" in rows["broken"]["error"] or "not an image" in rows["broken"]["error"]
    for name in ("duet", "solo", "sub/inner"):
        assert rows[name]["status"] == "ok", rows[name]
        assert int(rows[name]["notes"]) > 5 and float(rows[name]["seconds"]) > 0
    assert rows["duet"]["file"] == "duet-p1.jpg; duet-p2.jpg" and rows["duet"]["pages"] == "2"
    assert set(rows["solo"]) >= {"file", "status", "seconds", "notes", "warnings"}
    # outputs mirror the tree; nothing for the failed piece or the text file
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["duet.json", "duet.mid", "duet.musicxml", "solo.json", "solo.mid", "solo.musicxml",
                       "sub/inner.json", "sub/inner.mid", "sub/inner.musicxml", "summary.csv"]
    assert [p.name for p in result.ignored] == ["readme.txt"]
    assert result.pages_done == 4 and result.count("ok") == 3 and result.count("failed") == 1
    # the two-page piece has both pages, and the outputs are real
    duet = json.loads((out / "duet.json").read_text())
    assert len(duet["pages"]) == 2 and duet["batch"]["files"] == ["duet-p1.jpg", "duet-p2.jpg"]
    solo_notes = len(music21.converter.parse(str(out / "solo.musicxml")).recurse().notes)
    assert solo_notes > 0
    assert int(rows["duet"]["notes"]) > int(rows["solo"]["notes"])
    import mido
    assert len(mido.MidiFile(str(out / "solo.mid")).tracks) >= 2
    assert len(result.workers) == 1 and result.workers[0]["model_load_s"] > 0

    # a second run skips everything (the failed file is tried again)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.musicxml")}
    again = run_batch(src, out, **RUN)
    rows = _summary(out)
    assert {n: r["status"] for n, r in rows.items()} == {
        "broken": "failed", "duet": "skipped", "solo": "skipped", "sub/inner": "skipped"}
    assert rows["duet"]["notes"] and again.pages_done == 0
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*.musicxml")}

    # one output gone: only that piece runs again
    (out / "duet.mid").unlink()
    third = run_batch(src, out, **RUN)
    rows = _summary(out)
    assert rows["duet"]["status"] == "ok" and (out / "duet.mid").exists()
    assert rows["solo"]["status"] == rows["sub/inner"]["status"] == "skipped"
    assert third.pages_done == 2
    # an input newer than its outputs makes the piece out of date
    solo = Piece("solo", [src / "solo.jpg"])
    assert up_to_date(solo, out)
    later = (out / "solo.json").stat().st_mtime + 10
    os.utime(src / "solo.jpg", (later, later))
    assert not up_to_date(solo, out)


def test_two_workers_and_manifest(tmp_path, photos):
    """Spawned worker processes give the same files as one process; a manifest
    makes the pieces (sub-folders in piece names, a missing file fails its piece)."""
    src = _tree(tmp_path / "in", photos)
    (src / "broken.jpg").unlink()
    one, two = tmp_path / "one", tmp_path / "two"
    run_batch(src, one, **RUN)
    result = run_batch(src, two, workers=2, **RUN)
    assert result.count("ok") == 3
    assert len(result.workers) == 2 and all(w["threads"] >= 1 for w in result.workers)
    for name in ("duet.musicxml", "duet.mid", "solo.musicxml", "sub/inner.musicxml"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name

    manifest = tmp_path / "pieces.json"
    manifest.write_text(json.dumps({"book/both": ["sub/inner.png", "solo.jpg"], "lost": ["nope.jpg"]}))
    out = tmp_path / "m"
    run_batch(src, out, manifest=manifest, **RUN)
    rows = _summary(out)
    assert rows["book/both"]["status"] == "ok" and rows["book/both"]["pages"] == "2"
    assert rows["book/both"]["file"] == "sub/inner.png; solo.jpg"
    assert rows["lost"]["status"] == "failed" and "no such file" in rows["lost"]["error"]
    data = json.loads((out / "book" / "both.json").read_text())
    assert data["batch"]["files"] == ["sub/inner.png", "solo.jpg"]
    assert not (out / "solo.musicxml").exists()  # only what the manifest lists


def test_ray_local(tmp_path, photos):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray)")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(photos[0][0], src / "solo.jpg")
    shutil.copy(photos[1][1], src / "sub" / "inner.png")
    (src / "broken.jpg").write_bytes(b"garbage" * 100)
    local = tmp_path / "local"
    run_batch(src, local, **RUN)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        result = run_batch(src, tmp_path / "ray", ray="local", workers=2, **RUN)
    finally:
        ray.shutdown()
    rows = _summary(tmp_path / "ray")
    assert {n: r["status"] for n, r in rows.items()} == {"broken": "failed", "solo": "ok", "sub/inner": "ok"}
    assert rows["broken"]["error"]
    assert result.backend == "ray" and result.pages_done == 2
    assert all(w["model_load_s"] > 0 for w in result.workers)
    for name in ("solo.musicxml", "solo.mid", "sub/inner.musicxml"):
        assert (local / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name


# ----------------------------------------------------------- planning only


def _names(pieces):
    return {p.name: [f.name for f in p.files] for p in pieces}


def test_default_naming_rule(tmp_path):
    names = ["song-p2.jpg", "song-p1.jpg", "song_page3.png", "waltz (2).jpg", "waltz (10).jpg",
             "waltz (1).jpg", "Etude P1.JPG", "Etude p2.jpg", "solo.jpg", "solo.png", "x-p1.jpg", "x.jpg",
             "bwv66_6.jpg", "scan-1.jpg"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    files, ignored = batch.scan(tmp_path)
    assert not ignored
    got = _names(group_files(tmp_path, files))
    assert got == {
        "song": ["song-p1.jpg", "song-p2.jpg", "song_page3.png"],
        "waltz": ["waltz (1).jpg", "waltz (2).jpg", "waltz (10).jpg"],
        "Etude": ["Etude P1.JPG", "Etude p2.jpg"],
        "x": ["x-p1.jpg"], "x.jpg": ["x.jpg"],          # a name used twice keeps its suffix
        "solo.jpg": ["solo.jpg"], "solo.png": ["solo.png"],
        "bwv66_6": ["bwv66_6.jpg"], "scan-1": ["scan-1.jpg"],  # bare numbers are not pages
    }


def test_other_rules_and_scan(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for n in ["a/b/s2.jpg", "a/b/s10.jpg", "a/b/s1.jpg", "a/one.png", "top.jpg", ".hidden/x.jpg",
              "a/.x.jpg", "notes.txt", "out/old.jpg"]:
        (tmp_path / n).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / n).write_bytes(b"")
    files, ignored = batch.scan(tmp_path, tmp_path / "out")
    rel = [f.relative_to(tmp_path).as_posix() for f in files]
    assert rel == ["top.jpg", "a/one.png", "a/b/s1.jpg", "a/b/s2.jpg", "a/b/s10.jpg"]
    assert [f.name for f in ignored] == ["notes.txt"]
    assert _names(group_files(tmp_path, files, "none")) == {
        "top": ["top.jpg"], "a/one": ["one.png"], "a/b/s1": ["s1.jpg"], "a/b/s2": ["s2.jpg"],
        "a/b/s10": ["s10.jpg"]}
    folder = _names(group_files(tmp_path, files, "folder"))
    assert folder["a/b"] == ["s1.jpg", "s2.jpg", "s10.jpg"] and folder["a"] == ["one.png"]
    assert folder[tmp_path.name] == ["top.jpg"]
    regex = _names(group_files(tmp_path, files, r"(?P<name>s)(?P<page>\d+)"))
    assert regex["a/b/s"] == ["s1.jpg", "s2.jpg", "s10.jpg"] and regex["top"] == ["top.jpg"]
    with pytest.raises(BatchError, match="groups"):
        group_files(tmp_path, files, r"(?P<name>\w+)")
    with pytest.raises(BatchError, match="regular expression"):
        group_files(tmp_path, files, "pages(")
    with pytest.raises(BatchError, match="no such folder"):
        run_batch(tmp_path / "missing", tmp_path / "o", **RUN)


def test_manifests(tmp_path):
    for n in ["a.jpg", "b.jpg", "c.png"]:
        (tmp_path / n).write_bytes(b"")
    js = tmp_path / "m.json"
    js.write_text(json.dumps([{"piece": "x/first", "files": ["b.jpg", "a.jpg"]},
                              {"name": "second", "pages": ["c.png"]}]))
    assert _names(read_manifest(js, tmp_path)) == {"x/first": ["b.jpg", "a.jpg"], "second": ["c.png"]}
    rows = tmp_path / "m.csv"
    rows.write_text("piece,file,page\nsong,c.png,2\nsong,a.jpg,1\nother,b.jpg,\n")
    pieces = read_manifest(rows, tmp_path)
    assert _names(pieces) == {"song": ["a.jpg", "c.png"], "other": ["b.jpg"]}
    bare = tmp_path / "bare.csv"
    bare.write_text("song,b.jpg\nsong,a.jpg\n")
    assert _names(read_manifest(bare, tmp_path)) == {"song": ["b.jpg", "a.jpg"]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"../escape": ["a.jpg"]}))
    with pytest.raises(BatchError, match="piece name"):
        read_manifest(bad, tmp_path)
    bad.write_text("{not json")
    with pytest.raises(BatchError, match="JSON"):
        read_manifest(bad, tmp_path)
    with pytest.raises(BatchError, match="manifest"):
        read_manifest(tmp_path / "a.jpg", tmp_path)


def test_pdf_pages(tmp_path, photos):
    pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed")
    from PIL import Image

    first, second = (Image.open(p[0]).convert("RGB") for p in photos)
    first.save(tmp_path / "book.pdf", save_all=True, append_images=[second], resolution=150)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    assert batch.pdf_page_count(tmp_path / "book.pdf") == 2
    rgb = batch.render_pdf_page((tmp_path / "book.pdf").read_bytes(), 1)
    assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    assert abs(rgb.shape[1] - second.width * batch.PDF_DPI / 150) <= 2   # rendered at 300 dpi
    pieces, _ = batch.plan(tmp_path)
    by = {p.name: p for p in pieces}
    assert [(pg.file.name, pg.pdf_page) for pg in by["book"].pages] == [("book.pdf", 0), ("book.pdf", 1)]
    assert "cannot be read" in by["bad"].error
    manifest = tmp_path / "m.csv"
    manifest.write_text("piece,file\nback,book.pdf#2\n")
    piece = batch.expand_pages(read_manifest(manifest, tmp_path)[0])
    assert [(pg.file.name, pg.pdf_page) for pg in piece.pages] == [("book.pdf", 1)]
    assert Page(tmp_path / "book.pdf", 1).label(tmp_path) == "book.pdf#2"


def test_task_failures_are_results(monkeypatch, tmp_path):
    res = batch.transcribe_task({"name": "x", "pages": [(str(tmp_path / "nope.jpg"), None)]}, object(), ocr=False)
    assert res["status"] == "failed" and "no such file" in res["error"]

    def boom(*a, **k):
        raise RuntimeError("kaput")

    import omr.pipeline
    monkeypatch.setattr(omr.pipeline, "transcribe", boom)
    res = batch.transcribe_task({"name": "x", "pages": [("x.jpg", None)]}, object(), ocr=False)
    assert res["status"] == "failed" and res["error"] == "internal error: RuntimeError: kaput"


def test_command(tmp_path, capsys, monkeypatch):
    import argparse

    parser = argparse.ArgumentParser(prog="omr")
    batch.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", "in", "-o", "out", "--workers", "2", "--group-by", "none"])
    assert args.func is batch.cmd_batch and args.workers == 2 and args.group_by == "none"
    with pytest.raises(SystemExit):
        parser.parse_args(["batch", "in", "-o", "out", "--group-by", "none", "--manifest", "m.json"])
    capsys.readouterr()

    assert batch.main([str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omr batch: no such folder") and "Traceback" not in err

    src = tmp_path / "in"
    src.mkdir()
    (src / "broken.png").write_bytes(b"nope" * 50)
    (src / "readme.txt").write_text("x")
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # the plain progress line
    assert batch.main([str(src), "-o", str(tmp_path / "o"), "--no-ocr"]) == 1
    out, err = capsys.readouterr()
    assert "1 piece(s): 0 ok, 0 skipped (up to date), 1 failed" in out
    assert "[1/1] broken: failed" in err and "failed: broken.png:" in err and "1 file(s)" in err
