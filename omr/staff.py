"""Staves and systems on a normalized page.

Pure functions over numpy arrays. The input is a page from :func:`omr.page.normalize`
(white paper, one staff space = ``staff_space_px`` px, staff lines roughly level but
possibly bent by page curl). Coordinates are normalized-image pixels (pixel centres
at integers); sizes given "in staff spaces" (``_SS``) are multiplied by the staff
space to get pixels.

How staves are found
--------------------
1. Ink that is thin vertically and long horizontally is kept (staff lines; noteheads,
   stems, beams and text drop out): :func:`staff_line_mask`, on the thresholded page
   and on :func:`faint_line_binary` (the grey page averaged along the rows, for lines
   that the threshold loses to blur, glare or low contrast).
2. The page is cut into vertical strips ``STRIP_WIDTH_SS`` wide. In each strip the
   row profile of that mask is matched against a five-line comb of spacing near the
   staff space; each good match is a piece of a staff, its five line positions refined
   to sub-pixel precision.
3. Pieces are linked left to right into tracks (a piece continues the track whose
   predicted centre is nearest), so lines that bend are followed; a track's samples
   whose centre or spacing is off its neighbours' are dropped.
4. Each track becomes a candidate staff, extended to where its lines end and moved by
   one line if the lines' ink along its whole length says so (a comb that took a
   beam, a text line or a neighbour's line for its fifth line). Its evidence is
   measured over every column between its ends: how often its lines show, how often
   there is thin ink half way between them.
5. Candidates are merged, strongest first: one that continues a kept staff at the same
   height (overlapping, or across a gap where the lines fade) joins it, one that
   clashes with it (shares lines, or no room between them) is dropped.
6. A staff must be long enough, show its lines, have clean spaces and straight lines
   (text, wood grain and paper texture make combs that fail), and, when its spacing is
   odd for the page, be strong: :func:`_plausible`.
7. All this is done again with the faint lines of the grey page smoothed a little
   across the lines (``SMEARED_LINE_SIGMA_SS``), and that pass wins where it finds more
   staves alike in spacing and length (:func:`_alike`): a line smeared by a shaking
   phone and sharpened prints as two edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
#: A piece continues a track only if its line spacing is within this fraction of the
#: track's last piece's (a comb stretched over ledger lines and the staff's top lines
#: is a stepping stone from the staff onto the ledger lines).
MAX_TRACK_SPACING_CHANGE = 0.2
#: A track may skip this many staff spaces of strips without a match (a dense chord,
#: a clef that hides the lines) before it ends.
MAX_TRACK_GAP_SS = 10.0
#: Steepest line slope followed (dy/dx).
MAX_TRACK_SLOPE = 0.3
#: Shortest staff kept, staff spaces (the beams of a run of 32nd notes or stacked
#: ledger lines make a short comb); a piece of one (a track) may be shorter, down
#: to ``MIN_TRACK_LENGTH_SS``, and needs ``MIN_STAFF_STRIPS`` strips with a match.
MIN_STAFF_LENGTH_SS = 8.0
MIN_TRACK_LENGTH_SS = 5.0
MIN_STAFF_STRIPS = 3
#: Samples whose centre is off the median of their neighbours by more than this,
#: staff spaces, are dropped (a comb caught on a beam or a ledger line).
OUTLIER_SS = 0.3
#: Neighbours in the median filter over samples.
MEDIAN_WINDOW = 5
#: Two candidates at one height with a gap of at most ``MAX_MERGE_GAP_SS`` between
#: them, centres within ``MERGE_TOLERANCE_SS`` (plus 5 % of the gap), are one staff if
#: ``MERGE_MIN_LINES`` of its lines show ink in ``MERGE_MIN_CONTINUITY`` of the gap's
#: columns (or if they meet to within ``ALIGNED_SS``, below).
MAX_MERGE_GAP_SS = 40.0
MERGE_TOLERANCE_SS = 0.6
MERGE_MIN_LINES = 3
MERGE_MIN_CONTINUITY = 0.6
#: The ends of a staff: the lines continue while at least this many of the five have
#: ink within ``END_SEARCH_TOLERANCE_PX`` rows; gaps up to ``END_GAP_PX`` are bridged.
END_MIN_LINES = 4
END_SEARCH_TOLERANCE_PX = 1
END_GAP_PX = 2
#: ... but not through solid ink: columns where the four spaces are inked as well
#: as the lines, for at least this many staff spaces in a row (a dark border or
#: shadow beside the page; a barline or a clef is narrower), end the staff.
END_SOLID_RUN_SS = 1.0
#: System grouping: the rows between two staves are joined at the left end when at
#: least this fraction of them has ink in a window ``BRACE_WINDOW_SS`` (outside,
#: inside) of the later staff start (a brace, a bracket or the system's start line),
#: or a column across the whole gap is inked to ``BARLINE_COVERAGE`` (a barline
#: drawn through).
BRACE_COVERAGE = 0.9
BRACE_WINDOW_SS = (3.5, 0.6)
#: ... and a thin line through the whole gap counts as far as this many staff spaces
#: left of the later staff start (the system's start line, where blur hid the
#: lines' first staff spaces).
START_LINE_REACH_SS = 8.0
#: ... but not further left than this many staff spaces before the page's first
#: staff start (the paper's edge is a thin dark line too).
START_LINE_MARGIN_SS = 1.5
#: Staves that start within this many staff spaces of the image's left side run on
#: out of the photo: what lies at their start is the photo's edge, no brace.
CUT_START_SS = 3.0
#: Ink that reaches within this many staff spaces of the photo's left side is the
#: band beside the paper, not a brace (see :func:`_bracketed`).
EDGE_REACH_SS = 0.5
#: With most staves of a page joined to none (the photo cut off the braces), staves
#: are grouped by the gaps between them (keeping the joins seen), when the gaps
#: fall in two kinds, the wide ones at least ``GAP_SYSTEM_RATIO`` times the narrow
#: ones, and the systems come out of one size, at least 2.
GAP_SYSTEM_RATIO = 1.3
#: ... and when the window is grainy (more than ``GRAIN_PIECES_PER_ROW`` connected
#: pieces of ink per row: the specks of a low-light photo put ink in every row),
#: counting only pieces at least ``BRACE_MIN_PIECE_SS`` staff spaces tall (or half the
#: gap, when it is shorter): a brace or a line, even when the threshold broke it once.
#: A thin start line that the threshold broke into many short dashes, on a clean page,
#: still counts whole.
GRAIN_PIECES_PER_ROW = 0.5
BRACE_MIN_PIECE_SS = 3.0
#: ... the left-end test, on a page whose perspective was undone, only when the two
#: staves start within this many staff spaces of each other (staves of one system
#: start together; staves that start far apart were cut by the edge of the photo,
#: whose border is no start line).
START_ALIGN_SS = 1.5
BARLINE_COVERAGE = 0.97
#: Brackets at staves cut by the photo's left edge group them only into at least
#: this many systems of one size (see :func:`_systems_by_cut_brackets`).
MIN_BRACKETED_SYSTEMS = 2
#: Rows of the gap between two staves sampled for the barline test.
BARLINE_SAMPLES = 24


@dataclass
class Staff:
    """One five-line staff, possibly bent.

    ``xs`` (N,) are sample x positions and ``lines`` (5, N) the y of each line there,
    top line first, normalized-image px; between samples lines are linearly
    interpolated, beyond them held constant (the samples reach past the page's edges,
    carried on along the slope of the lines' ends: ``CARRY_ON_SS``). ``x0``, ``x1``:
    where the lines start and end (px). ``staff_space`` and ``line_thickness``:
    measured on this staff (px). ``system``: index of its :class:`System` (-1 until
    grouped).
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

    def position_y(self, x: float, position: float) -> float:
        """y (px) of staff ``position`` (half staff spaces, 0 = bottom line) at ``x``:
        the inverse of :meth:`position`, between the lines as they run there and
        beyond them by the outer spacing.

        >>> import numpy as np
        >>> s = Staff(0, np.array([0.0, 100.0]), np.array([[10.0, 10], [20, 20], [30, 30], [40, 40], [50, 50]]),
        ...           0.0, 100.0, 10.0, 1.0)
        >>> s.position_y(50, 0), s.position_y(50, 5), s.position_y(50, 9), s.position(50, s.position_y(50, -1.5))
        (50.0, 25.0, 5.0, -1.5)
        """
        ys = [self.line_y(i, x) for i in range(4, -1, -1)]  # bottom line first
        if position >= 8:
            return ys[4] - 0.5 * (position - 8) * (ys[3] - ys[4])
        if position <= 0:
            return ys[0] - 0.5 * position * (ys[0] - ys[1])
        return float(np.interp(position, [0.0, 2.0, 4.0, 6.0, 8.0], ys))

    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 (px): the lines' extent, from the highest point of the top
        line to the lowest of the bottom line."""
        inside = (self.xs > self.x0) & (self.xs < self.x1)
        ends = [self.x0, self.x1]
        top = np.concatenate([self.lines[0][inside], self.line_y(0, ends)])
        bottom = np.concatenate([self.lines[4][inside], self.line_y(4, ends)])
        return (float(self.x0), float(top.min()), float(self.x1), float(bottom.max()))

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


def off_line(position: float) -> float:
    """Half staff spaces from a staff ``position`` (:meth:`Staff.position`) to the
    nearest staff or ledger line's place (lines lie at even positions).

    >>> off_line(4.5), off_line(-3.0), off_line(8.0)
    (0.5, 1.0, 0.0)
    """
    return abs(position - 2 * round(position / 2))


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
        kk = np.arange(5.0)[ok]
        # weighted least squares line through the comb's lines (np.polyfit, faster)
        wt = weights[ok] ** 2
        sw = wt.sum()
        km, lm = (wt * kk).sum() / sw, (wt * lines[ok]).sum() / sw
        slope = float((wt * (kk - km) * (lines[ok] - lm)).sum() / (wt * (kk - km) ** 2).sum())
        icpt = lm - slope * km
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
            spacing = float(lines[4] - lines[0])
            best, best_d = -1, np.inf
            for t in active:
                if t in used:
                    continue
                tr = tracks[t]
                jl, ll = tr[-1]
                if abs(spacing / float(ll[4] - ll[0]) - 1.0) > MAX_TRACK_SPACING_CHANGE:
                    continue
                slope = 0.0
                if len(tr) >= 2:
                    j0, l0 = tr[max(0, len(tr) - 4)]
                    if jl > j0:
                        slope = min(MAX_TRACK_SLOPE, max(-MAX_TRACK_SLOPE, float(ll[2] - l0[2]) / ((jl - j0) * width)))
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
    padded = np.pad(v, r, mode="reflect")  # an end sample is judged by its neighbours
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1)
    return np.median(windows, axis=1)


def _extend_end(binary: np.ndarray, xs: np.ndarray, lines: np.ndarray, x_start: int, step: int) -> int:
    """Walk from ``x_start`` in direction ``step`` while the staff's lines have ink: at
    least ``END_MIN_LINES`` of them in a column, gaps of up to ``END_GAP_PX`` bridged."""
    w = binary.shape[1]
    x = x_start
    chunk = 256
    while True:
        end = x + step * chunk
        cols = np.arange(x + step, min(w, end + 1) if step > 0 else max(-1, end - 1), step)
        if len(cols) == 0:
            return x
        ys = np.stack([np.interp(cols, xs, lines[i]) for i in range(5)])
        lined = _line_hits(binary, cols, ys).sum(axis=0) >= END_MIN_LINES
        spaces = _line_hits(binary, cols, 0.5 * (ys[:-1] + ys[1:])).all(axis=0)
        ss = float(np.mean(lines[4] - lines[0])) / 4.0
        lined &= ~_long_runs(lined & spaces, END_SOLID_RUN_SS * ss)
        ok = np.flatnonzero(lined) + 1  # offsets
        jumps = np.diff(np.concatenate([[0], ok]))
        stop = np.flatnonzero(jumps > END_GAP_PX + 1)
        if stop.size:
            return x + step * (int(ok[stop[0] - 1]) if stop[0] > 0 else 0)
        if len(ok) == 0 or len(cols) - ok[-1] > END_GAP_PX:
            # no ink near the end of this chunk: the walk stops at the last inked column
            return x + step * (int(ok[-1]) if len(ok) else 0)
        x = x + step * int(ok[-1])


def _long_runs(flags: np.ndarray, min_length: float) -> np.ndarray:
    """``flags`` (C,) bool, keeping only the runs of True at least ``min_length`` long.

    >>> _long_runs(np.array([1, 1, 0, 1, 1, 1, 0], bool), 3).astype(int).tolist()
    [0, 0, 0, 1, 1, 1, 0]
    """
    out = np.zeros_like(flags)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start >= min_length:
            out[start:stop] = True
    return out


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
    ys = la[:, None] + t[None, :] * (lb - la)[:, None]
    good = int((_line_hits(binary, cols, ys).sum(axis=0) >= MERGE_MIN_LINES).sum())
    return good >= MERGE_MIN_CONTINUITY * len(cols)


def find_staves(page_image_gray: np.ndarray, staff_space_px: float, *, binary: np.ndarray | None = None) -> list[Staff]:
    """The five-line staves of a normalized page, top to bottom.

    ``page_image_gray`` is a ``uint8`` grey page with white paper and staff space
    about ``staff_space_px`` px (a :class:`~omr.page.NormalizedPage` image).
    ``binary`` (True = ink) may be passed if already computed. Staves that bend are
    followed, faint or faded lines too; stray lines (a text underline, a beam, a lone
    ledger line, lyrics, wood grain) are not staves. An empty list when there is none.
    """
    gray = np.asarray(page_image_gray)
    if gray.ndim != 2:
        raise ValueError("find_staves needs a 2-D grey image")
    ss = float(staff_space_px)
    if not ss > 0:
        raise ValueError(f"staff_space_px must be positive, got {staff_space_px!r}")
    if binary is None:
        binary = binarize(gray.astype(np.uint8), ss)
    # faint or blurred lines that the plain threshold loses (in places or everywhere):
    # the grey page averaged along the lines, thresholded against the paper's noise
    faint = faint_line_binary(gray, ss)
    staves = _find_staves_in(binary, ss, faint=faint)
    # Further passes, each taken where it finds more staves alike (see _alike):
    # lines smeared across by a shaking phone, then sharpened by it, print as bands
    # with a dark edge each side: two faint lines for each line, ten for a staff.
    # Smoothed a little across, each band is one line again. And the grain of a dim
    # photo hides faint lines from an average over FAINT_WINDOW_SS; averaged over
    # GRAINY_WINDOW_SS (the page as it is, and smoothed) they stand out of it.
    sigma = SMEARED_LINE_SIGMA_SS * ss
    soft = cv2.GaussianBlur(gray.astype(np.uint8), (1, 2 * int(np.ceil(3 * sigma)) + 1), 0, sigmaY=sigma)
    passes = ((soft, FAINT_WINDOW_SS, False), (gray, GRAINY_WINDOW_SS, True), (soft, GRAINY_WINDOW_SS, True))
    for grey, window, grainy_only in passes:
        lines = faint_line_binary(grey, ss, window_ss=window, grainy_only=grainy_only)
        if lines is not None:
            found = _alike(_find_staves_in(binary, ss, faint=lines, window_ss=window))
            if len(found) > len(staves):
                staves = found
    for i, s in enumerate(staves):
        s.index = i
    return staves


def _alike(staves: list[Staff]) -> list[Staff]:
    """The staves of a smoothed pass that look like the page's staves: spacing within
    ``SMEARED_SPACING_TOLERANCE`` of their median, at least ``SMEARED_MIN_LENGTH`` as
    long as the longest (smoothing makes short combs of ledger lines and beams)."""
    if not staves:
        return []
    spacing = float(np.median([s.staff_space for s in staves]))
    longest = max(s.x1 - s.x0 for s in staves)
    return [s for s in staves if abs(s.staff_space - spacing) <= SMEARED_SPACING_TOLERANCE * spacing
            and s.x1 - s.x0 >= SMEARED_MIN_LENGTH * longest]


#: Faint lines: horizontal averaging window, staff spaces (1.5: low-light grain hides
#: lines that 1.0 does not bring out; longer ones cut the bends of page curl and move
#: where staves seem to start), and the threshold below the paper's grey level, in
#: robust standard deviations of the averaged paper.
FAINT_WINDOW_SS = 1.5
FAINT_NOISE_SIGMAS = 3.0
FAINT_MIN_DEPTH = 4.0
#: ... and at least ``FAINT_REL_DEPTH`` of the depth of the page's strong lines (the
#: ``FAINT_STRONG_PERCENTILE`` percentile of the averaged top-hat): paper texture and
#: grain stay below it, faded lines of a page with dark ones above.
FAINT_REL_DEPTH = 0.15
FAINT_STRONG_PERCENTILE = 99.0
#: Every page is searched a second time with the grey page smoothed across the lines
#: (Gaussian sigma, staff spaces): lines smeared by motion blur and sharpened print as
#: two edges each, which this merges into one line (0.3 merges neighbouring lines).
SMEARED_LINE_SIGMA_SS = 0.15
#: ... where it also makes short combs of ledger lines and beams: a staff of that pass
#: counts if its spacing is within this fraction of the others' and it is at least
#: this fraction as long as the longest.
SMEARED_SPACING_TOLERANCE = 0.08
SMEARED_MIN_LENGTH = 0.5
#: Pages whose grain sets the faint-line threshold (``FAINT_NOISE_SIGMAS`` times its
#: noise above the depth terms: dim photos) are searched again, as they are and
#: smoothed as in the smeared pass, averaged over this many staff spaces along the
#: rows (the lines run on, the grain averages away); a pass that finds more staves
#: (alike, as in the smeared pass) stands.
GRAINY_WINDOW_SS = 3.0


def faint_line_binary(gray: np.ndarray, staff_space_px: float, *, window_ss: float = FAINT_WINDOW_SS,
                      grainy_only: bool = False) -> np.ndarray | None:
    """Mask of faint, blurred staff lines: the vertical black top-hat of the grey page
    (darkness in features thinner than about half a staff space: lines, not noteheads
    or stems) averaged over ``window_ss`` staff spaces along the rows, thresholded
    ``FAINT_NOISE_SIGMAS`` noise levels above that of the paper. None when nothing
    stands out, or (``grainy_only``) where the paper's grain does not set the
    threshold (the depth terms do: a page clean enough for the shorter average)."""
    g = np.asarray(gray)
    if g.dtype != np.uint8:
        g = np.clip(g, 0, 255).astype(np.uint8)
    ss = float(staff_space_px)
    tall = max(3, int(round(0.7 * ss)) | 1)
    hat = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (1, tall)))
    k = max(3, int(round(window_ss * ss)))
    sm = cv2.blur(hat.astype(np.float32), (k, 1))
    step = max(1, int(np.sqrt(sm.size / 250_000)))
    sample = sm[::step, ::step]
    base = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - base)))
    # the paper is flat white after flatten_illumination, so its noise says little about
    # its texture: a line must also be a fair part as dark as the page's darkest lines
    strong = float(np.percentile(sample, FAINT_STRONG_PERCENTILE))
    depth = max(FAINT_MIN_DEPTH, FAINT_REL_DEPTH * (strong - base))
    if grainy_only and FAINT_NOISE_SIGMAS * sigma <= depth:
        return None
    t = base + max(depth, FAINT_NOISE_SIGMAS * sigma)
    # keep the ridge (the darkest row, or both rows of a two-row plateau) of each
    # blurred line, widened by a row each way, centred on the line: thick blurred
    # lines would otherwise fail the thickness test of staff_line_mask
    up = np.vstack([sm[:1], sm[:-1]])
    down = np.vstack([sm[1:], sm[-1:]])
    out = (sm > t) & (sm >= up) & (sm >= down)
    out = cv2.dilate(out.astype(np.uint8), np.ones((3, 1), np.uint8)).astype(bool)
    if not out.any():
        return None
    return out


def _find_staves_in(binary: np.ndarray, ss: float, faint: np.ndarray | None = None,
                    window_ss: float = FAINT_WINDOW_SS) -> list[Staff]:
    h, w = binary.shape
    width = max(4, int(round(STRIP_WIDTH_SS * ss)))
    if w < width or h < 5 * ss:
        return []
    mask = staff_line_mask(binary, ss)
    if faint is not None:
        cv2.bitwise_or(mask, staff_line_mask(faint, ss), dst=mask)
    # where lines may run: printed ink, and faint lines (averaged along the rows over
    # window_ss staff spaces: their ends overrun by half that)
    union = None if faint is None else binary | faint
    overrun = int(np.ceil(0.5 * window_ss * ss))
    ink = (binary, union, overrun)
    profile = _strip_profiles(mask, width)
    pieces = _comb_pieces(profile, ss)
    tracks = _track(pieces, width, ss)
    tracks = [t for t in tracks if len(t) >= MIN_STAFF_STRIPS and (t[-1][0] - t[0][0] + 1) * width >= MIN_TRACK_LENGTH_SS * ss]
    cands = []
    for t in tracks:
        c = _candidate(t, width, ss)
        if c is None:
            continue
        c = _realign(c, mask, ink, ss)
        if c is not None:
            cands.append(c)
    kept = _consolidate(cands, mask, ink, ss)

    kept = [c for c in kept if _plausible(c, ss)]
    if kept:
        # staves on a page share a size: an odd one out must be strong
        sp = np.array([_spacing(c) for c in kept])
        common = float(np.median(np.repeat(sp, [max(1, int(c.strength)) for c in kept])))
        kept = [c for c, v in zip(kept, sp) if abs(v / common - 1.0) <= ODD_SPACING
                or (c.coverage >= ODD_MIN_COVERAGE and c.x1 - c.x0 >= ODD_MIN_LENGTH_SS * ss)]

    for c in kept:
        _follow_bends(c, mask, ss)
        _even_lines(c)
    staves = []
    for c in kept:
        xs, lines = _carried_on(c, ss, 0.0)
        staff_sp = float(np.median((lines[4] - lines[0]) / 4.0))
        thickness = _thickness(binary, xs, lines, ss)
        xs, lines = _carried_on(c, ss, max(CARRY_ON_SS * ss, float(binary.shape[1])))
        staves.append(Staff(index=0, xs=xs.astype(np.float64), lines=lines.astype(np.float64),
                            x0=float(c.x0), x1=float(c.x1), staff_space=staff_sp,
                            line_thickness=thickness))
    staves.sort(key=lambda s: (s.center_y, s.x0))  # top to bottom
    for i, s in enumerate(staves):
        s.index = i
    return staves


#: Following a staff's lines round a bend beyond its outermost samples (a page
#: curling at the binding bends them ever more steeply towards their end, where the
#: clef stands): steps of ``FOLLOW_STEP_SS``, in each of which the lines may turn by up
#: to ``FOLLOW_MAX_TURN_SS`` from where their slope carries them (to at most
#: ``FOLLOW_MAX_SLOPE``); a step is taken while at least ``FOLLOW_MIN_COVERAGE`` of its
#: columns show thin line ink (no brace, barline or clef stroke) at ``END_MIN_LINES``
#: of the lines. The slope to start from is fitted over the samples within
#: ``FOLLOW_FIT_SS`` of the end.
FOLLOW_STEP_SS = 1.0
FOLLOW_MAX_TURN_SS = 0.3
FOLLOW_MAX_SLOPE = 0.6
FOLLOW_MIN_COVERAGE = 0.5
FOLLOW_FIT_SS = 4.0


def _follow_bends(c: "_Cand", mask: np.ndarray, ss: float) -> None:
    """Add samples to ``c`` beyond its outermost ones where its lines go on round a
    bend (see ``FOLLOW_STEP_SS``; ``mask``: thin line ink, :func:`staff_line_mask`),
    and move its ends ``x0``, ``x1`` out to them."""
    w = mask.shape[1]
    step = max(2, int(round(FOLLOW_STEP_SS * ss)))
    turn = max(1, int(round(FOLLOW_MAX_TURN_SS * ss)))
    for side in (-1, 1):
        end = 0 if side < 0 else -1
        x, y = float(c.xs[end]), c.lines[:, end].copy()
        near = np.abs(c.xs - x) <= FOLLOW_FIT_SS * ss
        k = (float(np.polyfit(c.xs[near], c.lines[2][near], 1)[0]) if near.sum() >= 2 and np.ptp(c.xs[near]) > 0
             else _end_slope(c, x + side, ss))
        k = float(np.clip(k, -FOLLOW_MAX_SLOPE, FOLLOW_MAX_SLOPE))
        added = []
        while True:
            cols = x + side * np.arange(1, step + 1)
            cols = cols[(cols >= 0) & (cols < w)].astype(np.int64)
            if len(cols) < step:
                break
            along = (cols - x) * side / step  # 0 .. 1 over the step
            carried = y[:, None] + k * (cols - x)[None, :]
            best, best_d, best_seen = -1.0, 0, None
            for d in sorted(range(-turn, turn + 1), key=abs):  # (ties: the straighter)
                ys = carried + d * along[None, :]
                seen = _line_hits(mask, cols, ys).sum(axis=0) >= END_MIN_LINES
                if seen.mean() > best:
                    best, best_d, best_seen = float(seen.mean()), d, seen
            if best < FOLLOW_MIN_COVERAGE:
                break
            xn = x + side * step
            yn = y + k * (xn - x) + best_d
            k = float(np.clip((yn[2] - y[2]) / (xn - x), -FOLLOW_MAX_SLOPE, FOLLOW_MAX_SLOPE))
            x, y = xn, yn
            added.append((x, y, float(cols[np.flatnonzero(best_seen)[-1]])))  # (its outermost inked column)
        if not added:
            continue
        xs = np.array([a[0] for a in added])
        lines = np.stack([a[1] for a in added], axis=1)
        if side < 0:
            c.xs, c.lines = np.concatenate([xs[::-1], c.xs]), np.concatenate([lines[:, ::-1], c.lines], axis=1)
            c.x0 = min(c.x0, added[-1][2])
        else:
            c.xs, c.lines = np.concatenate([c.xs, xs]), np.concatenate([c.lines, lines], axis=1)
            c.x1 = max(c.x1, added[-1][2])


#: A staff's lines are carried on beyond where they were found, along the slope of
#: their ends, at least this far (staff spaces) and as far as the page goes: a clef
#: whose lines the photo lost, and a staff's end whose lines fade in shadow (seed 3
#: 000007-p1: the bass staff was found to x 748 of its system's 1,020; held level
#: beyond 8 staff spaces, its last measure read a step high).
CARRY_ON_SS = 8.0


#: A staff's five lines are evenly spaced, and their spacing changes only slowly
#: along the staff (page curl): each sample's lines are replaced by the evenly spaced
#: comb that fits them best, with the median spacing of the samples within
#: ``EVEN_SPACING_WINDOW_SS`` staff spaces each side. On faint lines a comb can catch
#: grain beside a line: samples a few staff spaces apart differed by 15 % in spacing
#: (rest-rich 000015-p4), which put the outer lines a quarter space off and notes a
#: step off there.
EVEN_SPACING_WINDOW_SS = 6.0


def _even_lines(c: "_Cand") -> None:
    """Set ``c.lines`` to evenly spaced combs whose spacing follows the median of the
    samples nearby (see ``EVEN_SPACING_WINDOW_SS``), centred where the sample's lines
    are on average.

    >>> import numpy as np
    >>> c = _Cand(xs=np.array([0.0, 20.0, 40.0]),
    ...           lines=np.array([[0.0, 0, -2], [10, 10, 8], [20, 20, 20], [30, 30, 32], [40, 40, 42]]))
    >>> _even_lines(c); c.lines[:, 2].tolist()
    [0.0, 10.0, 20.0, 30.0, 40.0]
    """
    offsets = np.arange(5, dtype=np.float64) - 2.0  # line index about the middle line
    centre = c.lines.mean(axis=0)
    spacing = (offsets @ c.lines) / float(offsets @ offsets)
    ss = float(np.median(spacing))
    smooth = np.array([np.median(spacing[np.abs(c.xs - x) <= EVEN_SPACING_WINDOW_SS * ss]) for x in c.xs])
    c.lines = centre[None, :] + offsets[:, None] * smooth[None, :]


def _carried_on(c: "_Cand", ss: float, beyond: float) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``c`` with its lines carried on to its ends ``x0``, ``x1`` and
    ``beyond`` px further, each end along its slope there (:func:`_end_slope`)."""
    xs, lines = c.xs, c.lines
    x_left = np.array(sorted({c.x0 - beyond, c.x0}))
    x_left = x_left[x_left < xs[0]]
    x_right = np.array(sorted({c.x1, c.x1 + beyond}))
    x_right = x_right[x_right > xs[-1]]
    k_left, k_right = _end_slope(c, xs[0] - 1.0, ss), _end_slope(c, xs[-1] + 1.0, ss)
    left = lines[:, :1] + k_left * (x_left - xs[0])[None, :]
    right = lines[:, -1:] + k_right * (x_right - xs[-1])[None, :]
    return np.concatenate([x_left, xs, x_right]), np.concatenate([left, lines, right], axis=1)


# ---------------------------------------------------------------------------
# Staff candidates: checked, realigned, merged
# ---------------------------------------------------------------------------

#: Realigning a candidate: its lines' ink is averaged along it over
#: ``±REALIGN_RANGE_SS`` staff spaces about its middle line; it moves by one line
#: when the line gained has at least ``REALIGN_MARGIN`` more coverage than the line lost
#: (a comb that took a beam, a text line or a neighbour's line for its fifth line).
REALIGN_RANGE_SS = 3.5
REALIGN_MARGIN = 0.1
#: Realigning part of a candidate (see :func:`_realign_locally`): the ink of its five
#: lines is averaged over ``±LOCAL_REALIGN_SS`` staff spaces; a move by one line must
#: gain ``LOCAL_REALIGN_MARGIN`` of that average.
LOCAL_REALIGN_SS = 3.0
LOCAL_REALIGN_MARGIN = 0.05
#: A staff's evidence, over every column between its ends: the fraction of columns in
#: which at least ``EVIDENCE_MIN_LINES`` of its lines have thin-line ink within
#: ``END_SEARCH_TOLERANCE_PX`` must reach ``MIN_STAFF_COVERAGE``; the rows half way
#: between its lines (where only noteheads and stems cross) may have thin-line ink in at
#: most ``MAX_SPACE_INK`` of their columns (text, wood grain and paper texture make
#: combs with ink between the "lines").
EVIDENCE_MIN_LINES = 4
MIN_STAFF_COVERAGE = 0.3
MAX_SPACE_INK = 0.25
#: ... or ``STRAIGHT_MIN_COVERAGE`` for a staff at least ``SHORT_STAFF_SS`` long, as
#: straight as ``SHORT_MAX_WOBBLE_SS`` and as clean as ``SHORT_MAX_SPACE_INK`` (lines
#: in a photo's grain, broken into pieces too short for the thin-line mask; it needs
#: ``STRAIGHT_MIN_CLEAN_COVERAGE`` below instead of ``MIN_CLEAN_COVERAGE``).
STRAIGHT_MIN_COVERAGE = 0.2
STRAIGHT_MIN_CLEAN_COVERAGE = 0.1
#: Lines against spaces: coverage less ``SPACE_INK_WEIGHT`` times the space ink must
#: reach ``MIN_CLEAN_COVERAGE`` (two lines of lyrics: broken "lines", inked "spaces").
SPACE_INK_WEIGHT = 2.0
MIN_CLEAN_COVERAGE = 0.2
#: A staff whose spacing is off the page's common one (strength-weighted median) by
#: more than ``ODD_SPACING`` is kept only with coverage ``ODD_MIN_COVERAGE`` over
#: ``ODD_MIN_LENGTH_SS`` staff spaces or more (a cue staff is printed whole).
ODD_SPACING = 0.15
ODD_MIN_COVERAGE = 0.8
ODD_MIN_LENGTH_SS = 10.0
#: Largest median bend of a staff's middle line from one sample to the next two
#: (second difference), staff spaces: printed lines are smooth, combs on texture zigzag.
MAX_WOBBLE_SS = 0.1
#: ... twice that for a staff whose lines show in at least ``CLEAN_STAFF_COVERAGE``
#: of its columns with at most ``SHORT_MAX_SPACE_INK`` of its spaces' columns inked
#: (faint lines, found on a blurred mask, wobble from sample to sample; a comb on
#: texture is not that whole and clean).
CLEAN_STAFF_COVERAGE = 0.8
CLEAN_MAX_WOBBLE_SS = 0.2
#: A staff shorter than ``SHORT_STAFF_SS`` whose lines show in fewer than
#: ``SHORT_MIN_COVERAGE`` of its columns must also be clean: thin-line ink in at most
#: ``SHORT_MAX_SPACE_INK`` of its spaces' columns and a wobble of at most
#: ``SHORT_MAX_WOBBLE_SS`` (a few words of two lyric lines, a knot in wood grain).
SHORT_STAFF_SS = 30.0
SHORT_MIN_COVERAGE = 0.8
SHORT_MAX_SPACE_INK = 0.1
SHORT_MAX_WOBBLE_SS = 0.05
#: Two candidates apart in x whose lines meet across the gap to within
#: ``ALIGNED_SS`` staff spaces (plus 2 % of the gap for bending) are one staff even
#: where its lines do not show in the gap (faded, in a shadow or glare).
ALIGNED_SS = 0.3
#: Length of a piece's end over which its line is fitted to carry it on, staff spaces.
FIT_RANGE_SS = 20.0
#: Two candidates overlapping in x are one staff when their middle lines are within
#: ``SAME_STAFF_SS`` staff spaces and their spacings within ``SAME_SPACING`` of each
#: other; otherwise they clash (share lines, or no gap between them) when their
#: middle lines are closer than ``STAFF_CLEARANCE_SS``, and the weaker one goes.
SAME_STAFF_SS = 0.5
SAME_SPACING = 0.15
STAFF_CLEARANCE_SS = 4.5
#: A candidate that clashes with a stronger one only over its end (a comb that slid a
#: line up or down where a bent staff crosses beams and hairpins) joins it if, without
#: its samples within ``BEND_TRIM_SS`` staff spaces of the stronger one's ends, it is
#: the same staff carried on (see :func:`_trim_outside`).
BEND_TRIM_SS = 8.0


@dataclass
class _Cand:
    """A staff candidate: samples ``xs`` (N,), ``lines`` (5, N), ends ``x0``, ``x1`` (px)
    and its evidence (see :func:`_evidence`)."""

    xs: np.ndarray
    lines: np.ndarray
    x0: float = 0.0
    x1: float = 0.0
    coverage: float = 0.0
    space_ink: float = 1.0
    strength: float = 0.0


def _clean_samples(xs: np.ndarray, lines: np.ndarray, ss: float):
    """Samples whose middle line and spacing agree with their neighbours' medians (a
    comb caught on a beam or a ledger line does not); None if too few are left."""
    centre = lines[2]
    med = _median_filter(centre, MEDIAN_WINDOW)
    spacing = (lines[4] - lines[0]) / 4.0
    med_sp = _median_filter(spacing, MEDIAN_WINDOW)
    good = (np.abs(centre - med) <= OUTLIER_SS * ss) & (np.abs(spacing - med_sp) <= 0.15 * ss)
    if good.sum() < MIN_STAFF_STRIPS:
        return None
    return xs[good].astype(np.float64), lines[:, good].astype(np.float64)


def _candidate(t: list, width: int, ss: float) -> _Cand | None:
    """A track's samples, outliers dropped."""
    js = np.array([j for j, _ in t])
    lines = np.array([l for _, l in t]).T  # (5, N)
    xs = js * width + (width - 1) / 2.0
    kept = _clean_samples(xs, lines, ss)
    return None if kept is None else _Cand(xs=kept[0], lines=kept[1])


def _columns(c: _Cand, w: int, x0: float | None = None, x1: float | None = None) -> np.ndarray:
    a = c.x0 if x0 is None else x0
    b = c.x1 if x1 is None else x1
    cols = np.arange(int(np.ceil(a)), int(np.floor(b)) + 1)
    return cols[(cols >= 0) & (cols < w)]


def _line_hits(mask: np.ndarray, cols: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(K, C) bool: ink in ``mask`` within ``END_SEARCH_TOLERANCE_PX`` rows of ``ys``
    (K, C) in columns ``cols`` (C,), rows outside the image ignored."""
    h = mask.shape[0]
    yi = np.round(ys).astype(np.int64)
    c = np.broadcast_to(cols, ys.shape)
    out = np.zeros(ys.shape, bool)
    for d in range(-END_SEARCH_TOLERANCE_PX, END_SEARCH_TOLERANCE_PX + 1):
        r = yi + d
        out |= (r >= 0) & (r < h) & (mask[np.clip(r, 0, h - 1), c] > 0)
    return out


def _interp_lines(c: _Cand, cols: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(cols, c.xs, c.lines[i]) for i in range(5)])


def _evidence(c: _Cand, mask: np.ndarray) -> None:
    """Set ``coverage``, ``space_ink`` and ``strength`` (columns with the lines) of ``c``."""
    cols = _columns(c, mask.shape[1])
    if len(cols) == 0:
        c.coverage, c.space_ink, c.strength = 0.0, 1.0, 0.0
        return
    ys = _interp_lines(c, cols)
    good = _line_hits(mask, cols, ys).sum(axis=0) >= EVIDENCE_MIN_LINES
    mids = _line_hits(mask, cols, 0.5 * (ys[:-1] + ys[1:]))
    c.coverage = float(good.mean())
    c.space_ink = float(mids.mean())
    c.strength = float(good.sum())


def _walk_in(binary: np.ndarray, c: _Cand, start: int, step: int, stop: int) -> int | None:
    """First column from ``start`` towards ``stop`` (direction ``step``) where at least
    ``END_MIN_LINES`` of the lines of ``c`` have ink; None if there is none."""
    w = binary.shape[1]
    cols = np.arange(start, stop + step, step)
    cols = cols[(cols >= 0) & (cols < w)]
    if len(cols) == 0:
        return None
    ok = np.flatnonzero(_line_hits(binary, cols, _interp_lines(c, cols)).sum(axis=0) >= END_MIN_LINES)
    return int(cols[ok[0]]) if len(ok) else None


def _extend(c: _Cand, ink: tuple) -> None:
    """Find the ends of ``c``: from its outermost samples (moved inwards onto inked
    lines: a weak comb can sit just past the lines' end) outwards while the lines
    have ink. ``ink`` is (printed ink, ink with faint lines or None, px by which faint
    lines overrun their ends): the faint mask is blurred along the rows, so an end
    found only in it is pulled back by that much."""
    binary, union, overrun = ink
    first, last = int(round(c.xs[0])), int(round(c.xs[-1]))
    ends = []
    for start, step, stop in ((first, -1, last), (last, +1, first)):
        x = None
        sb = _walk_in(binary, c, start, -step, stop)
        if sb is not None:
            x = _extend_end(binary, c.xs, c.lines, sb, step)
        if union is not None:
            su = _walk_in(union, c, start, -step, stop)
            if su is not None:
                xu = _extend_end(union, c.xs, c.lines, su, step) - step * overrun
                if x is None or (xu - x) * step > END_GAP_PX + 1:
                    x = xu if (xu - su) * step >= 0 else su
        ends.append(start if x is None else x)
    c.x0, c.x1 = float(ends[0]), float(ends[1])
    if c.x1 < c.x0:
        c.x0 = c.x1 = 0.5 * (c.x0 + c.x1)


def _realign(c: _Cand, mask: np.ndarray, ink: tuple, ss: float) -> _Cand | None:
    """Move ``c`` up or down by one line where that fits the lines' ink better along
    its whole length, then find its ends and evidence."""
    _extend(c, ink)
    cols = _columns(c, mask.shape[1])
    if len(cols) == 0:
        return None
    centre = np.interp(cols, c.xs, c.lines[2])
    sp = np.interp(cols, c.xs, (c.lines[4] - c.lines[0]) / 4.0)
    step = 0.1
    us = np.arange(-REALIGN_RANGE_SS, REALIGN_RANGE_SS + 1e-9, step)
    ys = centre[None, :] + us[:, None] * sp[None, :]
    prof = _line_hits(mask, cols, ys).mean(axis=1)
    r = int(round(0.25 / step))

    def peak(u: float) -> float:
        i = int(round((u + REALIGN_RANGE_SS) / step))
        return float(prof[max(0, i - r) : i + r + 1].max())

    base = sum(peak(k) for k in range(-2, 3))
    best, shift = base, 0
    for k in (-1, 1):
        score = sum(peak(k + i) for i in range(-2, 3))
        if score > best + REALIGN_MARGIN:
            best, shift = score, k
    if not shift:
        shift = _shift_onto_covered_line(ink[0], cols, centre, sp)
    if shift:
        spacing = (c.lines[4] - c.lines[0]) / 4.0
        c.lines = c.lines + shift * spacing[None, :]
        _extend(c, ink)
    if _realign_locally(c, mask, ink[0] if ink[1] is None else ink[1], ss):
        _extend(c, ink)
    _evidence(c, mask)
    return c


#: A staff also moves by one line where the line beyond one end has ink (thin line
#: ink, or a beam lying over it) in at least ``REALIGN_COVERED`` of its columns and the
#: line at the other end in at most ``REALIGN_UNCOVERED``: a bottom line under beams
#: all along, with ledger lines above that the thin-line ink takes for the top line.
REALIGN_COVERED = 0.9
REALIGN_UNCOVERED = 0.5


def _shift_onto_covered_line(binary: np.ndarray, cols: np.ndarray, centre: np.ndarray, sp: np.ndarray) -> int:
    """-1 (up), 1 (down) or 0: the move of :data:`REALIGN_COVERED` (``centre``, ``sp``:
    the staff's middle line and spacing at ``cols``)."""
    for k in (-1, 1):
        gained = _line_hits(binary, cols, (centre + 3 * k * sp)[None])[0].mean()
        lost = _line_hits(binary, cols, (centre - 2 * k * sp)[None])[0].mean()
        if gained >= REALIGN_COVERED and lost <= REALIGN_UNCOVERED:
            return k
    return 0


def _realign_locally(c: _Cand, mask: np.ndarray, any_ink: np.ndarray, ss: float) -> bool:
    """Move the samples of ``c`` by one line where, over ``±LOCAL_REALIGN_SS`` staff
    spaces about them, that fits the lines' ink better by ``LOCAL_REALIGN_MARGIN`` (a
    track that drifted onto a beam for a few measures): the line gained has thin-line
    ink in ``mask`` more often than the line lost has any ink in ``any_ink`` (ledger
    lines above a staff whose bottom line runs under a beam are no reason to move).
    Samples where neither fits better take the move of the samples on both sides
    when those agree; a move holds only for a run of ``MIN_STAFF_STRIPS`` samples,
    and only where another part of ``c`` clearly stays (a move of all of it is
    :func:`_realign`'s). Samples left out of line with their neighbours are
    dropped. True if ``c`` changed."""
    if len(c.xs) < MIN_STAFF_STRIPS:
        return False
    lo, hi = int(np.floor(c.xs[0])), int(np.ceil(c.xs[-1]))
    cols = np.arange(max(0, lo), min(mask.shape[1] - 1, hi) + 1)
    if len(cols) == 0:
        return False
    ys = _interp_lines(c, cols)
    sp = (ys[4] - ys[0]) / 4.0
    kernel = np.ones(2 * int(round(LOCAL_REALIGN_SS * ss)) + 1)
    kernel /= 5.0 * kernel.sum()  # as a share of the five lines
    at = np.clip(np.round(c.xs).astype(np.int64) - cols[0], 0, len(cols) - 1)

    def smooth(hits: np.ndarray) -> np.ndarray:
        return np.convolve(hits.astype(np.float64), kernel, "same")[at]

    # a move gains the line beyond one end (thin-line ink) and loses the line at the
    # other, which is kept if any ink covers it (a beam over the bottom line)
    gained = {k: smooth(_line_hits(mask, cols, (ys[2 + 2 * k] + k * sp)[None])[0]) for k in (-1, 1)}
    lost = {k: smooth(_line_hits(any_ink, cols, ys[2 - 2 * k][None])[0]) for k in (-1, 1)}
    score = {k: gained[k] - lost[k] for k in (-1, 1)}
    gain = np.maximum(score[-1], score[1])
    move = np.where(score[1] >= score[-1], 1, -1)
    clear = np.where(gain > LOCAL_REALIGN_MARGIN, move, 0)
    decided = (gain > LOCAL_REALIGN_MARGIN) | (gain < -LOCAL_REALIGN_MARGIN)
    if not clear.any() or not (gain < -LOCAL_REALIGN_MARGIN).any():
        return False  # all of it fits one way: the whole candidate's move is _realign's
    shift = clear.copy()
    idx = np.flatnonzero(decided)
    for i in np.flatnonzero(~decided):
        left, right = idx[idx < i], idx[idx > i]
        sides = [clear[left[-1]]] if len(left) else []
        sides += [clear[right[0]]] if len(right) else []
        if sides and all(v == sides[0] for v in sides):
            shift[i] = sides[0]
    # a move holds for a run of at least MIN_STAFF_STRIPS samples, not one
    start = 0
    for i in range(1, len(shift) + 1):
        if i == len(shift) or shift[i] != shift[start]:
            if i - start < MIN_STAFF_STRIPS:
                shift[start:i] = 0
            start = i
    if not shift.any():
        return False
    spacing = (c.lines[4] - c.lines[0]) / 4.0
    kept = _clean_samples(c.xs, c.lines + shift[None, :] * spacing[None, :], ss)
    if kept is None:
        return False
    c.xs, c.lines = kept
    return True


def _spacing(c: _Cand) -> float:
    return float(np.median(c.lines[4] - c.lines[0])) / 4.0


def _plausible(c: _Cand, ss: float) -> bool:
    """Is candidate ``c`` a printed staff by its own evidence (see the constants)?"""
    length = c.x1 - c.x0
    if length < MIN_STAFF_LENGTH_SS * ss:
        return False
    wobble = _wobble(c)
    straight = (length >= SHORT_STAFF_SS * ss and wobble <= SHORT_MAX_WOBBLE_SS * ss
                and c.space_ink <= SHORT_MAX_SPACE_INK)
    if c.coverage < (STRAIGHT_MIN_COVERAGE if straight else MIN_STAFF_COVERAGE) or c.space_ink > MAX_SPACE_INK:
        return False
    if c.coverage - SPACE_INK_WEIGHT * c.space_ink < (STRAIGHT_MIN_CLEAN_COVERAGE if straight else MIN_CLEAN_COVERAGE):
        return False
    clean = c.coverage >= CLEAN_STAFF_COVERAGE and c.space_ink <= SHORT_MAX_SPACE_INK
    if wobble > (CLEAN_MAX_WOBBLE_SS if clean else MAX_WOBBLE_SS) * ss:
        return False
    if (length < SHORT_STAFF_SS * ss and c.coverage < SHORT_MIN_COVERAGE
            and (c.space_ink > SHORT_MAX_SPACE_INK or wobble > SHORT_MAX_WOBBLE_SS * ss)):
        return False  # a short, broken comb with ink between its lines, or a zigzag
    return True


def _wobble(c: _Cand) -> float:
    """Median bend of the middle line over the samples (px): twice each sample's
    distance from the straight line through its two neighbours, which is the absolute
    second difference where the samples are evenly spaced. Samples lost between (a
    comb not found in noise) leave a smooth line smooth."""
    m, x = c.lines[2], c.xs
    if len(m) < 4:
        return 0.0
    t = (x[1:-1] - x[:-2]) / np.maximum(x[2:] - x[:-2], 1e-9)
    between = m[:-2] + t * (m[2:] - m[:-2])
    return float(np.median(2.0 * np.abs(m[1:-1] - between)))


def _relation(a: _Cand, c: _Cand, ink: tuple, ss: float) -> str:
    """'same' (one staff), 'clash' (they cannot both be staves) or 'apart'."""
    sa = float(np.median(a.lines[4] - a.lines[0])) / 4.0
    sc = float(np.median(c.lines[4] - c.lines[0])) / 4.0
    similar = abs(sa - sc) <= SAME_SPACING * max(sa, sc)
    lo, hi = max(a.x0, c.x0), min(a.x1, c.x1)
    if hi >= lo:
        x = np.linspace(lo, hi, 9)
        d = float(np.median(np.interp(x, c.xs, c.lines[2]) - np.interp(x, a.xs, a.lines[2])))
        if abs(d) <= SAME_STAFF_SS * ss and similar:
            return "same"
        if abs(d) < STAFF_CLEARANCE_SS * ss:
            return "clash"
        return "apart"
    # apart in x: one staff if the lines run on at one height across the gap, with
    # the spacing of the ends that face each other alike (perspective narrows a
    # staff along its length)
    gap = lo - hi
    left, right = (a, c) if a.x1 <= c.x0 else (c, a)
    sl, sr = _end_spacing(left, right.x0, ss), _end_spacing(right, left.x1, ss)
    if gap > MAX_MERGE_GAP_SS * ss or abs(sl - sr) > SAME_SPACING * max(sl, sr):
        return "apart"
    la = np.array([np.interp(left.x1, left.xs, left.lines[i]) for i in range(5)])
    lb = np.array([np.interp(right.x0, right.xs, right.lines[i]) for i in range(5)])
    xm = 0.5 * (left.x1 + right.x0)
    d = abs(_predict_centre(left, xm, ss) - _predict_centre(right, xm, ss))  # each carried on
    if d <= ALIGNED_SS * ss + 0.02 * gap:
        return "same"  # pieces of one staff whose lines fade between them
    if min(d, abs(lb[2] - la[2])) > MERGE_TOLERANCE_SS * ss + 0.05 * gap:
        return "apart"
    lines_ink = ink[1] if ink[1] is not None else ink[0]
    return "same" if _gap_continues(lines_ink, left.x1, la, right.x0, lb) else "apart"


def _near_end(c: _Cand, x: float, ss: float) -> np.ndarray:
    """Which samples of ``c`` lie within ``FIT_RANGE_SS`` of its end nearest ``x``."""
    return np.abs(c.xs - (c.xs[0] if x < c.xs[0] else c.xs[-1])) <= FIT_RANGE_SS * ss


def _end_spacing(c: _Cand, x: float, ss: float) -> float:
    """The spacing of ``c``'s lines over its samples near its end nearest ``x`` (px)."""
    near = _near_end(c, x, ss)
    return float(np.median(c.lines[4][near] - c.lines[0][near])) / 4.0


def _end_slope(c: _Cand, x: float, ss: float) -> float:
    """The slope of the middle line of ``c`` at its end nearest ``x``: a straight line
    fitted to its samples within ``FIT_RANGE_SS`` of that end, at most
    ``MAX_TRACK_SLOPE`` either way (0 where fewer than two samples are there)."""
    near = _near_end(c, x, ss)
    xs, ys = c.xs[near], c.lines[2][near]
    if len(xs) < 2 or np.ptp(xs) <= 0:
        return 0.0
    return float(np.clip(np.polyfit(xs, ys, 1)[0], -MAX_TRACK_SLOPE, MAX_TRACK_SLOPE))


def _predict_centre(c: _Cand, x: float, ss: float) -> float:
    """The middle line of ``c`` carried on to ``x`` along its slope at its end nearest
    ``x`` (:func:`_end_slope`)."""
    near = _near_end(c, x, ss)
    k = _end_slope(c, x, ss)
    return float(np.median(c.lines[2][near] - k * c.xs[near]) + k * x)


def _merge(a: _Cand, c: _Cand, mask: np.ndarray, ink: tuple, ss: float) -> None:
    """Add ``c``'s samples outside ``a``'s to ``a``, then redo its ends and evidence."""
    outside = (c.xs < a.xs[0]) | (c.xs > a.xs[-1])
    if outside.any():
        xs = np.concatenate([a.xs, c.xs[outside]])
        lines = np.concatenate([a.lines, c.lines[:, outside]], axis=1)
        order = np.argsort(xs, kind="stable")
        kept = _clean_samples(xs[order], lines[:, order], ss)
        if kept is not None:
            a.xs, a.lines = kept
    _extend(a, ink)
    a.x0, a.x1 = min(a.x0, c.x0), max(a.x1, c.x1)
    _evidence(a, mask)


def _trim_outside(c: _Cand, a: _Cand, ss: float) -> _Cand | None:
    """The part of ``c`` that lies on one side of ``a``, more than ``BEND_TRIM_SS``
    staff spaces beyond its end, as a candidate of its own (ends at its last samples);
    None when ``c`` reaches past ``a`` on both sides or too little of it is left."""
    margin = BEND_TRIM_SS * ss
    left, right = c.xs < a.x0 - margin, c.xs > a.x1 + margin
    if left.any() and right.any():
        return None
    keep = left | right
    if keep.sum() < MIN_STAFF_STRIPS:
        return None
    xs, lines = c.xs[keep], c.lines[:, keep]
    x0, x1 = (c.x0, float(xs[-1])) if left.any() else (float(xs[0]), c.x1)
    if x1 - x0 < MIN_STAFF_LENGTH_SS * ss:
        return None
    return _Cand(xs=xs, lines=lines, x0=x0, x1=x1)


def _consolidate(cands: list[_Cand], mask: np.ndarray, ink: tuple, ss: float) -> list[_Cand]:
    """Strongest first, each candidate joins a kept one that it continues, is dropped
    when it clashes with a kept one, or is kept."""
    cands = sorted(cands, key=lambda c: -c.strength)
    kept: list[_Cand] = []
    for c in cands:
        fate = "new"
        for a in kept:
            rel = _relation(a, c, ink, ss)
            if rel == "same":
                _merge(a, c, mask, ink, ss)
                fate = "merged"
                break
            if rel == "clash":
                fate = "dropped"
                rest = _trim_outside(c, a, ss)
                if rest is not None and _relation(a, rest, ink, ss) == "same":
                    _merge(a, rest, mask, ink, ss)
                    fate = "merged"
                break
        if fate == "new":
            kept.append(c)
    # merging grows a staff: it may now reach a piece kept before, or clash with one
    changed = True
    while changed:
        changed = False
        for i in range(len(kept)):
            for j in range(i + 1, len(kept)):
                rel = _relation(kept[i], kept[j], ink, ss)
                if rel == "same":
                    _merge(kept[i], kept[j], mask, ink, ss)
                if rel != "apart":
                    del kept[j]
                    changed = True
                    break
            if changed:
                break
    return kept


# ---------------------------------------------------------------------------
# Systems
# ---------------------------------------------------------------------------


def _joined(a: Staff, b: Staff, ink: np.ndarray, binary: np.ndarray, *, aligned_starts: bool = False,
            left: float = -np.inf) -> str:
    """How staff ``a`` and staff ``b`` (below it) are joined: ``"start"`` by a brace,
    a bracket or a system start line at the left (or touching), ``"barline"`` by a
    barline drawn through the gap between them, ``""`` not at all. ``binary`` is the
    page's ink mask, ``ink`` the same widened by a pixel each way along the rows;
    ``left``: no system start line lies left of this x (the page's staves start there)."""
    h, w = ink.shape
    ss = 0.5 * (a.staff_space + b.staff_space)
    xa, xb = max(a.x0, b.x0), min(a.x1, b.x1)
    if xb <= xa:
        return ""
    # 1. at the left end: every row of the gap has ink near the later start (not
    # when the staves start at different places: the edge of the photo cut them)
    xl = max(a.x0, b.x0)
    cut = xl <= CUT_START_SS * ss  # the staves run on out of the photo at the left
    if not cut and (not aligned_starts or abs(a.x0 - b.x0) <= START_ALIGN_SS * ss):
        if _bracketed(a, b, binary):
            return "start"
    # 2. a barline through the gap anywhere along the staves, or the system's start
    # line a little left of where their lines were found (blur fades their ends);
    # not at the photo's edge where it cut the staves
    # (at the right, staves that run out of the photo end within CUT_START_SS of it)
    xs = np.arange(int(np.ceil(max(xa - START_LINE_REACH_SS * ss, left, CUT_START_SS * ss if cut else 0))),
                   int(np.floor(min(xb, w - 1 - CUT_START_SS * ss))) + 1)
    xs = xs[(xs >= 0) & (xs < w)]
    if len(xs) == 0:
        return ""
    yb, yt = a.y_bottom(xs), b.y_top(xs)
    t = np.linspace(0.05, 0.95, BARLINE_SAMPLES)[:, None]
    ys = np.clip(np.round(yb + t * (yt - yb)).astype(int), 0, h - 1)
    wide = cv2.dilate(ink.astype(np.uint8), np.ones((1, 3), np.uint8)) if ink.dtype != np.uint8 else ink
    cover = wide[ys, xs[None, :]].astype(bool).mean(axis=0)
    # a barline is thin: the dark band along a photo's edge, where staves cut by it
    # end, runs through every gap too
    limit = BARLINE_MAX_WIDTH_SS * ss + 1
    for j in np.flatnonzero(cover >= BARLINE_COVERAGE):
        widths = [_ink_run(binary, int(y), int(xs[j]), limit) for y in ys[:, j]]
        if np.median(widths) <= limit:
            return "barline"
    return ""


def _bracketed(a: Staff, b: Staff, binary: np.ndarray) -> bool:
    """Whether every row of the gap between staff ``a`` and staff ``b`` (below it)
    has ink near the later start (``BRACE_WINDOW_SS``): a brace, a bracket or the
    system's start line; or the staves touch. ``binary``: the page's ink mask.

    Where the staves start clear of the photo's left edge (more than
    ``CUT_START_SS``), ink joined to that edge (reaching within ``EDGE_REACH_SS`` of
    it) is the dark band beside the paper (or the table), which runs down every gap:
    it joins nothing."""
    h, w = binary.shape
    ss = 0.5 * (a.staff_space + b.staff_space)
    xl = max(a.x0, b.x0)
    top, bottom = a.y_bottom(xl) + 0.5 * ss, b.y_top(xl) - 0.5 * ss
    c0 = int(max(0, np.floor(xl - BRACE_WINDOW_SS[0] * ss)))
    c1 = int(min(w, np.ceil(xl + BRACE_WINDOW_SS[1] * ss) + 1))
    r0, r1 = int(max(0, np.ceil(top))), int(min(h, np.floor(bottom) + 1))
    if r1 - r0 < 2:
        return True  # staves touching: one system
    if c1 <= c0:
        return False
    window = binary[r0:r1, c0:c1]
    if xl > CUT_START_SS * ss:
        reach = int(np.ceil(EDGE_REACH_SS * ss))
        window = window & ~_joined_to_left_edge(binary[r0:r1, :c1], reach)[:, c0:]
    rows = _inked_rows(window, min(BRACE_MIN_PIECE_SS * ss, 0.5 * (r1 - r0)))
    return bool(rows.mean() >= BRACE_COVERAGE)


def _joined_to_left_edge(mask: np.ndarray, reach: int) -> np.ndarray:
    """The ink of ``mask`` in pieces (8-connected) that reach its first ``reach``
    columns (the threshold leaves the image's outermost pixels blank).

    >>> m = np.zeros((3, 7), bool); m[:, 1:3] = True; m[1, 5] = True
    >>> _joined_to_left_edge(m, 2).astype(int).tolist()
    [[0, 1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0]]
    """
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    edge = np.unique(labels[:, :reach])
    return np.isin(labels, edge[edge > 0])


def _ink_run(binary: np.ndarray, y: int, x: int, limit: float) -> int:
    """Width (px) of the run of ink in row ``y`` of ``binary`` at or next to column
    ``x``, counted up to a little past ``limit``; 0 where there is none."""
    row = binary[y]
    w = len(row)
    hits = [c for c in (x, x - 1, x + 1, x - 2, x + 2) if 0 <= c < w and row[c]]
    if not hits:
        return 0
    c = hits[0]
    reach = int(limit) + 2
    a = c
    while a > 0 and c - a < reach and row[a - 1]:
        a -= 1
    b = c
    while b < w - 1 and b - a < reach and row[b + 1]:
        b += 1
    return b - a + 1


def _inked_rows(window: np.ndarray, min_height: float) -> np.ndarray:
    """Which rows of ``window`` (an ink mask) hold ink; when the window is grainy
    (``GRAIN_PIECES_PER_ROW``), only ink of connected pieces (8-connected) at least
    ``min_height`` rows tall counts.

    >>> w = np.zeros((10, 6), bool); w[1:9, 2] = True; w[0, 5] = w[9, 0] = True
    >>> _inked_rows(w, 5).astype(int).tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    >>> w[::2, 4] = True   # specks: 7 pieces in 10 rows
    >>> _inked_rows(w, 5).astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(window.astype(np.uint8), connectivity=8)
    if n - 1 <= GRAIN_PIECES_PER_ROW * window.shape[0]:
        return window.any(axis=1)
    tall = np.flatnonzero(stats[:, cv2.CC_STAT_HEIGHT] >= min_height)
    tall = tall[tall > 0]  # label 0 is the background
    return np.isin(labels, tall).any(axis=1)


def _even_systems(groups: list[list[int]], joins: list[str]) -> list[list[int]]:
    """Split a system of several times as many staves as the page's smallest where
    only something at the left joins it there (no barline runs through): a page's
    systems hold the same staves, and a mark or a shadow along the margin passes for
    a system start line.

    >>> _even_systems([[0, 1], [2, 3, 4, 5]], ["", "start", "", "start", "start", "start"])
    [[0, 1], [2, 3], [4, 5]]
    >>> _even_systems([[0, 1], [2, 3, 4, 5]], ["", "start", "", "start", "barline", "start"])
    [[0, 1], [2, 3, 4, 5]]

    Only when at least half of the systems have the smallest size: a voice staff
    that lost its join to the piano below is no reason to split the other systems,

    >>> _even_systems([[0], [1, 2], [3, 4, 5]], ["", "", "start", "", "start", "start"])
    [[0, 1, 2], [3, 4, 5]]

    (rejoined instead: :func:`_rejoined`).
    """
    k = min(len(g) for g in groups)
    if 2 * sum(len(g) == k for g in groups) < len(groups):
        return _rejoined(groups)  # the small ones are more likely a system that lost a join
    out = []
    for g in groups:
        cuts = g[k::k]
        if len(g) > k and len(g) % k == 0 and all(joins[i] == "start" for i in cuts):
            out.extend(g[j:j + k] for j in range(0, len(g), k))
        else:
            out.append(g)
    return out


def _rejoined(groups: list[list[int]]) -> list[list[int]]:
    """Join runs of consecutive systems into systems of the page's largest size, when
    every system then has that size (a staff whose brace or start line was not seen
    became a system of its own); otherwise ``groups`` as they are.

    >>> _rejoined([[0], [1, 2], [3, 4, 5]])
    [[0, 1, 2], [3, 4, 5]]
    >>> _rejoined([[0, 1], [2, 3, 4], [5, 6, 7]])   # a piano intro, then voice and piano
    [[0, 1], [2, 3, 4], [5, 6, 7]]
    """
    m = max(len(g) for g in groups)
    out, run = [], []
    for g in groups:
        run = run + g
        if len(run) == m:
            out.append(run)
            run = []
        elif len(run) > m:
            return groups
    return out if not run else groups


def _systems_by_gaps(staves: list[Staff]) -> list[list[int]] | None:
    """Staves (top to bottom) grouped into systems by the gaps between them: a gap at
    least ``GAP_SYSTEM_RATIO`` times the narrowest ends a system. None unless that
    makes systems of one size, at least 2 staves.

    >>> from omr.graph import straight_staff
    >>> tops = [0, 100, 250, 350, 500, 600]
    >>> _systems_by_gaps([straight_staff(i, x0=0, x1=500, top=t, staff_space=10) for i, t in enumerate(tops)])
    [[0, 1], [2, 3], [4, 5]]
    """
    centres = np.array([s.center_y for s in staves])
    gaps = np.diff(centres)
    if len(gaps) < 3 or not gaps.min() > 0:
        return None
    wide = gaps >= GAP_SYSTEM_RATIO * gaps.min()
    if not wide.any() or wide.all():
        return None
    groups, current = [], [0]
    for i, w in enumerate(wide, start=1):
        if w:
            groups.append(current)
            current = []
        current.append(i)
    groups.append(current)
    sizes = {len(g) for g in groups}
    if len(sizes) != 1 or sizes.pop() < 2:
        return None
    # the gaps must fall clearly in two kinds: every narrow one well below every wide one
    if gaps[wide].min() < GAP_SYSTEM_RATIO * gaps[~wide].max():
        return None
    return groups


def _systems_by_cut_brackets(staves: list[Staff], binary: np.ndarray, joins: list[str]) -> list[list[int]] | None:
    """Staves grouped by the brackets at their starts, also where the staves start
    at the photo's left edge (``CUT_START_SS``), when that groups them regularly: at
    least ``MIN_BRACKETED_SYSTEMS`` systems of one size, at least 2 staves, the
    staves left alone rejoining into systems of that size (:func:`_rejoined`; a
    staff whose start the tracker missed). The dark band along a photo's edge joins
    every gap instead, or one run of them. ``joins``: as in :func:`group_systems`.
    """
    groups: list[list[int]] = [[0]]
    for i in range(1, len(staves)):
        if joins[i] or _bracketed(staves[i - 1], staves[i], binary):
            groups[-1].append(i)
        else:
            groups.append([i])
    sizes = {len(g) for g in groups if len(g) > 1}
    if len(sizes) != 1 or sum(len(g) > 1 for g in groups) < MIN_BRACKETED_SYSTEMS:
        return None
    rejoined = _rejoined(groups)
    if len({len(g) for g in rejoined}) != 1:
        return None
    return rejoined


def group_systems(staves: list[Staff], binary: np.ndarray, *, aligned_starts: bool = False) -> list[System]:
    """Group staves into systems; sets each ``Staff.system``.

    Consecutive staves (top to bottom) belong to one system when a brace, a bracket
    or the system's start line joins them at the left, or a barline runs through
    from one to the next. A staff joined to nothing is a system of its own; where
    most of a page's staves are joined to nothing (the photo cut off their starts),
    the gaps between them may group them instead (:func:`_systems_by_gaps`).
    ``binary`` is the page's ink mask (True = ink), e.g. from :func:`omr.page.binarize`.
    ``aligned_starts``: the page's perspective was undone, so a system's staves
    start together (see ``START_ALIGN_SS``).
    """
    if not staves:
        return []
    binary = np.asarray(binary, dtype=bool)
    joined = _joiner(staves, binary, aligned_starts=aligned_starts)
    groups: list[list[int]] = [[0]]
    joins = [""] + [joined(staves[i - 1], staves[i]) for i in range(1, len(staves))]
    for i in range(1, len(staves)):
        if joins[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    groups = _even_systems(groups, joins)
    if len(staves) >= 4 and 2 * sum(len(g) == 1 for g in groups) > len(groups):
        # most staves alone: the photo cut off their starts
        by_gaps = _systems_by_gaps(staves)
        if by_gaps and all(any(set(g) <= set(b) for b in by_gaps) for g in groups):
            groups = by_gaps
        else:
            groups = _systems_by_cut_brackets(staves, binary, joins) or groups
    systems = []
    for g_index, g in enumerate(groups):
        boxes = np.array([staves[i].box() for i in g])
        box = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))
        for i in g:
            staves[i].system = g_index
        systems.append(System(index=g_index, staves=[staves[i].index for i in g], box=box))
    return systems


def _joiner(staves: list[Staff], binary: np.ndarray, *, aligned_starts: bool) -> Callable[[Staff, Staff], str]:
    """:func:`_joined` for two staves of the page ``staves`` (``binary``: its ink mask)."""
    ink = cv2.dilate(binary.astype(np.uint8), np.ones((1, 3), np.uint8))
    ss = float(np.median([s.staff_space for s in staves]))
    left = min(s.x0 for s in staves) - START_LINE_MARGIN_SS * ss
    return lambda a, b: _joined(a, b, ink, binary, aligned_starts=aligned_starts, left=left)


#: A staff shorter than ``ENCLOSED_MAX_LENGTH`` times the page's longest, joined to
#: neither staff beside it while a brace, start line or barline joins those two
#: across it, lies inside a system and is no staff of it: the two lines of a hairpin
#: over two lines of lyrics (between a voice's staff and the piano's) pass for one.
ENCLOSED_MAX_LENGTH = 0.5
#: ... nor is one that starts more than this many staff spaces right of both staves
#: beside it, though a barline through it joins it to them: such a hairpin over
#: lyrics that begins at a barline.
ENCLOSED_LATE_START_SS = 10.0


def drop_enclosed(staves: list[Staff], binary: np.ndarray, *, aligned_starts: bool = False) -> list[Staff]:
    """``staves`` (top to bottom) without the short ones enclosed in a system (see
    ``ENCLOSED_MAX_LENGTH``), the rest numbered again from 0."""
    binary = np.asarray(binary, dtype=bool)
    longest = max((s.x1 - s.x0 for s in staves), default=0.0)
    short = [i for i in range(1, len(staves) - 1)
             if staves[i].x1 - staves[i].x0 < ENCLOSED_MAX_LENGTH * longest]
    if not short:
        return staves
    joined = _joiner(staves, binary, aligned_starts=aligned_starts)

    def late(i: int) -> bool:  # starts well right of both staves beside it
        ss = staves[i].staff_space
        return staves[i].x0 > max(staves[i - 1].x0, staves[i + 1].x0) + ENCLOSED_LATE_START_SS * ss

    enclosed = {i for i in short
                if (late(i) or not joined(staves[i - 1], staves[i]) and not joined(staves[i], staves[i + 1]))
                and joined(staves[i - 1], staves[i + 1])}
    kept = [s for i, s in enumerate(staves) if i not in enclosed]
    return [replace(s, index=k) for k, s in enumerate(kept)]


def analyze(page: NormalizedPage, *, binary: np.ndarray | None = None) -> tuple[list[Staff], list[System]]:
    """Staves and systems of a normalized page (see :func:`find_staves`,
    :func:`drop_enclosed`, :func:`group_systems`). ``binary``: the page's ink mask
    (:func:`omr.page.binarize`), when the caller has it."""
    if binary is None:
        binary = binarize(page.image, page.staff_space_norm)
    staves = find_staves(page.image, page.staff_space_norm, binary=binary)
    staves = drop_enclosed(staves, binary, aligned_starts=page.keystone)
    return staves, group_systems(staves, binary, aligned_starts=page.keystone)


# ---------------------------------------------------------------------------
# Columns of music side by side (the two pages of an open book)
# ---------------------------------------------------------------------------

#: A photo may hold two pages side by side (an open book), or a page may set its
#: music in two columns. Between them runs a band at least ``GUTTER_MIN_SS`` staff
#: spaces wide in which no staff line runs: at most ``GUTTER_MAX_INK`` of the busiest
#: column's staff-line ink (page margins, the fold). A column is music only where it
#: is at least ``COLUMN_MIN_WIDTH_SS`` wide (a sliver of the next page's braces and
#: clefs is not one) and counts as music where its staff-line ink reaches
#: ``COLUMN_MIN_INK`` of the busiest column's. Where staff lines only fade (faint
#: print, glare) the notes go on across the band: a band that holds a note, rest or
#: other symbol of the music (``occupied``) is no gutter.
GUTTER_MIN_SS = 4.0
GUTTER_MAX_INK = 0.02
COLUMN_MIN_WIDTH_SS = 20.0
COLUMN_MIN_INK = 0.25


def find_columns(binary: np.ndarray, staff_space_px: float, *, occupied=()) -> list[tuple[int, int]]:
    """``(x0, x1)`` px of each column of music on a normalized page, left to right,
    split at the middle of the gutters between them; ``[(0, width)]`` for a page of
    one column (nearly every page). ``occupied``: x (px) of symbols of the music
    (notes, rests), which no gutter holds.

    >>> page = np.zeros((300, 900), bool)
    >>> for top in (40, 160):                       # two systems...
    ...     for k in range(5):
    ...         page[top + 10 * k, 20:400] = True   # ...on the left page
    ...         page[top + 5 + 10 * k, 500:880] = True  # ...and on the right one
    >>> find_columns(page, 10.0)
    [(0, 451), (451, 900)]
    >>> find_columns(page, 10.0, occupied=[430])            # lines faded, notes go on
    [(0, 900)]
    >>> page[:, 400:500] = False; page[40, 20:880] = True   # a staff across the gap
    >>> find_columns(page, 10.0)
    [(0, 900)]
    """
    w = binary.shape[1]
    ink = (staff_line_mask(binary, staff_space_px) > 0).sum(axis=0).astype(np.float64)
    if ink.max() <= 0:
        return [(0, w)]
    music = np.flatnonzero(ink >= COLUMN_MIN_INK * ink.max())
    lo, hi = int(music[0]), int(music[-1]) + 1
    empty = np.concatenate([[0], (ink[lo:hi] <= GUTTER_MAX_INK * ink.max()).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(empty))
    taken = np.asarray(list(occupied), np.float64)
    cuts = [int(lo + (a + b) // 2) for a, b in zip(edges[::2], edges[1::2])
            if b - a >= GUTTER_MIN_SS * staff_space_px
            and not ((taken >= lo + a) & (taken < lo + b)).any()]

    def holds_music(x0: int, x1: int) -> bool:
        held = music[(music >= x0) & (music < x1)]
        return len(held) > 0 and held[-1] - held[0] + 1 >= COLUMN_MIN_WIDTH_SS * staff_space_px

    # a column too narrow to hold music joins the one before it (the first: the next)
    bounds = [0] + cuts + [w]
    k = 0
    while len(bounds) > 2 and k < len(bounds) - 1:
        if holds_music(bounds[k], bounds[k + 1]):
            k += 1
        else:
            del bounds[k if k > 0 else 1]
            k = max(k - 1, 0)
    return list(zip(bounds, bounds[1:]))


# ---------------------------------------------------------------------------
# Barlines found in the image
# ---------------------------------------------------------------------------

#: A barline is ink through this fraction of the staff's height at one column ...
BARLINE_MIN_COVERAGE = 0.93
#: ... in a run of columns at most this wide (staff spaces; a final bar's thick line).
BARLINE_MAX_WIDTH_SS = 0.8
#: A run too wide, where a blurred notehead or letter runs into the line, holds a
#: line where its columns inked through the whole height (this fraction: every row
#: sampled), first to last, span no more than a line.
BARLINE_CORE_COVERAGE = 1.0
#: Rows sampled between the top and the bottom line.
BARLINE_ROWS = 33
#: Leans (px across per px down) of the columns sampled: a photo's shear or a bent
#: page leaves barlines a little off upright of their staff.
BARLINE_LEANS = (-0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15)


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
        # columns leaning about the staff's middle: the lean that most columns
        # cover is the staff's (upright unless another does better)
        hit, full, best = None, None, -1
        for lean in sorted(BARLINE_LEANS, key=abs):
            map_x = (xs[None, :] + lean * (map_y - 0.5 * (top + bottom)[None, :])).astype(np.float32)
            band = cv2.remap(ink, map_x, map_y, cv2.INTER_NEAREST, borderValue=0)
            # a column counts when it, or a neighbour, has ink (lines bend by a pixel)
            band = np.maximum(band, np.pad(band, ((0, 0), (1, 0)))[:, :-1])
            lean_hit = band.mean(axis=0) >= BARLINE_MIN_COVERAGE
            if lean_hit.sum() > best:
                hit, full, best = lean_hit, band.mean(axis=0) >= BARLINE_CORE_COVERAGE, int(lean_hit.sum())
        max_width = BARLINE_MAX_WIDTH_SS * s.staff_space + 1
        for a, b in _runs(hit):
            if b - a > max_width:  # a notehead run into the line: its core alone
                core = a + np.flatnonzero(full[a:b])
                if not len(core) or core[-1] + 1 - core[0] > max_width:
                    continue
                a, b = int(core[0]), int(core[-1]) + 1
            out.append((s.index, float(xs[a]), float(xs[b - 1]) + 1.0))
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The runs of true values in ``flags``: ``(start, stop)``, stop exclusive."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
