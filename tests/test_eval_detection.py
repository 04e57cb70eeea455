"""Tests of omr.eval.detection: matching, AP, evaluate's keys, input validation."""

from __future__ import annotations

import doctest
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest

from omr.errors import ParameterError
from omr.eval import detection
from omr.eval.detection import (average_precision, evaluate, iou_matrix, match, merge_coincident,
                                validate)

HEAD = "notehead_black"
A = (10.0, 10.0, 20.0, 18.0)
B = (40.0, 10.0, 50.0, 18.0)
C = (70.0, 30.0, 80.0, 38.0)


@dataclass(frozen=True)
class FakeDetection:  # same fields as omr.detect.types.Detection
    cls: str
    box: tuple
    score: float


def test_doctests():
    result = doctest.testmod(detection, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 10


def test_perfect_detections_give_ap_one():
    ref = [[(HEAD, A), (HEAD, B), ("rest_8th", C)], [(HEAD, B)]]
    est = [[(HEAD, A, 0.9), (HEAD, B, 0.8), ("rest_8th", C, 0.7)], [(HEAD, B, 0.95)]]
    s = evaluate(ref, est)
    assert isinstance(s, OrderedDict)
    assert s["AP/notehead_black"] == 1.0 and s["AP/rest_8th"] == 1.0
    assert s["mAP"] == 1.0 and s["mAP/notehead"] == 1.0 and s["mAP/rest"] == 1.0
    assert s["recall/notehead_black"] == 1.0 and s["precision/notehead_black"] == 1.0
    assert s["n_ref/notehead_black"] == 3 and s["n_ref/rest_8th"] == 1
    assert list(s)[:3] == ["mAP", "mAP/notehead", "mAP/rest"]


def test_duplicate_ranked_below_keeps_ap_but_lowers_precision():
    ref = [[(HEAD, A)]]
    est = [[(HEAD, A, 0.9), (HEAD, (11, 10, 21, 18), 0.8)]]
    s = evaluate(ref, est)
    assert s["AP/notehead_black"] == 1.0
    assert s["precision/notehead_black"] == 0.5
    assert s["recall/notehead_black"] == 1.0


def test_duplicate_ranked_above_lowers_ap():
    ref = [[(HEAD, A)]]
    est = [[(HEAD, (30, 30, 40, 38), 0.9), (HEAD, A, 0.8)]]
    assert average_precision(ref, est, HEAD) == pytest.approx(0.5)


def test_missed_object_halves_ap():
    ref = [[(HEAD, A), (HEAD, B)]]
    est = [[(HEAD, A, 0.9)]]
    assert average_precision(ref, est, HEAD) == pytest.approx(0.5)
    s = evaluate(ref, est)
    assert s["recall/notehead_black"] == 0.5 and s["precision/notehead_black"] == 1.0


def test_missed_object_in_another_image():
    ref = [[(HEAD, A)], [(HEAD, A)]]
    est = [[(HEAD, A, 0.9)], []]
    assert average_precision(ref, est, HEAD) == pytest.approx(0.5)


def test_wrong_class_does_not_match():
    ref = [[(HEAD, A)]]
    est = [[("notehead_half", A, 0.99)]]
    s = evaluate(ref, est)
    assert s["AP/notehead_black"] == 0.0
    assert "AP/notehead_half" not in s  # no references of that class


def test_iou_threshold_respected():
    shifted = (15.0, 10.0, 25.0, 18.0)  # IoU with A = 40 / 120 = 1/3
    ref, est = [[(HEAD, A)]], [[(HEAD, shifted, 0.9)]]
    assert average_precision(ref, est, HEAD, iou_threshold=0.5) == 0.0
    assert average_precision(ref, est, HEAD, iou_threshold=0.3) == 1.0
    exact = (12.5, 10.0, 22.5, 18.0)  # IoU = 0.6: a match at exactly the threshold
    assert iou_matrix([A], [exact])[0, 0] == pytest.approx(0.6)
    assert average_precision(ref, [[(HEAD, exact, 0.9)]], HEAD, iou_threshold=0.6) == 1.0


def test_no_reference_gives_nan_and_no_detection_gives_zero():
    ref = [[(HEAD, A)]]
    assert math.isnan(average_precision(ref, [[]], "clef_g"))
    assert average_precision(ref, [[]], HEAD) == 0.0
    s = evaluate(ref, [[]])
    assert s["precision/notehead_black"] == 0.0 and s["recall/notehead_black"] == 0.0
    assert math.isnan(evaluate([[]], [[]])["mAP"])


def test_classes_argument_restricts():
    ref = [[(HEAD, A), ("rest_8th", C)]]
    est = [[(HEAD, A, 0.9)]]
    s = evaluate(ref, est, classes=[HEAD, "clef_g"])
    assert s["mAP"] == 1.0 and "AP/rest_8th" not in s and "AP/clef_g" not in s


def test_role_groups():
    ref = [[(HEAD, A), ("notehead_half", B), ("accidental_sharp", C)]]
    est = [[(HEAD, A, 0.9), ("accidental_sharp", C, 0.9)]]
    s = evaluate(ref, est)
    assert s["mAP/notehead"] == 0.5 and s["mAP/accidental"] == 1.0
    assert s["mAP"] == pytest.approx(2 / 3)
    assert "mAP/key" not in s


def test_score_threshold_for_precision_recall():
    ref = [[(HEAD, A), (HEAD, B)]]
    est = [[(HEAD, A, 0.9), (HEAD, B, 0.4)]]
    s = evaluate(ref, est)
    assert s["AP/notehead_black"] == 1.0 and s["recall/notehead_black"] == 0.5
    assert evaluate(ref, est, score_threshold=0.3)["recall/notehead_black"] == 1.0


def test_inputs_as_dicts_and_detections():
    ref = [[{"cls": HEAD, "box": list(A), "id": "n1"}, FakeDetection(HEAD, B, 1.0)]]
    est = [[{"cls": HEAD, "box": np.array(A), "score": 0.9}, FakeDetection(HEAD, B, 0.8)]]
    assert evaluate(ref, est)["AP/notehead_black"] == 1.0


def test_iou_matrix_shape_and_values():
    m = iou_matrix(np.array([A, B, C]), np.array([A, (0, 0, 0, 0)]))
    assert m.shape == (3, 2)
    assert m[0, 0] == 1.0 and m[1, 0] == 0.0 and (m[:, 1] == 0).all()
    assert iou_matrix(np.zeros((0, 4)), np.array([A])).shape == (0, 1)
    with pytest.raises(ParameterError):
        iou_matrix([[1, 2, 3]], [A])


def test_match_greedy_by_score():
    # Two estimates overlap reference 0; the higher-scored one takes it, the other
    # falls back to nothing (reference 1 is too far away).
    pairs = match([A, C], [(11, 10, 21, 18), A], [0.5, 0.9])
    assert pairs == [(0, 1)]
    with pytest.raises(ParameterError):
        match([A], [A], [0.5, 0.6])


@pytest.mark.parametrize("reference, estimated, message", [
    ([[]], [], "1 images but estimated has 0"),
    ("abc", [], "must be a list"),
    ([[(HEAD, A)]], [[(HEAD, A)]], "expected (cls, box, score)"),
    ([[(HEAD, (1, 2, 3))]], [[]], "four numbers"),
    ([[(HEAD, (1, 2, float("nan"), 4))]], [[]], "not finite"),
    ([[(HEAD, (5, 2, 3, 4))]], [[]], "negative size"),
    ([[(3, A)]], [[]], "class must be a string"),
    ([[]], [[(HEAD, A, float("nan"))]], "score must be finite"),
    ([[]], [[(HEAD, A, "high")]], "score must be a number"),
    ([[]], [[{"cls": HEAD, "box": A}]], "score must be a number"),
    ([[]], [[{"box": A, "score": 1}]], "needs keys"),
    ([[]], [None], "estimated[0] must be a list"),
])
def test_validate_errors(reference, estimated, message):
    with pytest.raises(ParameterError, match=None) as info:
        validate(reference, estimated)
    assert message in str(info.value)


def test_bad_thresholds():
    with pytest.raises(ParameterError):
        evaluate([[]], [[]], iou_threshold=0)
    with pytest.raises(ParameterError):
        average_precision([[]], [[]], HEAD, iou_threshold=1.5)
    with pytest.raises(ParameterError):
        evaluate([[]], [[]], score_threshold=float("nan"))


def test_a_symbol_drawn_twice_at_one_place_is_one_reference():
    """Two voices' whole rests printed on top of each other are one glyph: merged,
    a detector that finds it scores AP 1 instead of 0.5; a symbol merely near
    another of its class, or another class at the same place, stays."""
    rest, near = (10.0, 10.0, 22.0, 15.0), (13.0, 10.0, 25.0, 15.0)   # IoU 0.6
    ref = [[("rest_whole", rest), {"cls": "rest_whole", "box": list(rest)},
            ("rest_whole", near), ("rest_half", rest)]]
    est = [[("rest_whole", rest, 0.9), ("rest_whole", near, 0.8), ("rest_half", rest, 0.7)]]
    merged, dropped = merge_coincident(ref)
    assert dropped == {"rest_whole": 1}
    assert merged == [[ref[0][0], ref[0][2], ref[0][3]]]
    assert average_precision(ref, est, "rest_whole") == pytest.approx(2 / 3)
    assert average_precision(merged, est, "rest_whole") == 1.0
    assert merge_coincident(ref, iou_threshold=0.5)[1] == {"rest_whole": 2}


def test_merge_coincident_rejects_bad_input():
    with pytest.raises(ParameterError, match="iou_threshold"):
        merge_coincident([[]], iou_threshold=0.0)
    with pytest.raises(ParameterError, match=r"reference\[0\]\[0\]"):
        merge_coincident([[("rest_whole", (5, 0, 0, 5))]])
    with pytest.raises(ParameterError, match="one list of symbols per image"):
        merge_coincident("rest_whole")
