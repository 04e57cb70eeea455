"""Staves and systems on a normalized page.

Pure functions over numpy arrays. The input is a page from :func:`omr.page.normalize`
(white paper, one staff space = ``staff_space_px`` px, staff lines roughly level but
possibly bent by page curl). Coordinates are normalized-image pixels (pixel centres
at integers); sizes given "in staff spaces" (``_SS``) are multiplied by the staff
space to get pixels.

How staves are found
--------------------
1. Ink that is thin vertically and long horizontally is kept (staff lines; noteheads,
   stems, beams and text drop out): :func:`staff_line_mask`.
2. The page is cut into vertical strips ``STRIP_WIDTH_SS`` wide. In each strip the
   row profile of that mask is matched against a five-line comb of spacing near the
   staff space; each good match is a piece of a staff, its five line positions refined
   to sub-pixel precision.
3. Pieces are linked left to right into tracks (a piece continues the track whose
   predicted centre is nearest), so lines that bend are followed; short tracks and
   tracks that overlap a longer one by a line or more are dropped (a ledger line
   makes a comb one staff space off).
4. Each track becomes a :class:`Staff`: its five lines sampled at the strips' centres,
   outliers removed, extended to where the lines end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from omr.page import NormalizedPage, binarize

#: Width of the strips in which five-line combs are looked for, staff spaces.
STRIP_WIDTH_SS = 2.0
#: Spacings of the comb tried, as fractions of the page's staff space, and the step.
COMB_SPACING_RANGE = (0.7, 1.35)
COMB_SPACING_STEP = 0.025
#: A comb line counts as present where at least this fraction of the strip's columns
#: has staff-line ink; a comb needs ``MIN_COMB_LINES`` such lines.
MIN_LINE_COVERAGE = 0.3
MIN_COMB_LINES = 4
#: Longest vertical run, staff spaces, that can still be a staff line (thicker ink is
#: a notehead, a beam or a clef), and shortest horizontal run that is kept.
MAX_LINE_THICKNESS_SS = 0.4
MIN_LINE_LENGTH_SS = 1.0
#: Slopes (dy/dx) of the line-shaped kernels that keep staff lines bent by page curl.
LINE_SLOPES = (-0.24, -0.12, 0.0, 0.12, 0.24)
#: Two comb matches in one strip are at least this far apart, staff spaces.
COMB_SUPPRESSION_SS = 2.0
#: A piece continues a track when its centre is within this of the prediction,
#: staff spaces (half a line spacing: a comb shifted by a ledger line is not taken).
TRACK_TOLERANCE_SS = 0.45
#: A track may skip this many staff spaces of strips without a match (a dense chord,
#: a clef that hides the lines) before it ends.
MAX_TRACK_GAP_SS = 10.0
#: Steepest line slope followed (dy/dx).
MAX_TRACK_SLOPE = 0.3
#: Shortest staff kept, staff spaces, and fewest strips with a match.
MIN_STAFF_LENGTH_SS = 5.0
MIN_STAFF_STRIPS = 3
#: Two tracks overlapping in x whose centres are closer than this, staff spaces, share
#: lines: the shorter is dropped.
TRACK_OVERLAP_SS = 3.0
#: Samples whose centre is off the median of their neighbours by more than this,
#: staff spaces, are dropped (a comb caught on a beam or a ledger line).
OUTLIER_SS = 0.3
#: Neighbours in the median filter over samples.
MEDIAN_WINDOW = 5
#: Two tracks at one height with a gap of at most ``MAX_MERGE_GAP_SS`` between them,
#: centres within ``MERGE_TOLERANCE_SS``, are one staff if ``MERGE_MIN_LINES`` of its
#: lines show ink in ``MERGE_MIN_CONTINUITY`` of the gap's columns.
MAX_MERGE_GAP_SS = 40.0
MERGE_TOLERANCE_SS = 0.6
MERGE_MIN_LINES = 3
MERGE_MIN_CONTINUITY = 0.6
#: The ends of a staff: the lines continue while at least this many of the five have
#: ink within ``END_SEARCH_TOLERANCE_PX`` rows; gaps up to ``END_GAP_PX`` are bridged.
END_MIN_LINES = 4
END_SEARCH_TOLERANCE_PX = 1
END_GAP_PX = 2
#: System grouping: the rows between two staves are joined at the left end when at
#: least this fraction of them has ink in a window ``BRACE_WINDOW_SS`` (outside,
#: inside) of the later staff start (a brace, a bracket or the system's start line),
#: or a column across the whole gap is inked to ``BARLINE_COVERAGE`` (a barline
#: drawn through).
BRACE_COVERAGE = 0.9
BRACE_WINDOW_SS = (3.5, 0.6)
BARLINE_COVERAGE = 0.97
#: Rows of the gap between two staves sampled for the barline test.
BARLINE_SAMPLES = 24


@dataclass
class Staff:
    """One five-line staff, possibly bent.

    ``xs`` (N,) are sample x positions and ``lines`` (5, N) the y of each line there,
    top line first, normalized-image px; between samples lines are linearly
    interpolated, beyond them held constant. ``x0``, ``x1``: where the lines start and
    end (px). ``staff_space`` and ``line_thickness``: measured on this staff (px).
    ``system``: index of its :class:`System` (-1 until grouped).
    """

    index: int
    xs: np.ndarray
    lines: np.ndarray
    x0: float
    x1: float
    staff_space: float
    line_thickness: float
    system: int = -1

    def line_y(self, i: int, x) -> np.ndarray | float:
        """y (px) of line ``i`` (0 = top, 4 = bottom) at ``x`` (scalar or array)."""
        y = np.interp(x, self.xs, self.lines[i])
        return float(y) if np.ndim(x) == 0 else y

    def y_top(self, x) -> np.ndarray | float:
        """y (px) of the top line at ``x``."""
        return self.line_y(0, x)

    def y_bottom(self, x) -> np.ndarray | float:
        """y (px) of the bottom line at ``x``."""
        return self.line_y(4, x)

    def position(self, x, y) -> np.ndarray | float:
        """Staff position of point(s) (x, y) in half staff spaces: 0 = bottom line,
        2 = second line, 8 = top line, 9 = the space above it; positive upwards. It
        follows the lines where they bend; beyond the outer lines the outer spacing
        is extended."""
        xa, ya = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        ys = np.stack([np.interp(xa.ravel(), self.xs, self.lines[i]) for i in range(5)])  # (5, M)
        yv = ya.ravel()
        pos = np.empty_like(yv)
        for j in range(len(yv)):
            pos[j] = np.interp(yv[j], ys[:, j], [8.0, 6.0, 4.0, 2.0, 0.0])
        top_half = np.maximum((ys[1] - ys[0]) / 2.0, 1e-6)
        bottom_half = np.maximum((ys[4] - ys[3]) / 2.0, 1e-6)
        above = yv < ys[0]
        below = yv > ys[4]
        pos[above] = 8.0 + (ys[0][above] - yv[above]) / top_half[above]
        pos[below] = -(yv[below] - ys[4][below]) / bottom_half[below]
        return float(pos[0]) if np.ndim(x) == 0 and np.ndim(y) == 0 else pos.reshape(xa.shape)

    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 (px): the lines' extent, from the highest point of the top
        line to the lowest of the bottom line."""
        return (float(self.x0), float(self.lines[0].min()), float(self.x1), float(self.lines[4].max()))

    @property
    def center_y(self) -> float:
        """y (px) of the middle line at the staff's middle."""
        return float(self.line_y(2, 0.5 * (self.x0 + self.x1)))


