"""Object-detection metrics for music symbols, in the style of ``mir_eval``.

Inputs
------
``reference`` is a list with one item per image; each item is a list of reference
symbols ``(cls, box)``. ``estimated`` is a list of the same length; each item is a
list of detections ``(cls, box, score)``. A ``box`` is ``(x0, y0, x1, y1)`` in pixels
with ``x1 >= x0`` and ``y1 >= y0`` (continuous coordinates: a box's area is
``(x1 - x0) * (y1 - y0)``). Instead of tuples, items may be
:class:`omr.detect.types.Detection` objects (anything with ``cls``, ``box`` and
``score`` attributes) or dicts ``{"cls", "box", "score"}`` as in the JSON of
``omr detect`` and the synth page records (a reference's ``score``, if any, is
ignored). Class names are usually those of :mod:`omr.vocab`; other names are
evaluated too but belong to no role group.

Matching
--------
Per image and per class, detections are taken in order of decreasing score (ties
keep their input order); each takes the still unmatched reference of its class with
the highest IoU, if that IoU is at least ``iou_threshold``, and is a true positive;
otherwise it is a false positive. A reference is matched at most once, so a duplicate
detection of a found symbol is a false positive. (This is COCO's greedy rule; the
PASCAL VOC devkit instead counts a detection whose best reference is already taken
as a false positive even when another reference would fit. They differ only for
overlapping references of one class.)

Average precision
-----------------
Detections of a class from all images are pooled and ranked by score; AP is the
area under the precision-recall curve with PASCAL VOC's all-point interpolation
(precision made monotone from the right, summed at every recall step). It is
``nan`` for a class without references (a class the images do not contain has no
recall to measure; its false positives are not scored). Detections of classes that
the reference never contains are ignored by :func:`evaluate`.

Thin symbols (stems, barlines, ledger lines) are a few pixels wide, so a one-pixel
shift already costs much IoU; read their APs with that in mind, or evaluate them at
a lower ``iou_threshold``.

Examples
--------
>>> ref = [[("notehead_black", (10, 10, 20, 18)), ("rest_quarter", (40, 5, 48, 25))]]
>>> est = [[("notehead_black", (11, 10, 21, 18), 0.9), ("rest_quarter", (0, 0, 5, 5), 0.8)]]
>>> scores = evaluate(ref, est)
>>> scores["AP/notehead_black"], scores["AP/rest_quarter"], scores["mAP"]
(1.0, 0.0, 0.5)
>>> scores["mAP/notehead"], scores["n_ref/rest_quarter"]
(1.0, 1)
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from omr import vocab
from omr.errors import ParameterError

#: Default IoU at which a detection matches a reference.
IOU_THRESHOLD = 0.5
#: Default score at which :func:`evaluate` reports precision and recall.
SCORE_THRESHOLD = 0.5
#: Reference symbols of one class whose boxes overlap at least this much are one
#: printed glyph (see :func:`merge_coincident`).
COINCIDENT_IOU = 0.9

__all__ = [
    "COINCIDENT_IOU",
    "IOU_THRESHOLD",
    "SCORE_THRESHOLD",
    "average_precision",
    "evaluate",
    "iou_matrix",
    "match",
    "covered_part",
    "overlap_of_smaller",
    "merge_coincident",
    "validate",
]


# ----------------------------------------------------------------------- validation


def validate(reference, estimated) -> None:
    """Check that ``reference`` and ``estimated`` are well formed (see the module doc).

    Raises :class:`omr.errors.ParameterError` naming the first bad item: lists of
    different lengths, an image item that is not a list, a symbol without class or
    box, a class that is not a string, a box that is not four finite numbers or has
    negative size, a missing or non-finite score.

    >>> validate([[("clef_g", (0, 0, 10, 30))]], [[]])
    >>> validate([[("clef_g", (0, 0, 10, 30))]], [])
    Traceback (most recent call last):
    ...
    omr.errors.ParameterError: reference has 1 images but estimated has 0; give one list of symbols per image in both
    >>> validate([[("clef_g", (10, 0, 0, 30))]], [[]])
    Traceback (most recent call last):
    ...
    omr.errors.ParameterError: reference[0][0]: box (10.0, 0.0, 0.0, 30.0) has negative size (need x1 >= x0 and y1 >= y0)
    """
    _prepare(reference, estimated)


def _is_list_like(x) -> bool:
    return isinstance(x, (Sequence, np.ndarray)) and not isinstance(x, (str, bytes))


def _prepare(reference, estimated):
    """Validate and convert to per-image dicts: class -> boxes (n, 4) for the reference,
    class -> (boxes (m, 4), scores (m,)) for the estimate."""
    for name, value in (("reference", reference), ("estimated", estimated)):
        if not _is_list_like(value):
            raise ParameterError(f"{name} must be a list with one list of symbols per image, "
                                 f"got {type(value).__name__}")
    if len(reference) != len(estimated):
        raise ParameterError(f"reference has {len(reference)} images but estimated has "
                             f"{len(estimated)}; give one list of symbols per image in both")
    ref_images = [_image(item, f"reference[{i}]", scored=False) for i, item in enumerate(reference)]
    est_images = [_image(item, f"estimated[{i}]", scored=True) for i, item in enumerate(estimated)]
    return ref_images, est_images


def _image(item, where: str, *, scored: bool) -> dict:
    if not _is_list_like(item):
        raise ParameterError(f"{where} must be a list of symbols, got {type(item).__name__}")
    boxes: dict[str, list] = {}
    scores: dict[str, list] = {}
    for k, symbol in enumerate(item):
        cls, box, score = _symbol(symbol, f"{where}[{k}]", scored=scored)
        boxes.setdefault(cls, []).append(box)
        scores.setdefault(cls, []).append(score)
    if not scored:
        return {c: np.array(b, dtype=np.float64).reshape(-1, 4) for c, b in boxes.items()}
    return {c: (np.array(b, dtype=np.float64).reshape(-1, 4), np.array(scores[c], dtype=np.float64))
            for c, b in boxes.items()}


def _symbol(symbol, where: str, *, scored: bool):
    score = None
    if isinstance(symbol, Mapping):
        if "cls" not in symbol or "box" not in symbol:
            keys = "'cls', 'box' and 'score'" if scored else "'cls' and 'box'"
            raise ParameterError(f"{where}: a symbol dict needs keys {keys}, got {sorted(symbol)}")
        cls, box, score = symbol["cls"], symbol["box"], symbol.get("score")
    elif hasattr(symbol, "cls") and hasattr(symbol, "box"):
        cls, box, score = symbol.cls, symbol.box, getattr(symbol, "score", None)
    elif _is_list_like(symbol) and len(symbol) in ((3,) if scored else (2, 3)):
        cls, box = symbol[0], symbol[1]
        score = symbol[2] if len(symbol) == 3 else None
    else:
        shape = "(cls, box, score)" if scored else "(cls, box)"
        raise ParameterError(f"{where}: expected {shape}, a dict or a Detection, got {symbol!r}")
    if not isinstance(cls, str):
        raise ParameterError(f"{where}: class must be a string, got {cls!r}")
    box = _box(box, where)
    if scored:
        try:
            score = float(score)
        except (TypeError, ValueError):
            raise ParameterError(f"{where}: score must be a number, got {score!r}") from None
        if not math.isfinite(score):
            raise ParameterError(f"{where}: score must be finite, got {score}")
    return cls, box, score


def _box(box, where: str) -> tuple[float, float, float, float]:
    try:
        values = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: box must be four numbers (x0, y0, x1, y1), got {box!r}") from None
    if values.shape != (4,):
        raise ParameterError(f"{where}: box must be four numbers (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in values)
    if not np.isfinite(values).all():
        raise ParameterError(f"{where}: box {(x0, y0, x1, y1)} is not finite")
    if x1 < x0 or y1 < y0:
        raise ParameterError(f"{where}: box {(x0, y0, x1, y1)} has negative size "
                             "(need x1 >= x0 and y1 >= y0)")
    return x0, y0, x1, y1


def _intersections(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (N, M) intersection areas of boxes ``a`` (N, 4) and ``b`` (M, 4), and each
    one's areas."""
    a = _boxes_array(a, "a")
    b = _boxes_array(b, "b")
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    return inter, (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _boxes_array(boxes, name: str) -> np.ndarray:
    a = np.asarray(boxes, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, 4)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ParameterError(f"{name} must be an (N, 4) array of x0, y0, x1, y1, got shape {a.shape}")
    return a


# ---------------------------------------------------------------------- matching

def merge_coincident(reference, iou_threshold: float = COINCIDENT_IOU) -> tuple[list, dict]:
    """``reference`` with the symbols of one class that lie on top of each other kept
    once, and how many were dropped per class.

    An engraver draws some symbols once per voice at the same place: where both
    voices of a staff rest for a whole measure, verovio prints two whole rests with
    the same box, and the photo shows one glyph. No detector can find the second, so
    scored as two they cap the class's recall (on the seed-3 synth test build, 5 of
    95 whole rests and 4 of 8 breve rests are such second copies). Symbols of one
    image and class whose IoU with a symbol kept before them is at least
    ``iou_threshold`` are dropped; the rest keep their order and form.

    >>> ref = [[("rest_whole", (0, 0, 10, 5)), ("rest_whole", (0, 0, 10, 5)),
    ...         ("rest_whole", (20, 0, 30, 5)), ("rest_half", (0, 0, 10, 5))]]
    >>> merged, dropped = merge_coincident(ref)
    >>> [cls for cls, _ in merged[0]], dropped
    (['rest_whole', 'rest_whole', 'rest_half'], {'rest_whole': 1})
    """
    _check_iou_threshold(iou_threshold)
    if not _is_list_like(reference):
        raise ParameterError("reference must be a list with one list of symbols per image, "
                             f"got {type(reference).__name__}")
    merged, dropped = [], {}
    for i, item in enumerate(reference):
        if not _is_list_like(item):
            raise ParameterError(f"reference[{i}] must be a list of symbols, got {type(item).__name__}")
        kept, kept_boxes = [], {}
        for k, symbol in enumerate(item):
            cls, box, _ = _symbol(symbol, f"reference[{i}][{k}]", scored=False)
            before = kept_boxes.setdefault(cls, [])
            if before and iou_matrix([box], before).max() >= iou_threshold:
                dropped[cls] = dropped.get(cls, 0) + 1
                continue
            before.append(box)
            kept.append(symbol)
        merged.append(kept)
    return merged, dropped



def widen_thin(boxes, min_side: float) -> np.ndarray:
    """Boxes with a side shorter than ``min_side`` widened to it about their centre.

    A barline or stem is one or two pixels wide, so a half-pixel offset alone
    halves its IoU; widening both the reference and the estimate to, say, half a
    staff space before matching measures whether the symbol was found where it is,
    not sub-pixel jitter. Benchmarks report it next to the plain AP.

    >>> widen_thin([[10, 0, 11, 40]], 4.0).tolist()
    [[8.5, 0.0, 12.5, 40.0]]
    """
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    for lo, hi in ((0, 2), (1, 3)):
        c = (b[:, lo] + b[:, hi]) / 2
        half = np.maximum((b[:, hi] - b[:, lo]) / 2, min_side / 2)
        b[:, lo], b[:, hi] = c - half, c + half
    return b


def iou_matrix(a, b) -> np.ndarray:
    """Intersection over union of every box of ``a`` (N, 4) with every box of ``b`` (M, 4).

    Returns an (N, M) float array. Two boxes whose union has zero area (degenerate
    boxes) have IoU 0.

    >>> iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    array([[1.        , 0.33333333, 0.        ]])
    """
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def covered_part(a, b) -> np.ndarray:
    """The part of each box of ``a`` (N, 4) that each box of ``b`` (M, 4) covers: 1
    where the box of ``a`` lies inside the box of ``b``, whatever their sizes.

    >>> covered_part([[2, 2, 6, 6], [0, 0, 10, 10]], [[0, 0, 10, 5]])
    array([[0.75],
           [0.5 ]])
    """
    inter, area_a, _ = _intersections(a, b)
    out = np.zeros_like(inter)
    np.divide(inter, area_a[:, None], out=out, where=area_a[:, None] > 0)
    return out


def overlap_of_smaller(a, b) -> np.ndarray:
    """The part of the smaller box their intersection covers, for every box of ``a``
    (N, 4) with every box of ``b`` (M, 4): 1 where one box lies inside the other,
    however much larger it is (where :func:`iou_matrix` may stay under 0.5).

    >>> overlap_of_smaller([[0, 0, 10, 10]], [[2, 2, 6, 6], [5, 0, 15, 10], [20, 20, 30, 30]])
    array([[1. , 0.5, 0. ]])
    """
    inter, area_a, area_b = _intersections(a, b)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    out = np.zeros_like(inter)
    np.divide(inter, smaller, out=out, where=smaller > 0)
    return out


def _greedy(ref_boxes: np.ndarray, est_boxes: np.ndarray, scores: np.ndarray,
            iou_threshold: float) -> np.ndarray:
    """For each estimate (input order), the index of the reference it matched or -1."""
    matched = np.full(len(est_boxes), -1, dtype=np.int64)
    if len(ref_boxes) == 0 or len(est_boxes) == 0:
        return matched
    iou = iou_matrix(ref_boxes, est_boxes)
    free = np.ones(len(ref_boxes), dtype=bool)
    for j in np.argsort(-scores, kind="stable"):
        column = np.where(free, iou[:, j], -1.0)
        i = int(np.argmax(column))
        if column[i] >= iou_threshold:
            matched[j] = i
            free[i] = False
    return matched


def match(reference_boxes, estimated_boxes, scores, iou_threshold: float = IOU_THRESHOLD
          ) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of boxes of one class in one image.

    Estimates are taken by decreasing score (ties in input order); each takes the
    unmatched reference with the highest IoU if that IoU is ``>= iou_threshold``.

    Returns ``(reference_index, estimate_index)`` pairs in the order the estimates
    were matched (decreasing score). Unmatched estimates are false positives,
    unmatched references misses.

    >>> ref = [[0, 0, 10, 10], [20, 0, 30, 10]]
    >>> est = [[21, 0, 31, 10], [0, 0, 10, 10], [1, 0, 11, 10]]
    >>> match(ref, est, [0.5, 0.9, 0.8])
    [(0, 1), (1, 0)]
    """
    ref = _boxes_array(reference_boxes, "reference_boxes")
    est = _boxes_array(estimated_boxes, "estimated_boxes")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(est):
        raise ParameterError(f"{len(est)} estimated boxes but {len(s)} scores")
    if not (np.isfinite(ref).all() and np.isfinite(est).all() and np.isfinite(s).all()):
        raise ParameterError("boxes and scores must be finite")
    _check_iou_threshold(iou_threshold)
    matched = _greedy(ref, est, s, iou_threshold)
    return [(int(matched[j]), int(j)) for j in np.argsort(-s, kind="stable") if matched[j] >= 0]


def _check_iou_threshold(t) -> None:
    if isinstance(t, bool) or not (isinstance(t, numbers.Real) and 0.0 < t <= 1.0):
        raise ParameterError(f"iou_threshold must be in (0, 1], got {t!r}")


# ------------------------------------------------------------------------ metrics


def _class_detections(ref_images, est_images, cls: str, iou_threshold: float):
    """Pooled ``(scores, is_true_positive, n_ref)`` of one class over all images."""
    all_scores, all_tp, n_ref = [], [], 0
    empty_boxes = np.zeros((0, 4))
    for ref, est in zip(ref_images, est_images):
        ref_boxes = ref.get(cls, empty_boxes)
        n_ref += len(ref_boxes)
        if cls not in est:
            continue
        est_boxes, scores = est[cls]
        all_scores.append(scores)
        all_tp.append(_greedy(ref_boxes, est_boxes, scores, iou_threshold) >= 0)
    if not all_scores:
        return np.zeros(0), np.zeros(0, dtype=bool), n_ref
    return np.concatenate(all_scores), np.concatenate(all_tp), n_ref


def _ap(scores: np.ndarray, tp: np.ndarray, n_ref: int) -> float:
    """VOC all-point interpolated AP of ranked detections."""
    if n_ref == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    tp = tp[np.argsort(-scores, kind="stable")]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / n_ref
    precision = ctp / (ctp + cfp)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def average_precision(reference, estimated, cls: str,
                      iou_threshold: float = IOU_THRESHOLD) -> float:
    """Data-set average precision of class ``cls`` (VOC all-point interpolation).

    Detections are matched per image (see the module doc) and ranked over the whole
    data set. Returns ``nan`` when no image has a reference of ``cls``, and 0.0 when
    there are references but no detections of it.

    >>> ref = [[("clef_g", (0, 0, 10, 30))], [("clef_g", (0, 0, 10, 30))]]
    >>> est = [[("clef_g", (0, 0, 10, 30), 0.9)], []]
    >>> average_precision(ref, est, "clef_g")
    0.5
    >>> average_precision(ref, est, "clef_f")
    nan
    """
    _check_iou_threshold(iou_threshold)
    ref_images, est_images = _prepare(reference, estimated)
    return _ap(*_class_detections(ref_images, est_images, cls, iou_threshold))


def _class_order(names: Iterable[str]) -> list[str]:
    known = [n for n in vocab.NAMES if n in set(names)]
    return known + sorted(set(names) - set(known))


def evaluate(reference, estimated, iou_threshold: float = IOU_THRESHOLD, classes=None, *,
             score_threshold: float = SCORE_THRESHOLD) -> OrderedDict:
    """All detection scores of an estimate against a reference.

    Parameters
    ----------
    reference, estimated : per-image lists of symbols (see the module doc).
    iou_threshold : IoU at which a detection matches a reference.
    classes : iterable of class names to evaluate; default every class in the
        reference. Only classes that have references get scores.
    score_threshold : detections scoring at least this count for ``precision/`` and
        ``recall/`` (AP uses every detection).

    Returns
    -------
    OrderedDict with

    - ``mAP``: mean AP over the evaluated classes (``nan`` if there are none);
    - ``mAP/<role>``: mean AP over the evaluated classes of each :data:`omr.vocab.ROLES`
      role that has any (e.g. ``mAP/notehead``, ``mAP/rest``, ``mAP/dot``);
    - per class, in :mod:`omr.vocab` order: ``AP/<cls>``, ``recall/<cls>`` and
      ``precision/<cls>`` at ``score_threshold`` (precision is 0.0 when no detection
      reaches the threshold), ``n_ref/<cls>`` (int).

    >>> ref = [[("augmentation_dot", (0, 0, 4, 4)), ("augmentation_dot", (10, 0, 14, 4))]]
    >>> est = [[("augmentation_dot", (0, 0, 4, 4), 0.9), ("augmentation_dot", (0, 1, 4, 5), 0.6),
    ...         ("augmentation_dot", (10, 0, 14, 4), 0.3)]]
    >>> s = evaluate(ref, est)
    >>> s["AP/augmentation_dot"], s["recall/augmentation_dot"], s["precision/augmentation_dot"]
    (0.8333333333333333, 0.5, 0.5)
    """
    _check_iou_threshold(iou_threshold)
    if not isinstance(score_threshold, numbers.Real) or not math.isfinite(score_threshold):
        raise ParameterError(f"score_threshold must be a finite number, got {score_threshold!r}")
    ref_images, est_images = _prepare(reference, estimated)
    present = {cls for image in ref_images for cls, boxes in image.items() if len(boxes)}
    if classes is not None:
        if isinstance(classes, str) or not isinstance(classes, Iterable):
            raise ParameterError(f"classes must be a list of class names, got {classes!r}")
        classes = list(classes)
        bad = [c for c in classes if not isinstance(c, str)]
        if bad:
            raise ParameterError(f"classes must be class names (strings), got {bad[0]!r}")
        present &= set(classes)

    per_class = OrderedDict()
    for cls in _class_order(present):
        scores, tp, n_ref = _class_detections(ref_images, est_images, cls, iou_threshold)
        kept = scores >= score_threshold
        n_kept = int(kept.sum())
        n_tp = int(tp[kept].sum())
        per_class[cls] = (_ap(scores, tp, n_ref), n_tp / n_ref,
                          n_tp / n_kept if n_kept else 0.0, n_ref)

    out = OrderedDict()
    out["mAP"] = float(np.mean([v[0] for v in per_class.values()])) if per_class else float("nan")
    for role in vocab.ROLES:
        aps = [v[0] for cls, v in per_class.items()
               if cls in vocab.CLASSES and vocab.CLASSES[cls].role == role]
        if aps:
            out[f"mAP/{role}"] = float(np.mean(aps))
    for cls, (ap, recall, precision, n_ref) in per_class.items():
        out[f"AP/{cls}"] = ap
        out[f"recall/{cls}"] = recall
        out[f"precision/{cls}"] = precision
        out[f"n_ref/{cls}"] = n_ref
    return out
