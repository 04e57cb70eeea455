"""Training data for the detector, made from a ``python -m synth build`` data set.

Two steps:

1. :func:`prepare` turns each camera page of a build into what the network sees at
   inference: grey, rescaled so one staff space is ``STAFF_SPACE_NORM`` px, lighting
   flattened (:func:`omr.page.flatten_illumination`), plus its boxes in that frame.
   The photo is *not* dewarped: the remaining perspective and bend teach the network
   to cope with an imperfect page analysis. Pages are cached as ``.npy`` + JSON.
2. :class:`CropDataset` draws random training crops from the prepared pages, centred
   on a symbol chosen with class-balanced weights (rare classes such as a coda sign
   are seen far more often than their share of ink), with scale and contrast jitter
   and, for some, the blur and blocks of a small photo enlarged
   (:func:`resample_small`), and renders the CenterNet targets (:func:`render_targets`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from omr import vocab
from omr.detect.model import OUTPUT_STRIDE
from omr.page import STAFF_SPACE_NORM, flatten_illumination

#: Side of a training crop, in normalized pixels (32 staff spaces).
CROP_PX = 320

#: Scale jitter of a crop: the network must tolerate staff-space estimates this far off.
SCALE_JITTER = (0.85, 1.18)

#: Class-balancing exponent: a symbol of class c is chosen as crop centre with
#: weight ``count(c) ** -BALANCE``; 0 = no balancing, 1 = every class equally often.
BALANCE = 0.6

#: Small-photo resampling (``CropDataset(resample=...)``, ``--resample`` in training,
#: 0.3 when used): that share of crops are shrunk as if the photo had had only
#: this fraction of the normalized staff space, compressed again as JPEG (as a
#: messaging app sends a photo on), and enlarged back with linear or cubic
#: interpolation, as the page analysis does with a photo of small staves.
RESAMPLE_SHRINK = (0.55, 0.95)
RESAMPLE_JPEG_PROB = 0.7
RESAMPLE_JPEG_QUALITY = (45, 90)

#: Smallest Gaussian spread of a centre, in output cells.
MIN_SIGMA_CELLS = 0.6

#: Gaussian spread as a fraction of the box side (CenterNet's radius rule, simplified).
SIGMA_PER_SIDE = 1.0 / 6.0

_CLASS_INDEX = {name: i for i, name in enumerate(vocab.DETECTED_NAMES)}


# ------------------------------------------------------------------ preparation


def camera_staff_space(record: dict) -> float:
    """Staff space in the camera photo's pixels, from the recorded camera geometry
    (median over a 3x3 grid of page points of how far one staff space moves)."""
    from synth import camera

    params = camera.CameraParams.from_dict(record["camera"]["params"])
    ss = float(record["staff_space_px"])
    h, w = record["camera"]["params"]["source_shape"][:2]
    lengths = []
    for fx in (0.25, 0.5, 0.75):
        for fy in (0.25, 0.5, 0.75):
            p = np.array([[w * fx, h * fy], [w * fx + ss, h * fy], [w * fx, h * fy + ss]])
            q = camera.warp_points(p, params)
            lengths += list(np.linalg.norm(q[1:] - q[0], axis=1))
    return float(np.median(lengths))


def rescale_to_norm(gray: np.ndarray, staff_space_px: float) -> tuple[np.ndarray, tuple[float, float]]:
    """A grey photo rescaled (no dewarp) so one staff space is ``STAFF_SPACE_NORM`` px,
    lighting flattened: the training frame. Returns the image and the (x, y) scale
    from photo to normalized pixels."""
    scale = STAFF_SPACE_NORM / staff_space_px
    h, w = gray.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = flatten_illumination(cv2.resize(gray, size, interpolation=interp), STAFF_SPACE_NORM)
    return image, (size[0] / w, size[1] / h)


def prepare_page(record_path: Path, record: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One camera page → (normalized grey image, boxes (N,4) float32, classes (N,) int16)."""
    photo = Path(record_path).parent / record["camera"]["image"]
    gray = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise FileNotFoundError(photo)
    image, (sx, sy) = rescale_to_norm(gray, camera_staff_space(record))
    boxes, classes = [], []
    for s in record["camera"]["symbols"]:
        if s["cls"] not in _CLASS_INDEX:
            continue
        x0, y0, x1, y1 = s["box"]
        boxes.append((x0 * sx, y0 * sy, x1 * sx, y1 * sy))
        classes.append(_CLASS_INDEX[s["cls"]])
    return (image, np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int16))


