"""Draw a data set's boxes over its images, to look at.

Colours are by graph role (one colour per role in :data:`omr.vocab.ROLES`), so a
wrong class or a box that drifted off its ink stands out.

>>> from synth.show import show                        # doctest: +SKIP
>>> show("data/train", limit=5)                        # doctest: +SKIP
[PosixPath('data/train/show/000000-p1.camera.png'), ...]
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from omr import vocab
from omr.detect.overlay import role_colours as overlay_colours
from synth.build import read_index

#: Overlay long side, pixels (pages are shrunk to this to be viewable).
OVERLAY_LONG_SIDE = 2000
BOX_THICKNESS = 1
LABEL_SCALE = 0.35


def role_colours() -> dict[str, tuple[int, int, int]]:
    """The overlay colours of :mod:`omr.detect.overlay`, as BGR for OpenCV files."""
    return {role: (b, g, r) for role, (r, g, b) in overlay_colours().items()}


def draw_symbols(image: np.ndarray, symbols: list[dict], *, labels: bool = True) -> np.ndarray:
    """``image`` (gray or RGB/BGR) with each symbol's box drawn, shrunk for viewing."""
    canvas = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = min(1.0, OVERLAY_LONG_SIDE / max(canvas.shape[:2]))
    canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    colours = role_colours()
    for s in symbols:
        row = vocab.CLASSES[s["cls"]]
        x0, y0, x1, y1 = (int(round(v * scale)) for v in s["box"])
        colour = colours[row.role]
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, BOX_THICKNESS)
        if labels and row.role not in ("structure", "stem", "ledger"):
            cv2.putText(canvas, s["cls"], (x0, max(0, y0 - 2)), cv2.FONT_HERSHEY_SIMPLEX,
                        LABEL_SCALE, colour, 1, cv2.LINE_AA)
    return canvas


def show(dataset: str | Path, *, out: str | Path | None = None, limit: int = 10,
         variants: tuple[str, ...] = ("clean", "camera")) -> list[Path]:
    """Write overlays of the first ``limit`` pages of a data set; returns their paths."""
    dataset = Path(dataset)
    records = read_index(dataset)
    if not records:
        raise FileNotFoundError(f"{dataset} holds no synth data set (no index.jsonl entries)")
    out = Path(out) if out else dataset / "show"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for r in records[:limit]:
        page = json.loads((dataset / r.record).read_text(encoding="utf-8"))
        for variant in variants:
            if variant not in page:
                continue
            image = cv2.imread(str(dataset / r.shard / page[variant]["image"]), cv2.IMREAD_COLOR)
            overlay = draw_symbols(image, page[variant]["symbols"])
            path = out / f"{r.id}.{variant}.png"
            cv2.imwrite(str(path), overlay)
            written.append(path)
    return written
