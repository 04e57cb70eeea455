"""Synthetic phone photos next to real ones, to judge whether they look alike.

    python bench/camera_vs_real.py OUT.png [--n 8] [--seed 0] [--difficulty 0.5]
        [--size 3300x2550] [--page PAGE.png] [--staff-space PX] [--real-dir DIR]
        [--threads 1] [--repeat 1]

Draws a clean page (a rough engraving made with OpenCV; or ``--musicxml``: page 1
of a score engraved by ``synth.engrave``; or ``--page``: any grayscale render),
photographs it ``--n`` times with
:func:`synth.camera.photograph`, and puts the photos in a grid above a row of
real photos from ``--real-dir`` (default ``../shared/realdata`` next to the
repository, skipped when absent). The synthetic photos get their moved boxes
drawn on a small inset, so box alignment can be checked by eye too. Prints the
time of each photo; for the speed target run it on one core:

    OMP_NUM_THREADS=1 taskset -c 0 python bench/camera_vs_real.py out.png \\
        --size 3500x2500 --n 40 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from synth.camera import photograph

REAL_PHOTOS = (
    "photos_nogt/oemer_tabi.jpg",
    "photos_nogt/audiveris_BachInvention5.jpg",
    "photos_nogt/oemer_chihiro_3_left.jpg",
    "ptromr_cc_photos/pages/cello__cello-1-cam.jpg",
    "photos_nogt/oemer_river_1_left.jpg",
    "photos_nogt/oemer_wind2_deskew_left.jpg",
)
TILE_HEIGHT_PX = 560
LETTER_300DPI = (3300, 2550)  # page size (height, width), px
STAFF_SPACE_PX = 21.0


class _Pen:
    """Draws rough engraving symbols on a page at staff space ``ss``, black on white."""

    def __init__(self, page: np.ndarray, ss: float):
        self.page, self.ss = page, ss
        self.thin = max(1, int(round(0.1 * ss)))  # staff line, ledger line
        self.thick = max(2, int(round(0.15 * ss)))  # barline, slur, hollow notehead

    def line(self, p0, p1, thickness: int | None = None) -> None:
        p0, p1 = tuple(int(round(v)) for v in p0), tuple(int(round(v)) for v in p1)
        cv2.line(self.page, p0, p1, 0, thickness or self.thin, cv2.LINE_AA)

    def text(self, s: str, org, height_ss: float, font=cv2.FONT_HERSHEY_COMPLEX) -> None:
        scale = height_ss * self.ss / cv2.getTextSize("A", font, 1.0, 1)[0][1]
        thickness = max(1, int(round(scale * 1.5)))
        cv2.putText(self.page, s, (int(org[0]), int(org[1])), font, scale, 0, thickness, cv2.LINE_AA)

    def notehead(self, cx: float, cy: float, hollow: bool) -> list[float]:
        ax, ay = 0.65 * self.ss, 0.45 * self.ss
        fill = self.thick if hollow else -1
        cv2.ellipse(self.page, (int(cx), int(cy)), (int(ax), int(ay)), -22, 0, 360, 0, fill, cv2.LINE_AA)
        return [cx - ax - 1, cy - ay - 2, cx + ax + 1, cy + ay + 2]

    def sharp(self, cx: float, cy: float) -> list[float]:
        ss = self.ss
        for dx in (0.0, 0.5):
            self.line((cx + dx * ss, cy - 1.25 * ss + dx * 0.2 * ss), (cx + dx * ss, cy + 1.2 * ss))
        for dy in (-0.35, 0.35):
            y = cy + dy * ss
            self.line((cx - 0.3 * ss, y + 0.15 * ss), (cx + 0.8 * ss, y - 0.15 * ss), max(2, int(0.18 * ss)))
        return [cx - 0.35 * ss, cy - 1.35 * ss, cx + 0.85 * ss, cy + 1.25 * ss]


def draw_page(rng: np.random.Generator, shape=LETTER_300DPI, ss: float = STAFF_SPACE_PX):
    """A rough engraved page: grand staves with clefs, barlines, noteheads,
    stems, beams, ledger lines, sharps, slurs and text.

    Returns (page (H, W) uint8, boxes (N, 4) of the noteheads and sharps)."""
    h, w = shape
    page = np.full((h, w), 255, np.uint8)
    pen = _Pen(page, ss)
    boxes: list[list[float]] = []
    left, right = 0.08 * w, 0.93 * w
    pen.text("Invention", (w / 2 - 6 * ss, 0.06 * h), 2.2, cv2.FONT_HERSHEY_TRIPLEX)
    pen.text("J. S. Bach", (0.75 * w, 0.09 * h), 0.9)
    staff_gap, system_gap = 8 * ss, 20 * ss
    y = 0.13 * h
    system = 0
    while y + staff_gap + 6 * ss < 0.95 * h:
        tops = (y, y + staff_gap)
        bars = np.linspace(left + 5 * ss, right, 5)
        pen.line((left, tops[0]), (left, tops[1] + 4 * ss), pen.thick)
        pen.text(str(system * 4 + 1), (left - ss, tops[0] - ss), 0.8)
        for top, clef in zip(tops, "&?", strict=True):
            for k in range(5):
                pen.line((left, top + k * ss), (right, top + k * ss))
            for bx in bars[1:]:
                pen.line((bx, top), (bx, top + 4 * ss), pen.thick)
            pen.text(clef, (left + 0.5 * ss, top + 3.6 * ss), 3.0)
            for m in range(len(bars) - 1):
                boxes += _draw_measure(pen, rng, top, bars[m] + 1.2 * ss, bars[m + 1] - 1.0 * ss)
        if rng.random() < 0.5:
            pen.text("mf", (left + 6 * ss, tops[0] + 7 * ss), 1.2, cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC)
        y += system_gap
        system += 1
    return page, np.array(boxes, np.float32)


def _draw_measure(pen: _Pen, rng: np.random.Generator, top: float, x: float, end: float) -> list[list[float]]:
    """Notes (beamed in groups), ledger lines, sharps and maybe a slur in one measure."""
    ss = pen.ss
    boxes, group = [], []
    start = x
    while x < end:
        step = int(rng.integers(-4, 13))  # staff position, 0 = top line, in half spaces
        cy = top + step * ss / 2
        if rng.random() < 0.2:
            boxes.append(pen.sharp(x - 1.6 * ss, cy))
        boxes.append(pen.notehead(x, cy, hollow=rng.random() < 0.15))
        ledgers = range(-2, step - 1, -2) if step < -1 else range(10, step + 1, 2)
        for st in ledgers:
            pen.line((x - ss, top + st * ss / 2), (x + ss, top + st * ss / 2))
        up = step > 4
        sx = x + (0.65 * ss - 1 if up else -0.65 * ss + 1)
        sy = cy - 3.3 * ss if up else cy + 3.3 * ss
        pen.line((sx, cy), (sx, sy), pen.thin + 1)
        group.append((sx, sy, up))
        if len(group) == 4 or rng.random() < 0.2:
            if len(group) > 1:  # a beam across the group's stem ends
                (x0, y0, up0), (x1, y1, _) = group[0], group[-1]
                th = 0.5 * ss if up0 else -0.5 * ss
                poly = np.array([[x0, y0], [x1, y1], [x1, y1 + th], [x0, y0 + th]], np.int32)
                cv2.fillPoly(pen.page, [poly], 0, cv2.LINE_AA)
            group = []
        x += ss * float(rng.choice([2.6, 3.2, 4.0, 5.5]))
    if rng.random() < 0.3:  # a slur over the measure
        c0, c1 = start + ss, end - ss
        axes = (int((c1 - c0) / 2), int(1.5 * ss))
        cv2.ellipse(pen.page, (int((c0 + c1) / 2), int(top - 2 * ss)), axes, 0, 190, 350, 0, pen.thick, cv2.LINE_AA)
    return boxes


def _tile(img_rgb: np.ndarray, height: int = TILE_HEIGHT_PX) -> np.ndarray:
    h, w = img_rgb.shape[:2]
    s = height / h
    return cv2.resize(img_rgb, (max(1, int(w * s)), height), interpolation=cv2.INTER_AREA)


def _with_boxes_inset(result) -> np.ndarray:
    """The photo as a tile, with a zoomed crop (lower right) around one visible
    box where all moved boxes are drawn in red."""
    img = result.image
    tile = _tile(img)
    vis = np.flatnonzero(result.visible)
    if len(vis) == 0:
        return tile
    x0, y0, x1, y1 = result.boxes[vis[len(vis) // 2]]
    half = 6 * max(x1 - x0, y1 - y0, 8)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cx0, cy0 = int(max(0, cx - half)), int(max(0, cy - half))
    cx1, cy1 = int(min(img.shape[1], cx + half)), int(min(img.shape[0], cy + half))
    crop = img[cy0:cy1, cx0:cx1].copy()
    for bx0, by0, bx1, by1 in result.boxes[vis]:
        p0, p1 = (int(bx0 - cx0), int(by0 - cy0)), (int(bx1 - cx0), int(by1 - cy0))
        cv2.rectangle(crop, p0, p1, (255, 0, 0), 1)
    side = min(TILE_HEIGHT_PX // 4, tile.shape[1])
    tile[-side:, -side:] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_NEAREST)
    return tile


def _grid(rows: list[list[np.ndarray]]) -> np.ndarray:
    width = max(sum(t.shape[1] for t in r) + 8 * len(r) for r in rows)
    out = []
    for r in rows:
        line = np.full((TILE_HEIGHT_PX + 8, width, 3), 255, np.uint8)
        x = 0
        for t in r:
            line[4 : 4 + t.shape[0], x : x + t.shape[1]] = t
            x += t.shape[1] + 8
        out.append(line)
    return np.vstack(out)


def _effects(p) -> str:
    on = {
        "bend": p.bend,
        "wave": p.wave,
        "shadow": p.shadow,
        "low_light": p.low_light,
        "defocus": p.defocus_sigma > 0.8,
        "motion": p.motion,
        "marks": p.marks,
        "jpeg": p.jpeg_quality,
    }
    return " ".join(k for k, v in on.items() if v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output PNG")
    ap.add_argument("--n", type=int, default=8, help="number of synthetic photos")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", type=float, default=0.5)
    ap.add_argument("--size", default="3300x2550", help="HxW of the drawn page, px (staff space scales with it)")
    ap.add_argument("--musicxml", type=Path, help="engrave page 1 of this score with synth.engrave (if present)")
    ap.add_argument("--page", type=Path, help="a clean grayscale page image instead of the drawn one")
    ap.add_argument("--staff-space", type=float, help="staff space of --page, px")
    ap.add_argument("--real-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = the speed target's setting)")
    ap.add_argument("--repeat", type=int, default=1, help="time each photo this many times, keep the fastest")
    args = ap.parse_args(argv)
    cv2.setNumThreads(args.threads)

    rng = np.random.default_rng(args.seed)
    if args.musicxml:
        try:
            from synth import engrave, sources  # optional: not needed for the drawn page
        except ImportError as e:
            print(f"--musicxml needs synth.engrave: {e}", file=sys.stderr)
            return 2
        eng = engrave.engrave(sources.read_musicxml(args.musicxml), engrave.sample_options(rng), pages=[1])
        p = eng.pages[0]
        page, ss = p.image, p.staff_space_px
        boxes = np.array([s.box for s in p.symbols if s.cls != "staff"], np.float32).reshape(-1, 4)
    elif args.page:
        page = cv2.imread(str(args.page), cv2.IMREAD_GRAYSCALE)
        if page is None:
            print(f"cannot read {args.page}", file=sys.stderr)
            return 2
        boxes, ss = np.zeros((0, 4), np.float32), args.staff_space
    else:
        h, w = (int(v) for v in args.size.lower().split("x"))
        ss = STAFF_SPACE_PX * max(h, w) / max(LETTER_300DPI)
        page, boxes = draw_page(rng, (h, w), ss)
    print(f"page {page.shape[1]}x{page.shape[0]}, {len(boxes)} boxes")

    tiles, times = [], []
    for i in range(args.n):
        dt = float("inf")
        for _ in range(args.repeat):  # the fastest of a few runs: other load on the machine only adds time
            photo_rng = np.random.default_rng(args.seed * 1000 + i)
            t0 = time.perf_counter()
            r = photograph(page, boxes, photo_rng, difficulty=args.difficulty, staff_space_px=ss)
            dt = min(dt, time.perf_counter() - t0)
        times.append(dt)
        size = f"{r.image.shape[1]}x{r.image.shape[0]}"
        print(f"photo {i}: {size:>9} {dt * 1000:6.0f} ms  bg={r.params.background.kind:7} {_effects(r.params)}")
        tiles.append(_with_boxes_inset(r))
    t = np.array(times) * 1000
    p50, p90 = np.percentile(t, [50, 90])
    print(f"per photo: mean {t.mean():.0f} ms, median {p50:.0f}, p90 {p90:.0f}, max {t.max():.0f}")

    rows = [tiles[i : i + 4] for i in range(0, len(tiles), 4)]
    real = []
    for rel in REAL_PHOTOS:
        im = cv2.imread(str(args.real_dir / rel), cv2.IMREAD_COLOR) if (args.real_dir / rel).exists() else None
        if im is not None:
            real.append(_tile(cv2.cvtColor(im, cv2.COLOR_BGR2RGB)))
    rows += [real[i : i + 4] for i in range(0, len(real), 4)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(_grid(rows), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({len(tiles)} synthetic, {len(real)} real)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
