"""Whole and half rests settled by the staff line they touch (omr.detect.refine)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.detect.refine import rest_edge_ink, settle_whole_half_rests, whole_or_half
from omr.detect.types import Detection

SS = 10  # px per staff space, as on a normalized page
TOP = 40  # the staff's top line (px)


def staff_page(bars: list[tuple[int, int]], *, width: int = 400, blur: float = 0.0,
               seed: int = 0) -> np.ndarray:
    """A white page with one five-line staff and a filled bar (1.2 x 0.5 staff
    spaces) at each ``(x0, y0)``; blurred and noisy like a phone photo if ``blur``."""
    page = np.full((TOP + 8 * SS, width), 235, np.uint8)
    for k in range(5):
        page[TOP + k * SS:TOP + k * SS + 2, :] = 40
    for x0, y0 in bars:
        page[y0:y0 + SS // 2, x0:x0 + 12] = 30
    if blur:
        page = cv2.GaussianBlur(page, (0, 0), blur)
        noise = np.random.default_rng(seed).normal(0, 6, page.shape)
        page = np.clip(page + noise, 0, 255).astype(np.uint8)
    return page


def box(x0: int, y0: int) -> tuple[float, float, float, float]:
    return (float(x0), float(y0), float(x0 + 12), float(y0 + SS // 2))


HANGING = (100, TOP + SS)           # from the second line: a whole rest
SITTING = (200, TOP + 2 * SS - 5)   # on the middle line: a half rest


@pytest.mark.parametrize("blur", [0.0, 1.5])
def test_each_rest_is_classed_by_the_line_it_touches(blur):
    page = staff_page([HANGING, SITTING], blur=blur)
    found = [Detection("rest_half", box(*HANGING), 0.6), Detection("rest_whole", box(*SITTING), 0.7),
             Detection("notehead_black", (300.0, 45.0, 312.0, 55.0), 0.9)]
    settled = settle_whole_half_rests(found, page)
    assert [d.cls for d in settled] == ["rest_whole", "rest_half", "notehead_black"]
    assert [d.score for d in settled] == [0.6, 0.7, 0.9]
    top, bottom = rest_edge_ink(page, box(*HANGING))
    assert top > 100 > bottom


def test_a_rest_scored_both_ways_is_one_rest():
    page = staff_page([HANGING])
    found = [Detection("rest_whole", box(*HANGING), 0.45),
             Detection("rest_half", (99.0, 50.5, 112.0, 55.5), 0.55)]
    assert settle_whole_half_rests(found, page) == [Detection("rest_whole", (99.0, 50.5, 112.0, 55.5), 0.55)]


def test_a_rest_with_no_line_beside_it_keeps_its_class():
    page = staff_page([(100, TOP + 6 * SS)])   # a bar below the staff, no ledger line
    found = [Detection("rest_half", box(100, TOP + 6 * SS), 0.5)]
    assert settle_whole_half_rests(found, page) == found
    assert whole_or_half(20.0, 18.0) is None
    # strips beside the bar off the page: nothing to judge by
    assert rest_edge_ink(page, (2.0, 1.0, 14.0, 6.0)) is None
