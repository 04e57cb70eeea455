"""`python -m omr.detect.train` runs end to end on a tiny synth build: it prepares
the pages, trains, logs validation metrics and writes a checkpoint that loads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omr.detect import data
from omr.detect.infer import load_model
from omr.detect.train import main as train_main
from synth.build import BuildConfig, build


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    build(out, BuildConfig(pages=2, seed=5, split="train", generated_fraction=1.0,
                           variants=("camera",), difficulty=0.3), progress=False)
    return out


def test_prepared_pages_are_normalized(tiny_build, tmp_path):
    ids = data.prepare(tiny_build, tmp_path / "prep", workers=1, progress=False)
    assert len(ids) == 2
    page = data.load_pages(tmp_path / "prep", ids)[0]
    assert page.image.dtype == np.uint8 and len(page.boxes) == len(page.classes) > 20
    # noteheads are a little over one staff space (10 px) tall in the normalized frame
    # (more when the photo is turned: the boxes are axis-aligned)
    heads = page.classes == 0  # notehead_black
    h = np.median(page.boxes[heads, 3] - page.boxes[heads, 1])
    assert 8 <= h <= 16


def test_training_runs_logs_and_saves(tiny_build, tmp_path):
    out = tmp_path / "det.pt"
    assert train_main(["--train", str(tiny_build), "--val", str(tiny_build),
                       "--cache", str(tmp_path / "cache"), "--steps", "2", "--batch", "2",
                       "--val-every", "2", "--save-every", "1", "--loader-workers", "0",
                       "--threads", "1", "--device", "auto", "--out", str(out)]) == 0
    model = load_model(out)
    assert model.meta["steps"] == 2
    rows = [json.loads(line) for line in out.with_suffix(".log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2 and "val_notehead_recall" in rows[-1]
    assert out.with_suffix(".resume").exists()


def test_focus_makes_a_class_a_crop_centre_more_often(tiny_build, tmp_path):
    from omr import vocab
    from omr.detect.train import parse_focus

    assert parse_focus("accidental_flat=3, rest_whole") == {"accidental_flat": 3.0, "rest_whole": 2.0}
    with pytest.raises(SystemExit, match="not a detected class"):
        parse_focus("no_such_class=2")
    ids = data.prepare(tiny_build, tmp_path / "prep", workers=1, progress=False)
    pages = data.load_pages(tmp_path / "prep", ids)
    classes = np.concatenate([p.classes for p in pages])
    head = vocab.index("notehead_black")
    plain = data.CropDataset(pages, samples=1)
    focused = data.CropDataset(pages, samples=1, focus={"notehead_black": 4.0})
    share = [float(d.symbol_weight[classes == head].sum()) for d in (plain, focused)]
    assert share[1] > share[0]
    # four times the weight of each notehead, against the same weight for the rest
    assert share[1] / (1 - share[1]) == pytest.approx(4 * share[0] / (1 - share[0]))


def test_time_bounded_runs_end_on_a_low_learning_rate():
    from omr.detect.train import lr_at

    assert lr_at(0, 100, 1.0, warmup=10) == 0.1
    # halfway through the steps but at the end of the time budget: the bottom
    assert lr_at(50, 100, 1.0, warmup=10, time_fraction=1.0) == 0.02
    # the steps lead when they are further along than the clock
    assert lr_at(100, 100, 1.0, warmup=10, time_fraction=0.1) == 0.02
    mid = lr_at(55, 100, 1.0, warmup=10, time_fraction=0.0)
    assert 0.4 < mid < 0.6 and lr_at(55, 100, 1.0, warmup=10, time_fraction=0.8) < mid


def test_small_photo_resampling_keeps_symbols_in_place():
    """The resampled crop is softer (and blocky after JPEG) but its ink stays where
    the targets say: a disc's centroid moves by under half a pixel."""
    import cv2

    img = np.full((320, 320), 255, np.uint8)
    cv2.ellipse(img, (101, 157), (7, 5), -20, 0, 360, 0, -1)
    cv2.line(img, (200, 40), (200, 280), 0, 2)

    def centroid(a, box):
        x0, y0, x1, y1 = box
        ink = 255.0 - a[y0:y1, x0:x1].astype(float)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        return (ink * xs).sum() / ink.sum(), (ink * ys).sum() / ink.sum()

    for seed in range(8):
        out = data.resample_small(img, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - img).max() > 40  # edges softened
        for box in ((80, 140, 122, 175), (190, 30, 211, 290)):
            (x, y), (x0, y0) = centroid(out, box), centroid(img, box)
            assert abs(x - x0) < 0.5 and abs(y - y0) < 0.5