@dataclass
class System:
    """Staves played together: ``staves`` are indices into the page's staff list, top
    to bottom; ``box`` x0, y0, x1, y1 (px) holds all of them."""

    index: int
    staves: list[int] = field(default_factory=list)
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------
# Staff lines
# ---------------------------------------------------------------------------


def staff_line_mask(binary: np.ndarray, staff_space_px: float) -> np.ndarray:
    """uint8 mask (1 = ink) of thin horizontal ink: runs at most
    ``MAX_LINE_THICKNESS_SS`` tall and at least ``MIN_LINE_LENGTH_SS`` long."""
    b = binary.astype(np.uint8)
    max_run = max(2, int(round(MAX_LINE_THICKNESS_SS * staff_space_px)))
    tall = cv2.morphologyEx(b, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max_run + 1)))
    thin = cv2.subtract(b, tall)
    length = max(3, int(round(MIN_LINE_LENGTH_SS * staff_space_px)))
    out = np.zeros_like(thin)
    for slope in LINE_SLOPES:  # bent lines slope; a level kernel would cut them up
        rise = int(round(abs(slope) * (length - 1)))
        kernel = np.zeros((rise + 1, length), np.uint8)
        xs = np.arange(length)
        ys = np.round(xs * abs(slope)).astype(int)
        kernel[ys if slope >= 0 else rise - ys, xs] = 1
        cv2.bitwise_or(out, cv2.morphologyEx(thin, cv2.MORPH_OPEN, kernel), dst=out)
    return out


