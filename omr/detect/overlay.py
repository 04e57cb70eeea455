"""Draw detections over a photo, coloured by staff-graph role (faint when unsure)."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from omr import vocab
from omr.detect.types import Detection

#: Detections at or above this score are drawn solid; below it, faint.
SURE_SCORE = 0.5


def role_colours() -> dict[str, tuple[int, int, int]]:
    """One RGB colour per role of :mod:`omr.vocab`, spread around the hue circle."""
    roles = sorted(vocab.ROLES)
    out = {}
    for i, role in enumerate(roles):
        r, g, b = colorsys.hsv_to_rgb(i / len(roles), 0.9, 0.85)
        out[role] = (int(r * 255), int(g * 255), int(b * 255))
    return out


def draw_detections(rgb: np.ndarray, detections: list[Detection], *,
                    min_score: float = 0.3, thickness: int | None = None) -> np.ndarray:
    """A copy of ``rgb`` with a box per detection (score ≥ ``min_score``)."""
    colours = role_colours()
    role_of = {name: row.role for name, row in vocab.CLASSES.items()}
    solid = rgb.copy()
    faint = rgb.copy()
    t = thickness or max(1, round(max(rgb.shape[:2]) / 1500))
    for d in detections:
        if d.score < min_score:
            continue
        colour = colours.get(role_of.get(d.cls, ""), (255, 0, 0))
        x0, y0, x1, y1 = (int(round(v)) for v in d.box)
        target = solid if d.score >= SURE_SCORE else faint
        cv2.rectangle(target, (x0, y0), (x1, y1), colour, t)
    # faint boxes are blended at 40 %
    out = solid.copy()
    mask = np.any(faint != rgb, axis=2)
    out[mask] = (0.4 * faint[mask] + 0.6 * solid[mask]).astype(np.uint8)
    return out
