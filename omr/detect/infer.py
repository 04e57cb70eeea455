"""Run the shipped detector: photo → page analysis → network → detections.

>>> from omr.detect.infer import load_model, detect          # doctest: +SKIP
>>> result = detect("page.jpg", model=load_model())          # doctest: +SKIP
>>> result.detections[0]                                     # doctest: +SKIP
Detection(cls='clef_g', box=(212.0, 388.5, 268.1, 540.2), score=0.97)

The model is loaded once and passed in; nothing global is kept.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from omr import vocab
from omr.detect.data import image_to_input
from omr.detect.model import OUTPUT_STRIDE, Detector, ModelConfig
from omr.detect.refine import THIN_STROKE_CLASSES, settle_whole_half_rests, stroke_box_to_original
from omr.detect.types import Detection, DetectionResult
from omr.errors import ModelError, NoMusicError
from omr.page import STAFF_SPACE_NORM

#: Shipped checkpoint, inside the package.
DEFAULT_CHECKPOINT = "detector.pt"

#: Detections below this score are dropped (low enough for AP; later stages filter more).
DEFAULT_THRESHOLD = 0.25

#: At most this many detections per page.
MAX_DETECTIONS = 5000

#: The network sees the page in tiles of at most this many pixels a side (bounded
#: memory on huge pages), overlapping by TILE_OVERLAP_PX so that no symbol is cut.
TILE_PX = 2048
TILE_OVERLAP_PX = 256

#: Inputs are padded to a multiple of the network's largest stride.
PAD_MULTIPLE = 32

#: Orientation check: a page whose confident clefs (score >= CLEF_SCORE) add up to
#: less than UPRIGHT_CLEF_SUM may be upside down (the page analysis's 180-degree cue
#: is a heuristic); it is then also read turned by 180 degrees, and the turn is kept
#: when its clef score is higher by at least FLIP_MARGIN. The network was trained
#: on upright music only, so an upside-down clef does not look like a clef to it.
CLEF_SCORE = 0.3
UPRIGHT_CLEF_SUM = 2.0
FLIP_MARGIN = 0.5
#: Where their sums do not settle it, a clef at least this sure one way, with none
#: as sure the other way, does (the network sees weak clefs in upside-down music,
#: seldom a sure one).
SURE_CLEF_SCORE = 0.7
#: Where the clefs do not settle it, the turn is kept when the symbols that look
#: different upside down score this many times as much turned.
SHAPE_FLIP_RATIO = 1.5
ASYMMETRIC_ROLES = frozenset({"clef", "flag", "rest", "accidental", "dot", "key", "time"})
#: Quarter-turn check: where the page analysis was unsure which way the staff lines
#: run (``NormalizedPage.quarter_sure``), the page is also read turned a quarter, and
#: that is kept when its music (confident noteheads, and the symbols above) scores
#: this many times as much per square staff space of the page: the network reads
#: music only with its lines across. (Per area: a way up whose staff space was
#: measured on the grain of a dim photo is blown up to many times the page's area,
#: and the network finds noteheads in the grain.)
QUARTER_CHECK_RATIO = 1.25
_CLEFS = frozenset(vocab.names_with_role("clef"))


class LoadedDetector:
    """A network plus what it was trained with (classes, metadata)."""

    def __init__(self, net: Detector, classes: list[str], meta: dict,
                 device: torch.device = torch.device("cpu")):
        self.net, self.classes, self.meta, self.device = net, classes, meta, device

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(x)


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"cpu"`` (the target machine), ``"cuda"``, or ``"auto"`` (CUDA when torch sees
    a GPU) as a ``torch.device``; :class:`ModelError` for an unknown one or a GPU
    that is not there."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ModelError(f"unknown device {device!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for, but torch sees no GPU")
    return device


def load_model(path: str | Path | None = None, *, threads: int | None = None,
               device: str | torch.device = "cpu") -> LoadedDetector:
    """Load a detector checkpoint (default: the one shipped in ``omr/models``).

    ``device`` is where the network runs (:func:`resolve_device`). Decoding and
    everything after it run on the CPU either way.
    """
    device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    if path is None:
        ref = resources.files("omr.models") / DEFAULT_CHECKPOINT
        if not ref.is_file():
            raise ModelError("the shipped detector checkpoint omr/models/detector.pt is missing")
        path = Path(str(ref))
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many kinds for a damaged or foreign file
        raise ModelError(f"cannot load detector checkpoint {path}: {err}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != "omr-detector-1":
        raise ModelError(f"{path} is not an omr detector checkpoint")
    if list(ckpt["classes"]) != list(vocab.DETECTED_NAMES):
        raise ModelError(f"{path} was trained with another class table than omr/vocab.py")
    net = Detector(ModelConfig.from_dict(ckpt["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in ckpt["state_dict"].items()})
    net.eval()
    net = net.to(device=device, memory_format=torch.channels_last)
    return LoadedDetector(net, list(ckpt["classes"]), ckpt.get("meta", {}), device)


def decode(out: dict[str, torch.Tensor], *, threshold: float = DEFAULT_THRESHOLD,
           max_detections: int = MAX_DETECTIONS, staff_space: float | None = None
           ) -> list[tuple[int, tuple[float, float, float, float], float]]:
    """Network output for ONE image → ``(class index, box in input px, score)``.

    Peaks are local maxima (3x3) of the class heatmaps above ``threshold``.
    """
    ss = staff_space or STAFF_SPACE_NORM
    heat = torch.sigmoid(out["heatmap"][0])
    peaks = heat == F.max_pool2d(heat[None], 3, stride=1, padding=1)[0]
    keep = peaks & (heat >= threshold)
    cls, ys, xs = torch.nonzero(keep, as_tuple=True)
    scores = heat[cls, ys, xs]
    if len(scores) > max_detections:
        top = torch.topk(scores, max_detections).indices
        cls, ys, xs, scores = cls[top], ys[top], xs[top], scores[top]
    size = torch.exp(out["size"][0][:, ys, xs]) * ss
    off = out["offset"][0][:, ys, xs]
    cx = (xs.float() + off[0]) * OUTPUT_STRIDE
    cy = (ys.float() + off[1]) * OUTPUT_STRIDE
    boxes = torch.stack([cx - size[0] / 2, cy - size[1] / 2, cx + size[0] / 2, cy + size[1] / 2], 1)
    return [(int(c), tuple(float(v) for v in b), float(s))
            for c, b, s in zip(cls.tolist(), boxes.tolist(), scores.tolist())]


def _tiles(length: int) -> list[int]:
    if length <= TILE_PX:
        return [0]
    step = TILE_PX - TILE_OVERLAP_PX
    starts = list(range(0, length - TILE_PX, step)) + [length - TILE_PX]
    return sorted(set(starts))


def _tile_spans(length: int) -> list[tuple[int, float, float]]:
    """``(start, own_from, own_to)`` of each tile along a side of ``length`` px: a
    tile owns the page up to the middle of its overlap with each neighbour, so a
    symbol in an overlap is kept once, from the tile that has it furthest from its
    edge. (The last tile is moved back to end at the page's edge, so its overlap
    with the one before can be far wider than ``TILE_OVERLAP_PX``.)"""
    starts = _tiles(length)
    bounds = [0.0] + [(b + a + TILE_PX) / 2 for a, b in zip(starts, starts[1:])] + [float(length)]
    return [(s, bounds[k], bounds[k + 1]) for k, s in enumerate(starts)]


@torch.no_grad()
def detect_normalized(model: LoadedDetector, gray: np.ndarray, *,
                      threshold: float = DEFAULT_THRESHOLD) -> list[Detection]:
    """Detections on a normalized page image (uint8 grey, paper white), in its pixels."""
    h, w = gray.shape
    found: list[Detection] = []
    for y0, lo_y, hi_y in _tile_spans(h):
        for x0, lo_x, hi_x in _tile_spans(w):
            tile = gray[y0:y0 + TILE_PX, x0:x0 + TILE_PX]
            th, tw = tile.shape
            ph, pw = -th % PAD_MULTIPLE, -tw % PAD_MULTIPLE
            x = torch.from_numpy(image_to_input(tile))[None].to(model.device)
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph))
            out = model(x.contiguous(memory_format=torch.channels_last))
            for c, (bx0, by0, bx1, by1), s in decode(out, threshold=threshold):
                cx, cy = x0 + (bx0 + bx1) / 2, y0 + (by0 + by1) / 2
                if lo_x <= cx < hi_x and lo_y <= cy < hi_y:
                    found.append(Detection(model.classes[c],
                                           (bx0 + x0, by0 + y0, bx1 + x0, by1 + y0), s))
    return found


def _clef_score(detections: list[Detection]) -> float:
    return sum(d.score for d in detections if d.cls in _CLEFS and d.score >= CLEF_SCORE)


def _shape_score(detections: list[Detection]) -> float:
    """Summed scores of the symbols that look different turned by 180 degrees
    (``ASYMMETRIC_ROLES``; a notehead or a stem does not)."""
    return sum(d.score for d in detections if d.score >= CLEF_SCORE and vocab.CLASSES[d.cls].role in ASYMMETRIC_ROLES)


def _turned_is_upright(as_is: list[Detection], turned: list[Detection]) -> bool:
    """Whether the page turned by 180 degrees reads as upright music rather than the
    page as it is: by its clefs (their sums, else a sure one only one way:
    ``SURE_CLEF_SCORE``), or, where the clefs do not settle it (a photo that cut off
    the staves' starts shows none), by its flags, rests, accidentals, dots, key and
    time signatures (``SHAPE_FLIP_RATIO``)."""
    c0, c1 = _clef_score(as_is), _clef_score(turned)
    if c1 >= c0 + FLIP_MARGIN:
        return True
    if c0 >= c1 + FLIP_MARGIN:
        return False
    s0, s1 = (max((d.score for d in ds if d.cls in _CLEFS), default=0.0) for ds in (as_is, turned))
    if (s0 >= SURE_CLEF_SCORE) != (s1 >= SURE_CLEF_SCORE):
        return s1 >= SURE_CLEF_SCORE
    return _shape_score(turned) >= SHAPE_FLIP_RATIO * max(_shape_score(as_is), 1.0)


def _music_score(detections: list[Detection]) -> float:
    """Summed scores of the confident noteheads and of the symbols that look different
    upside down (see :func:`_shape_score`): what a page read the wrong quarter turn lacks."""
    heads = sum(d.score for d in detections if d.score >= CLEF_SCORE and vocab.CLASSES[d.cls].role == "notehead")
    return heads + _shape_score(detections)


def check_quarter_turn(model: LoadedDetector, rgb: np.ndarray, page, normalized: list[Detection], *,
                       threshold: float = DEFAULT_THRESHOLD):
    """``(page, detections)`` as given, or the photo ``rgb`` normalized and read the
    other quarter turn where the page analysis was unsure of its own
    (``page.quarter_sure`` False) and the music reads clearly better that way
    (``QUARTER_CHECK_RATIO``)."""
    from omr import page as page_mod

    if page.quarter_sure:
        return page, normalized
    try:
        other_page = page_mod.normalize(rgb, turned=page.rotation in (0, 180))
    except NoMusicError:  # no staff lines the other way up
        return page, normalized
    other = detect_normalized(model, other_page.image, threshold=threshold)
    if _reads_better(other, other_page, normalized, page):
        return other_page, other
    return page, normalized


def _reads_better(other: list[Detection], other_page, normalized: list[Detection], page) -> bool:
    """Whether ``other`` (detections on ``other_page``) reads as music
    ``QUARTER_CHECK_RATIO`` times as well as ``normalized`` (on ``page``), per
    square staff space of each normalized page (see :func:`_music_score`)."""
    def area(p) -> float:
        return p.image.shape[0] * p.image.shape[1] / p.staff_space_norm ** 2

    a, b = area(other_page), area(page)
    return _music_score(other) / a >= QUARTER_CHECK_RATIO * max(_music_score(normalized), 1.0) / b


def turn_half(page):
    """The normalized page turned by 180 degrees, its mapping to the photo updated.

    ``to_original`` maps pixel centres (as everything in :mod:`omr.page` does), so the
    turned page's pixel ``x`` is the page's pixel ``w - 1 - x``."""
    import dataclasses

    h, w = page.image.shape
    flip = np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]])
    return dataclasses.replace(page, image=np.ascontiguousarray(page.image[::-1, ::-1]),
                               to_original=page.to_original @ flip,
                               rotation=(page.rotation + 180) % 360)


def detect(image, *, model: LoadedDetector | None = None,
           threshold: float = DEFAULT_THRESHOLD, turned: bool | None = None) -> DetectionResult:
    """Photo (path, bytes or RGB array) → :class:`DetectionResult`.

    Where the page analysis was unsure of the quarter turn, the page is read both
    ways (see ``QUARTER_CHECK_RATIO``); where its clefs are weak, also upside down
    (``UPRIGHT_CLEF_SUM``). ``turned`` settles the quarter turn instead (see
    :func:`omr.page.normalize`). Whole and half rests are then classed by the
    line they touch (:func:`omr.detect.refine.settle_whole_half_rests`), and a single
    barline's box is mapped to the photo along its stroke
    (:func:`omr.detect.refine.stroke_box_to_original`).

    Raises :class:`omr.errors.ImageError` for an unreadable image and
    :class:`omr.errors.NoMusicError` when there are no staves.
    """
    from omr import page as page_mod

    timings = {}
    t = time.perf_counter()
    model = model or load_model()
    rgb = page_mod.load_image(image)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    page = page_mod.normalize(rgb, turned=turned)
    timings["page"] = time.perf_counter() - t
    t = time.perf_counter()
    normalized = detect_normalized(model, page.image, threshold=threshold)
    if turned is None:
        page, normalized = check_quarter_turn(model, rgb, page, normalized, threshold=threshold)
    if _clef_score(normalized) < UPRIGHT_CLEF_SUM:
        upside_down = turn_half(page)
        other = detect_normalized(model, upside_down.image, threshold=threshold)
        if _turned_is_upright(normalized, other):
            page, normalized = upside_down, other
    timings["network"] = time.perf_counter() - t
    t = time.perf_counter()
    normalized = settle_whole_half_rests(normalized, page.image, staff_space=page.staff_space_norm)
    boxes = np.array([d.box for d in normalized], np.float64).reshape(-1, 4)
    original = page.boxes_to_original(boxes) if len(boxes) else boxes
    w, h = page.original_size
    for k, d in enumerate(normalized):  # a thin stroke along its axis, not by its box's corners
        stroke = stroke_box_to_original(page, page.image, d.box) if d.cls in THIN_STROKE_CLASSES else None
        if stroke is not None:
            original[k] = np.clip(stroke, 0, [w, h, w, h])
    detections = [Detection(d.cls, tuple(float(v) for v in b), d.score)
                  for d, b in zip(normalized, original)]
    timings["decode"] = time.perf_counter() - t
    h, w = rgb.shape[:2]
    return DetectionResult(image_size=(w, h), staff_space=page.staff_space,
                           detections=detections, normalized=normalized, page=page,
                           timings=timings)