def _strip_profiles(mask: np.ndarray, width: int) -> np.ndarray:
    """(H, n) fraction of each strip's columns with line ink in each row."""
    h, w = mask.shape
    n = max(1, w // width)
    cols = mask[:, : n * width].reshape(h, n, width)
    return cols.sum(axis=2, dtype=np.float32) / float(width)


def _comb_pieces(profile: np.ndarray, ss: float):
    """Five-line combs in every strip.

    Returns a list per strip of (score, top line y, spacing, lines (5,)), lines
    refined to sub-pixel by the profile's centroid near each comb line."""
    h, n = profile.shape
    q = cv2.dilate(profile, np.ones((3, 1), np.uint8))  # tolerate a row of rounding
    spacings = np.arange(COMB_SPACING_RANGE[0], COMB_SPACING_RANGE[1] + 1e-9, COMB_SPACING_STEP) * ss
    best = np.full((h, n), -1.0, np.float32)
    best_s = np.zeros((h, n), np.float32)
    present = q >= MIN_LINE_COVERAGE
    for s in spacings:
        span = int(round(4 * s))
        if span >= h:
            continue
        score = np.zeros((h - span, n), np.float32)
        count = np.zeros((h - span, n), np.int8)
        for k in range(5):
            o = int(round(k * s))
            score += q[o : o + h - span]
            count += present[o : o + h - span]
        score[count < MIN_COMB_LINES] = -1.0
        better = score > best[: h - span]
        best[: h - span][better] = score[better]
        best_s[: h - span][better] = s
    radius = max(1, int(round(COMB_SUPPRESSION_SS * ss)))
    peak = cv2.dilate(best, np.ones((2 * radius + 1, 1), np.uint8))
    ys, js = np.nonzero((best > 0) & (best >= peak))
    # plateaus give several equal maxima: keep the first of any run closer than radius
    order = np.lexsort((ys, js))
    ys, js = ys[order], js[order]
    keep = np.ones(len(ys), bool)
    last_y, last_j = -10**9, -1
    for i, (y, j) in enumerate(zip(ys.tolist(), js.tolist())):
        if j == last_j and y - last_y <= radius:
            keep[i] = False
        else:
            last_y, last_j = y, j
    ys, js = ys[keep], js[keep]
    pieces: list[list] = [[] for _ in range(n)]
    half = 0.35
    for y, j in zip(ys.tolist(), js.tolist()):
        s = float(best_s[y, j])
        col = profile[:, j]
        lines, weights = np.zeros(5), np.zeros(5)
        for k in range(5):
            c = y + k * s
            a, b = max(0, int(np.floor(c - half * s))), min(h, int(np.ceil(c + half * s)) + 1)
            wv = col[a:b]
            tot = float(wv.sum())
            if tot > 0:
                lines[k] = float((np.arange(a, b) * wv).sum() / tot)
                weights[k] = float(wv.max())
            else:
                lines[k] = c
        ok = weights >= MIN_LINE_COVERAGE
        if ok.sum() < MIN_COMB_LINES:
            continue
        kk = np.arange(5)[ok]
        slope, icpt = np.polyfit(kk, lines[ok], 1, w=weights[ok])
        if not COMB_SPACING_RANGE[0] * ss <= slope <= COMB_SPACING_RANGE[1] * ss:
            continue
        fitted = icpt + slope * np.arange(5)
        if np.abs(fitted[ok] - lines[ok]).max() > 0.3 * slope:
            continue
        pieces[j].append((float(best[y, j]), fitted))
    for p in pieces:
        p.sort(key=lambda t: -t[0])
    return pieces


def _track(pieces, width: int, ss: float):
    """Link comb pieces left to right into tracks: lists of (strip, lines (5,))."""
    max_gap = max(1, int(np.ceil(MAX_TRACK_GAP_SS * ss / width)))
    tracks: list[list] = []
    active: list[int] = []
    for j, plist in enumerate(pieces):
        active = [t for t in active if j - tracks[t][-1][0] <= max_gap]
        used: set[int] = set()
        for _, lines in plist:
            centre = float(lines[2])
            best, best_d = -1, np.inf
            for t in active:
                if t in used:
                    continue
                tr = tracks[t]
                jl, ll = tr[-1]
                slope = 0.0
                if len(tr) >= 2:
                    j0, l0 = tr[max(0, len(tr) - 4)]
                    if jl > j0:
                        slope = float(np.clip((ll[2] - l0[2]) / ((jl - j0) * width), -MAX_TRACK_SLOPE, MAX_TRACK_SLOPE))
                pred = ll[2] + slope * (j - jl) * width
                d = abs(centre - pred)
                tol = TRACK_TOLERANCE_SS * ss * (1.0 + 0.15 * (j - jl - 1))
                if d < tol and d < best_d:
                    best, best_d = t, d
            if best >= 0:
                tracks[best].append((j, lines))
                used.add(best)
            else:
                tracks.append([(j, lines)])
                active.append(len(tracks) - 1)
                used.add(len(tracks) - 1)
    return tracks


def _median_filter(v: np.ndarray, k: int) -> np.ndarray:
    if len(v) < 3:
        return v.copy()
    r = min(k // 2, (len(v) - 1) // 2)
    padded = np.pad(v, r, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1)
    return np.median(windows, axis=1)


def _line_ink(binary: np.ndarray, x: int, ys: np.ndarray) -> int:
    """How many of the lines at rows ``ys`` have ink in column ``x`` (within tolerance)."""
    h = binary.shape[0]
    t = END_SEARCH_TOLERANCE_PX
    n = 0
    for y in ys:
        yi = int(round(y))
        a, b = max(0, yi - t), min(h, yi + t + 1)
        if a < b and binary[a:b, x].any():
            n += 1
    return n


def _extend_end(binary: np.ndarray, xs: np.ndarray, lines: np.ndarray, x_start: int, step: int) -> int:
    """Walk from ``x_start`` in direction ``step`` while the staff's lines have ink."""
    w = binary.shape[1]
    x = x_start
    while True:
        ok = False
        for g in range(1, END_GAP_PX + 2):
            xn = x + step * g
            if not 0 <= xn < w:
                break
            ys = np.array([np.interp(xn, xs, lines[i]) for i in range(5)])
            if _line_ink(binary, xn, ys) >= END_MIN_LINES:
                x, ok = xn, True
                break
        if not ok:
            return x


def _thickness(binary: np.ndarray, xs: np.ndarray, lines: np.ndarray, ss: float) -> float:
    """Median vertical run (px) through the staff lines at the sample points, ignoring
    runs thicker than ``MAX_LINE_THICKNESS_SS`` (where a notehead sits on the line)."""
    h, w = binary.shape
    runs = []
    limit = MAX_LINE_THICKNESS_SS * ss
    for x, col in zip(np.round(xs).astype(int), lines.T):
        if not 0 <= x < w:
            continue
        column = binary[:, x]
        for y in col:
            yi = int(round(y))
            if not 0 <= yi < h:
                continue
            c = yi
            if not column[c]:
                if c + 1 < h and column[c + 1]:
                    c += 1
                elif c > 0 and column[c - 1]:
                    c -= 1
                else:
                    continue
            a = c
            while a > 0 and column[a - 1] and c - a < limit:
                a -= 1
            b = c
            while b + 1 < h and column[b + 1] and b - a < limit:
                b += 1
            if b - a + 1 <= limit:
                runs.append(b - a + 1)
    return float(np.median(runs)) if runs else 0.0


def _gap_continues(binary: np.ndarray, xa: float, la: np.ndarray, xb: float, lb: np.ndarray) -> bool:
    """Do five lines run on from ``la`` at ``xa`` to ``lb`` at ``xb`` (px)? At least
    ``MERGE_MIN_CONTINUITY`` of the columns between must show ``MERGE_MIN_LINES`` lines."""
    w = binary.shape[1]
    cols = np.arange(int(np.ceil(xa)), int(np.floor(xb)) + 1)
    cols = cols[(cols >= 0) & (cols < w)]
    if len(cols) == 0:
        return True
    t = (cols - xa) / max(xb - xa, 1e-6)
    good = 0
    for x, f in zip(cols.tolist(), t.tolist()):
        if _line_ink(binary, x, la + f * (lb - la)) >= MERGE_MIN_LINES:
            good += 1
    return good >= MERGE_MIN_CONTINUITY * len(cols)


def _merge_collinear(tracks: list[list], binary: np.ndarray, width: int, ss: float) -> list[list]:
    """Join tracks that are pieces of one staff: one ends, the other starts later at the
    same height with the same spacing, and the lines run on between them (a stretch
    where combs failed: dense chords, pencil marks, a shadow)."""
    tracks = sorted(tracks, key=lambda t: t[0][0])
    changed = True
    while changed:
        changed = False
        for a in range(len(tracks)):
            ta = tracks[a]
            ja, la = ta[-1]
            for b in range(len(tracks)):
                tb = tracks[b]
                jb, lb = tb[0]
                if b == a or jb <= ja or (jb - ja) * width > MAX_MERGE_GAP_SS * ss:
                    continue
                if abs(lb[2] - la[2]) > MERGE_TOLERANCE_SS * ss + 0.05 * (jb - ja) * width:
                    continue
                if abs((lb[4] - lb[0]) - (la[4] - la[0])) > 0.1 * (la[4] - la[0]):
                    continue
                xa, xb = ja * width + (width - 1) / 2.0, jb * width + (width - 1) / 2.0
                if _gap_continues(binary, xa, la, xb, lb):
                    tracks[a] = ta + tb
                    del tracks[b]
                    changed = True
                    break
            if changed:
                break
    return tracks


def find_staves(page_image_gray: np.ndarray, staff_space_px: float, *, binary: np.ndarray | None = None) -> list[Staff]:
    """The five-line staves of a normalized page, top to bottom.

    ``page_image_gray`` is a ``uint8`` grey page with white paper and staff space
    about ``staff_space_px`` px (a :class:`~omr.page.NormalizedPage` image).
    ``binary`` (True = ink) may be passed if already computed. Staves that bend are
    followed; stray lines (a text underline, a beam, a lone ledger line) are not
    staves. An empty list when there is none.
    """
    gray = np.asarray(page_image_gray)
    if gray.ndim != 2:
        raise ValueError("find_staves needs a 2-D grey image")
    ss = float(staff_space_px)
    if not ss > 0:
        raise ValueError(f"staff_space_px must be positive, got {staff_space_px!r}")
    if binary is None:
        binary = binarize(gray.astype(np.uint8), ss)
    staves = _find_staves_in(binary, ss)
    if not staves:
        # faint or blurred lines that the plain threshold lost: average along the lines
        # (they are level) and threshold against the paper's own noise
        faint = faint_line_binary(gray, ss)
        if faint is not None:
            staves = _find_staves_in(faint, ss)
    return staves


#: Faint-line fallback: horizontal averaging window, staff spaces, and the threshold
#: below the paper's grey level, in robust standard deviations of the averaged paper.
FAINT_WINDOW_SS = 1.0
FAINT_NOISE_SIGMAS = 4.0
FAINT_MIN_DEPTH = 4.0


def faint_line_binary(gray: np.ndarray, staff_space_px: float) -> np.ndarray | None:
    """Mask of faint, blurred staff lines: the vertical black top-hat of the grey page
    (darkness in features thinner than about half a staff space: lines, not noteheads
    or stems) averaged over ``FAINT_WINDOW_SS`` along the rows, thresholded
    ``FAINT_NOISE_SIGMAS`` noise levels above that of the paper. None when nothing
    stands out."""
    g = np.asarray(gray)
    if g.dtype != np.uint8:
        g = np.clip(g, 0, 255).astype(np.uint8)
    ss = float(staff_space_px)
    tall = max(3, int(round(0.7 * ss)) | 1)
    hat = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (1, tall)))
    k = max(3, int(round(FAINT_WINDOW_SS * ss)))
    sm = cv2.blur(hat.astype(np.float32), (k, 1))
    step = max(1, int(np.sqrt(sm.size / 250_000)))
    sample = sm[::step, ::step]
    base = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - base)))
    t = base + max(FAINT_MIN_DEPTH, FAINT_NOISE_SIGMAS * sigma)
    # keep the ridge (the darkest row) of each blurred line: thick blurred lines
    # would otherwise fail the thickness test of staff_line_mask
    up = np.vstack([sm[:1], sm[:-1]])
    down = np.vstack([sm[1:], sm[-1:]])
    out = (sm > t) & (sm >= up) & (sm > down)
    out = cv2.dilate(out.astype(np.uint8), np.ones((2, 1), np.uint8)).astype(bool)
    if not out.any():
        return None
    return out


