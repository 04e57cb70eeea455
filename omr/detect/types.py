"""Plain data passed from the detector to later stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One detected symbol.

    ``cls`` is a class name from :mod:`omr.vocab`; ``box`` is ``(x0, y0, x1, y1)`` in
    pixels of whichever image the detection refers to (see the container);
    ``score`` is the network's confidence in [0, 1].
    """

    cls: str
    box: tuple[float, float, float, float]
    score: float

    def to_dict(self) -> dict:
        return {"cls": self.cls, "box": [round(float(v), 2) for v in self.box],
                "score": round(float(self.score), 4)}


@dataclass
class DetectionResult:
    """Detections for one photo.

    ``detections`` are in the *original* photo's pixel coordinates (after EXIF
    orientation); ``normalized`` are the same detections in the normalized page
    image (``page.image``), where one staff space is ``page.staff_space_norm``
    pixels: that is the frame the staff graph works in.
    """

    image_size: tuple[int, int]            # (width, height) of the original photo
    staff_space: float                     # staff space in original-photo pixels
    detections: list[Detection]
    normalized: list[Detection] = field(default_factory=list)
    page: object | None = None             # omr.page.NormalizedPage
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``omr detect --json`` format of ../shared/DESIGN.md."""
        return {"image": [int(self.image_size[0]), int(self.image_size[1])],
                "staff_space": round(float(self.staff_space), 3),
                "detections": [d.to_dict() for d in self.detections]}


def boxes_array(detections: list[Detection]) -> np.ndarray:
    """``(N, 4)`` float array of the boxes."""
    return np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