def _prepare_one(args) -> str | None:
    rec_path, out_dir = args
    record = json.loads(Path(rec_path).read_text())
    if "camera" not in record:
        return None
    pid = record["id"]
    if (out_dir / f"{pid}.json").exists():
        return pid
    image, boxes, classes = prepare_page(rec_path, record)
    np.save(out_dir / f"{pid}.npy", image)
    (out_dir / f"{pid}.json").write_text(json.dumps(
        {"id": pid, "boxes": boxes.round(2).tolist(), "classes": classes.tolist(),
         "source": record.get("source")}))
    return pid


def prepare(build_dir: str | Path, out_dir: str | Path, *, workers: int = 2,
            limit: int | None = None, progress: bool = True) -> list[str]:
    """Prepare every camera page of ``build_dir`` into ``out_dir`` (skips done ones)."""
    from multiprocessing import Pool

    build_dir, out_dir = Path(build_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = (build_dir / "index.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines if line.strip()][:limit]
    jobs = [(str(build_dir / r["record"]), out_dir) for r in recs]
    done = []
    with Pool(workers) as pool:
        for i, pid in enumerate(pool.imap_unordered(_prepare_one, jobs, chunksize=4)):
            if pid:
                done.append(pid)
            if progress and (i + 1) % 50 == 0:
                print(f"prepared {i + 1}/{len(jobs)} pages", flush=True)
    return sorted(done)


# ------------------------------------------------------------------ training crops


@dataclass
class Page:
    image: np.ndarray     # uint8 normalized grey
    boxes: np.ndarray     # (N, 4) normalized px
    classes: np.ndarray   # (N,)


def load_pages(prepared_dir: str | Path, ids: list[str] | None = None) -> list[Page]:
    d = Path(prepared_dir)
    ids = ids or sorted(p.stem for p in d.glob("*.json"))
    pages = []
    for pid in ids:
        meta = json.loads((d / f"{pid}.json").read_text())
        pages.append(Page(np.load(d / f"{pid}.npy"),
                          np.array(meta["boxes"], np.float32).reshape(-1, 4),
                          np.array(meta["classes"], np.int64)))
    return pages


def render_targets(boxes: np.ndarray, classes: np.ndarray, out_h: int, out_w: int,
                   n_classes: int = len(vocab.DETECTED_NAMES)) -> dict[str, np.ndarray]:
    """CenterNet targets for boxes given in *input* pixels of a crop.

    Returns ``heatmap`` (C, h, w) with a Gaussian peak of 1 at each centre cell,
    ``size`` (2, h, w) log width/height in staff spaces, ``offset`` (2, h, w) the
    centre's sub-cell position, and ``mask`` (h, w) = 1 where size/offset apply.
    """
    heat = np.zeros((n_classes, out_h, out_w), np.float32)
    size = np.zeros((2, out_h, out_w), np.float32)
    offset = np.zeros((2, out_h, out_w), np.float32)
    mask = np.zeros((out_h, out_w), np.float32)
    for (x0, y0, x1, y1), c in zip(boxes, classes):
        cx, cy = (x0 + x1) / 2 / OUTPUT_STRIDE, (y0 + y1) / 2 / OUTPUT_STRIDE
        ix, iy = int(cx), int(cy)
        if not (0 <= ix < out_w and 0 <= iy < out_h):
            continue
        bw, bh = max(x1 - x0, 0.5), max(y1 - y0, 0.5)
        sx = max(MIN_SIGMA_CELLS, bw / OUTPUT_STRIDE * SIGMA_PER_SIDE)
        sy = max(MIN_SIGMA_CELLS, bh / OUTPUT_STRIDE * SIGMA_PER_SIDE)
        rx, ry = int(math.ceil(3 * sx)), int(math.ceil(3 * sy))
        xa, xb = max(0, ix - rx), min(out_w, ix + rx + 1)
        ya, yb = max(0, iy - ry), min(out_h, iy + ry + 1)
        gx = np.exp(-((np.arange(xa, xb) - ix) ** 2) / (2 * sx * sx))
        gy = np.exp(-((np.arange(ya, yb) - iy) ** 2) / (2 * sy * sy))
        np.maximum(heat[c, ya:yb, xa:xb], gy[:, None] * gx[None, :], out=heat[c, ya:yb, xa:xb])
        size[:, iy, ix] = (math.log(bw / STAFF_SPACE_NORM), math.log(bh / STAFF_SPACE_NORM))
        offset[:, iy, ix] = (cx - ix, cy - iy)
        mask[iy, ix] = 1.0
    return {"heatmap": heat, "size": size, "offset": offset, "mask": mask}


class CropDataset(torch.utils.data.Dataset):
    """Random class-balanced crops; ``len`` is nominal (samples per epoch)."""

    def __init__(self, pages: list[Page], *, samples: int, seed: int = 0,
                 crop: int = CROP_PX, augment: bool = True,
                 focus: dict[str, float] | None = None, resample: float = 0.0):
        """``focus`` maps class names to extra factors on their crop-centre weight
        (a fine-tuning stage aimed at the classes that lag); ``resample`` is the
        share of crops made to look like a small photo enlarged
        (:func:`resample_small`)."""
        self.pages, self.samples, self.seed, self.crop, self.augment = (
            pages, samples, seed, crop, augment)
        self.resample = resample
        counts = np.bincount(np.concatenate([p.classes for p in pages]),
                             minlength=len(vocab.DETECTED_NAMES)).astype(np.float64)
        weight_of_class = np.where(counts > 0, np.maximum(counts, 1) ** -BALANCE, 0)
        for name, factor in (focus or {}).items():
            weight_of_class[vocab.index(name)] *= factor
        self.symbol_page = np.concatenate([np.full(len(p.classes), i) for i, p in enumerate(pages)])
        self.symbol_index = np.concatenate([np.arange(len(p.classes)) for p in pages])
        w = weight_of_class[np.concatenate([p.classes for p in pages])]
        self.symbol_weight = w / w.sum()
        self.epoch = 0

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        k = rng.choice(len(self.symbol_weight), p=self.symbol_weight)
        page = self.pages[self.symbol_page[k]]
        x0, y0, x1, y1 = page.boxes[self.symbol_index[k]]
        scale = rng.uniform(*SCALE_JITTER) if self.augment else 1.0
        win = self.crop / scale                       # source window side, px
        cx = (x0 + x1) / 2 + rng.uniform(-0.4, 0.4) * win
        cy = (y0 + y1) / 2 + rng.uniform(-0.4, 0.4) * win
        left, top = cx - win / 2, cy - win / 2
        m = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], np.float32)
        img = cv2.warpAffine(page.image, m, (self.crop, self.crop),
                             flags=cv2.INTER_LINEAR, borderValue=255)
        boxes = page.boxes.copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - left) * scale
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - top) * scale
        if self.augment:
            img = _photometric(img, rng)
            if rng.random() < self.resample:
                img = resample_small(img, rng)
        t = render_targets(boxes, page.classes, self.crop // OUTPUT_STRIDE,
                           self.crop // OUTPUT_STRIDE)
        x = torch.from_numpy(image_to_input(img))
        return x, {k: torch.from_numpy(v) for k, v in t.items()}


def _photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild contrast/gamma/noise jitter on top of the camera simulation."""
    f = img.astype(np.float32) / 255.0
    f = f ** rng.uniform(0.7, 1.4)
    lo = rng.uniform(0.0, 0.25)
    f = lo + (1 - lo) * f
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.3, 0.9))
    if rng.random() < 0.3:
        f = f + rng.normal(0, rng.uniform(0.01, 0.06), f.shape).astype(np.float32)
    return np.clip(f * 255, 0, 255).astype(np.uint8)


def resample_small(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop as a photo with smaller staves would reach the network.

    Shrunk by a factor in ``RESAMPLE_SHRINK`` (area averaging, as the camera's
    sensor does), compressed as JPEG with probability ``RESAMPLE_JPEG_PROB`` at a
    quality in ``RESAMPLE_JPEG_QUALITY``, and enlarged back to its size with linear
    or cubic interpolation. Symbols keep their place and size, so the targets hold.

    >>> rng = np.random.default_rng(0)
    >>> resample_small(np.full((64, 64), 255, np.uint8), rng).shape
    (64, 64)
    """
    h, w = img.shape
    f = rng.uniform(*RESAMPLE_SHRINK)
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    if rng.random() < RESAMPLE_JPEG_PROB:
        quality = int(rng.integers(RESAMPLE_JPEG_QUALITY[0], RESAMPLE_JPEG_QUALITY[1] + 1))
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            small = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    interp = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(small, (w, h), interpolation=interp)


def image_to_input(gray: np.ndarray) -> np.ndarray:
    """uint8 grey (paper white) → float32 (1, H, W) with ink = 1, paper = 0."""
    return (1.0 - gray.astype(np.float32) / 255.0)[None]