def _find_staves_in(binary: np.ndarray, ss: float) -> list[Staff]:
    h, w = binary.shape
    width = max(4, int(round(STRIP_WIDTH_SS * ss)))
    if w < width or h < 5 * ss:
        return []
    mask = staff_line_mask(binary, ss)
    profile = _strip_profiles(mask, width)
    pieces = _comb_pieces(profile, ss)
    tracks = _track(pieces, width, ss)
    tracks = [t for t in tracks if len(t) >= MIN_STAFF_STRIPS and (t[-1][0] - t[0][0] + 1) * width >= MIN_STAFF_LENGTH_SS * ss]
    # drop tracks that share lines with a longer one
    tracks.sort(key=len, reverse=True)
    kept: list[list] = []
    for t in tracks:
        j0, j1 = t[0][0], t[-1][0]
        clash = False
        for k in kept:
            k0, k1 = k[0][0], k[-1][0]
            if j1 < k0 or k1 < j0:
                continue
            a, b = max(j0, k0), min(j1, k1)
            ct = np.median([l[2] for j, l in t if a <= j <= b] or [t[len(t) // 2][1][2]])
            ck = np.median([l[2] for j, l in k if a <= j <= b] or [k[len(k) // 2][1][2]])
            if abs(ct - ck) < TRACK_OVERLAP_SS * ss:
                clash = True
                break
        if not clash:
            kept.append(t)

    kept = _merge_collinear(kept, binary, width, ss)

    staves = []
    for t in kept:
        js = np.array([j for j, _ in t])
        lines = np.array([l for _, l in t]).T  # (5, N)
        xs = js * width + (width - 1) / 2.0
        centre = lines[2]
        med = _median_filter(centre, MEDIAN_WINDOW)
        spacing = (lines[4] - lines[0]) / 4.0
        med_sp = _median_filter(spacing, MEDIAN_WINDOW)
        good = (np.abs(centre - med) <= OUTLIER_SS * ss) & (np.abs(spacing - med_sp) <= 0.15 * ss)
        if good.sum() < MIN_STAFF_STRIPS:
            continue
        xs, lines = xs[good], lines[:, good]
        x_left = _extend_end(binary, xs, lines, int(round(xs[0])), -1)
        x_right = _extend_end(binary, xs, lines, int(round(xs[-1])), +1)
        if x_right - x_left < MIN_STAFF_LENGTH_SS * ss:
            continue
        if x_left < xs[0]:
            xs = np.concatenate([[float(x_left)], xs])
            lines = np.concatenate([lines[:, :1], lines], axis=1)
        if x_right > xs[-1]:
            xs = np.concatenate([xs, [float(x_right)]])
            lines = np.concatenate([lines, lines[:, -1:]], axis=1)
        staff_sp = float(np.median((lines[4] - lines[0]) / 4.0))
        staves.append(Staff(index=0, xs=xs.astype(np.float64), lines=lines.astype(np.float64),
                            x0=float(x_left), x1=float(x_right), staff_space=staff_sp,
                            line_thickness=_thickness(binary, xs, lines, ss)))
    staves.sort(key=lambda s: (s.center_y, s.x0))  # top to bottom
    for i, s in enumerate(staves):
        s.index = i
    return staves


# ---------------------------------------------------------------------------
# Systems
# ---------------------------------------------------------------------------


def _joined(a: Staff, b: Staff, ink: np.ndarray) -> bool:
    """Are staff ``a`` and staff ``b`` (below it) joined by a brace, a bracket, a
    system start line or a barline drawn through the gap between them?"""
    h, w = ink.shape
    ss = 0.5 * (a.staff_space + b.staff_space)
    xa, xb = max(a.x0, b.x0), min(a.x1, b.x1)
    if xb <= xa:
        return False
    # 1. at the left end: every row of the gap has ink near the later start
    xl = max(a.x0, b.x0)
    top, bottom = a.y_bottom(xl) + 0.5 * ss, b.y_top(xl) - 0.5 * ss
    c0 = int(max(0, np.floor(xl - BRACE_WINDOW_SS[0] * ss)))
    c1 = int(min(w, np.ceil(xl + BRACE_WINDOW_SS[1] * ss) + 1))
    r0, r1 = int(max(0, np.ceil(top))), int(min(h, np.floor(bottom) + 1))
    if r1 - r0 >= 2 and c1 > c0:
        rows = ink[r0:r1, c0:c1].any(axis=1)
        if rows.mean() >= BRACE_COVERAGE:
            return True
    elif r1 - r0 < 2:
        return True  # staves touching: one system
    # 2. a barline through the gap anywhere along the staves
    xs = np.arange(int(np.ceil(xa)), int(np.floor(xb)) + 1)
    xs = xs[(xs >= 0) & (xs < w)]
    if len(xs) == 0:
        return False
    yb, yt = a.y_bottom(xs), b.y_top(xs)
    t = np.linspace(0.05, 0.95, BARLINE_SAMPLES)[:, None]
    ys = np.clip(np.round(yb + t * (yt - yb)).astype(int), 0, h - 1)
    wide = cv2.dilate(ink.astype(np.uint8), np.ones((1, 3), np.uint8)) if ink.dtype != np.uint8 else ink
    cover = wide[ys, xs[None, :]].astype(bool).mean(axis=0)
    return bool((cover >= BARLINE_COVERAGE).any())


def group_systems(staves: list[Staff], binary: np.ndarray) -> list[System]:
    """Group staves into systems; sets each ``Staff.system``.

    Consecutive staves (top to bottom) belong to one system when a brace, a bracket
    or the system's start line joins them at the left, or a barline runs through
    from one to the next. A staff joined to nothing is a system of its own.
    ``binary`` is the page's ink mask (True = ink), e.g. from :func:`omr.page.binarize`.
    """
    if not staves:
        return []
    ink = cv2.dilate(np.asarray(binary).astype(np.uint8), np.ones((1, 3), np.uint8))
    groups: list[list[int]] = [[0]]
    for i in range(1, len(staves)):
        if _joined(staves[i - 1], staves[i], ink):
            groups[-1].append(i)
        else:
            groups.append([i])
    systems = []
    for g_index, g in enumerate(groups):
        boxes = np.array([staves[i].box() for i in g])
        box = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))
        for i in g:
            staves[i].system = g_index
        systems.append(System(index=g_index, staves=[staves[i].index for i in g], box=box))
    return systems


def analyze(page: NormalizedPage) -> tuple[list[Staff], list[System]]:
    """Staves and systems of a normalized page (see :func:`find_staves`, :func:`group_systems`)."""
    binary = binarize(page.image, page.staff_space_norm)
    staves = find_staves(page.image, page.staff_space_norm, binary=binary)
    return staves, group_systems(staves, binary)


# ---------------------------------------------------------------------------
# Barlines found in the image
# ---------------------------------------------------------------------------

#: A barline is ink through this fraction of the staff's height at one column ...
BARLINE_MIN_COVERAGE = 0.93
#: ... in a run of columns at most this wide (staff spaces; a final bar's thick line).
BARLINE_MAX_WIDTH_SS = 0.8
#: Rows sampled between the top and the bottom line.
BARLINE_ROWS = 33


def find_barlines(binary: np.ndarray, staves: list[Staff]) -> list[tuple[int, float, float]]:
    """Thin vertical lines that run through a whole staff: ``(staff, x0, x1)`` px.

    Stems of notes also cross staves, so callers drop candidates that touch a
    notehead (see :func:`omr.pipeline.page_graph`). ``binary`` is the page's ink mask.
    """
    h, w = binary.shape
    ink = np.asarray(binary, np.float32)
    out = []
    for s in staves:
        x_lo, x_hi = max(0, int(s.x0)), min(w - 1, int(np.ceil(s.x1)))
        if x_hi - x_lo < 3:
            continue
        xs = np.arange(x_lo, x_hi + 1, dtype=np.float32)
        top, bottom = s.y_top(xs), s.y_bottom(xs)
        f = np.linspace(0.0, 1.0, BARLINE_ROWS, dtype=np.float32)[:, None]
        map_y = (top[None, :] + f * (bottom - top)[None, :]).astype(np.float32)
        map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
        band = cv2.remap(ink, map_x, map_y, cv2.INTER_NEAREST, borderValue=0)
        # a column counts when it, or a neighbour, has ink (lines bend by a pixel)
        band = np.maximum(band, np.pad(band, ((0, 0), (1, 0)))[:, :-1])
        coverage = band.mean(axis=0)
        hit = coverage >= BARLINE_MIN_COVERAGE
        runs = np.flatnonzero(np.diff(np.concatenate([[0], hit.astype(np.int8), [0]])))
        for a, b in zip(runs[::2], runs[1::2]):
            if (b - a) <= BARLINE_MAX_WIDTH_SS * s.staff_space + 1:
                out.append((s.index, float(xs[a]), float(xs[b - 1]) + 1.0))
    return out
