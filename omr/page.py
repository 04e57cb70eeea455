"""The photo as a page: load it, find the page, undo perspective and rotation,
flatten the lighting, and rescale it so one staff space is a fixed number of pixels.

Everything after this module works in the *normalized* image, in staff spaces.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import cv2
import numpy as np

from omr.errors import ImageError, NoMusicError, OmrError, ParameterError

#: Pixels per staff space in the normalized image the detector sees.
STAFF_SPACE_NORM = 10.0

#: Size of the window that estimates the paper's brightness, in staff spaces. It must
#: be wider than any solid ink blob (a beam group, a clef) so ink never counts as paper.
BACKGROUND_WINDOW_SS = 3.0

#: Working resolution of the background estimate, in pixels per staff space. The
#: lighting varies slowly, so a coarse estimate is as good and much faster.
BACKGROUND_PX_PER_SS = 3.0

#: Percentile of the flattened image mapped to black (stretches faint ink in low light).
INK_PERCENTILE = 0.5


def flatten_illumination(gray: np.ndarray, staff_space_px: float) -> np.ndarray:
    """Divide out uneven lighting (shadows, vignetting, low light) from a grey image.

    The paper's brightness is estimated with a grey-level closing (a max filter
    ``BACKGROUND_WINDOW_SS`` staff spaces wide, which removes the ink) on a coarse
    copy, smoothed and scaled back up; the image is divided by it, so paper becomes
    white everywhere, and the darkest ``INK_PERCENTILE`` percent is stretched to black.

    The detector was trained on images passed through this function, so inference
    must use it too.

    >>> g = np.full((60, 80), 120, np.uint8); g[20:22, :] = 30
    >>> out = flatten_illumination(g, 10.0)
    >>> int(out[0, 0]) > 240 and int(out[21, 40]) < 80
    True
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError("flatten_illumination needs a 2-D uint8 image")
    h, w = gray.shape
    scale = min(1.0, BACKGROUND_PX_PER_SS / max(staff_space_px, 1e-3))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    k = max(3, int(round(BACKGROUND_WINDOW_SS * staff_space_px * scale)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    background = cv2.blur(background, (k, k))
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = gray.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    ratio = np.minimum(ratio, 1.0)
    low = float(np.percentile(ratio[:: max(1, h // 256), :: max(1, w // 256)], INK_PERCENTILE))
    low = min(low, 0.6)
    out = (ratio - low) / max(1.0 - low, 1e-3)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

#: Smallest accepted image side, px: below this no staff can be read.
MIN_IMAGE_SIDE_PX = 64
#: Largest accepted image, pixels (100 megapixels; a phone photo is 12-50).
MAX_IMAGE_PIXELS = 100_000_000
#: File name suffixes read through pillow_heif.
HEIF_SUFFIXES = (".heic", ".heif", ".avif")
#: File name suffixes the commands take as photos (``omr transcribe``, ``align``, ``batch``).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".heic")


def _name_of(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source)) or os.fspath(source)
    return "the image data"


def _check_size(w: int, h: int, name: str) -> None:
    if min(w, h) < MIN_IMAGE_SIDE_PX:
        raise ImageError(f"{name} is too small ({w}x{h} px); a photo of a page needs at least "
                         f"{MIN_IMAGE_SIDE_PX} px on each side")
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageError(f"{name} is too large ({w}x{h} px, {w * h / 1e6:.0f} megapixels); the limit is "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels")


def _array_to_rgb(a: np.ndarray, name: str) -> np.ndarray:
    """Any grey, grey+alpha, RGB or RGBA array (uint8, uint16, float 0-1, bool) to RGB uint8."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise ImageError(f"{name} has shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    if a.size == 0:
        raise ImageError(f"{name} is empty")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError(f"{name} holds NaN or infinite values")
        top = 255.0 if float(a.max()) > 1.0 else 1.0
        a = np.clip(a * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2RGB)
    if a.shape[2] in (2, 4):  # composite on white paper
        alpha = a[:, :, -1:].astype(np.float32) / 255.0
        color = a[:, :, :-1].astype(np.float32)
        a = np.clip(color * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
        if a.shape[2] == 1:
            return cv2.cvtColor(a[:, :, 0], cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(a)


def _pil_to_rgb(im, name: str) -> np.ndarray:

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if (im.mode.startswith("I;16") or float(a.max()) > 255.0) else 255.0
        return _array_to_rgb(np.clip(a / top, 0.0, 1.0).astype(np.float32), name)
    if im.mode == "RGB":
        return np.asarray(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return _array_to_rgb(np.asarray(im.convert("RGBA")), name)
    if im.mode == "L":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_GRAY2RGB)
    return np.asarray(im.convert("RGB"))


def _register_heif(name: str) -> None:
    try:
        import pillow_heif  # type: ignore[import-not-found]
    except ImportError:
        raise ImageError(f"{name} is a HEIC/HEIF photo; reading it needs the pillow-heif package "
                         "(pip install pillow-heif), or save the photo as JPEG") from None
    pillow_heif.register_heif_opener()


def load_image(source) -> np.ndarray:
    """Read a photo into an RGB ``uint8`` array (H, W, 3), upright by its EXIF orientation.

    ``source`` is a path (str or Path), the file's bytes, or an array (grey,
    grey+alpha, RGB or RGBA; uint8, uint16, float 0-1 or bool). Transparent pixels
    become white paper; 16-bit images are scaled to 8 bits.

    Raises :class:`~omr.errors.ImageError` when the file cannot be read, when the
    image is smaller than ``MIN_IMAGE_SIDE_PX`` on a side or larger than
    ``MAX_IMAGE_PIXELS``.

    >>> load_image(np.zeros((80, 100), np.uint8)).shape
    (80, 100, 3)
    """
    if isinstance(source, np.ndarray):
        name = "the image array"
        if source.ndim >= 2:
            _check_size(int(source.shape[1]), int(source.shape[0]), name)
        return _array_to_rgb(source, name)

    from PIL import Image, ImageOps, UnidentifiedImageError

    name = _name_of(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise ImageError("the image data is empty")
        is_heif = data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypheif")
        fp = io.BytesIO(data)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise ImageError(f"{name}: no such file ({path})")
        if os.path.isdir(path):
            raise ImageError(f"{name} is a folder, not an image")
        is_heif = path.lower().endswith(HEIF_SUFFIXES)
        fp = path
    else:
        raise ParameterError(f"load_image takes a path, bytes or a numpy array, not {type(source).__name__}")
    if is_heif:
        _register_heif(name)

    saved_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # our own limit is checked before decoding
        with Image.open(fp) as im:
            w, h = im.size
            _check_size(w, h, name)
            im = ImageOps.exif_transpose(im)
            rgb = _pil_to_rgb(im, name)
    except OmrError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image file that can be read (PNG, JPEG, TIFF, BMP, WebP, ...)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageError(f"{name} cannot be read: it looks damaged or truncated ({err})") from None
    except MemoryError:
        raise ImageError(f"{name} is too large to decode in memory") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
    return np.ascontiguousarray(rgb)


# ---------------------------------------------------------------------------
# Binarization and run-length statistics
# ---------------------------------------------------------------------------

#: Thresholds on the flattened image (0-255) outside which Otsu's choice is clipped.
INK_THRESHOLD_RANGE = (200, 225)


def binarize(gray: np.ndarray, staff_space_px: float) -> np.ndarray:
    """Ink mask (True = ink) of a grey ``uint8`` image, robust to uneven light.

    The lighting is divided out with :func:`flatten_illumination` (``staff_space_px``
    sets the size of its background window), then Otsu's threshold is applied,
    clipped to ``INK_THRESHOLD_RANGE`` so a page with little ink is not split
    inside the paper's noise.

    >>> g = np.full((60, 80), 200, np.uint8); g[30:32, 5:75] = 20
    >>> m = binarize(g, 10.0); bool(m[30, 40]), bool(m[10, 40])
    (True, False)
    """
    flat = flatten_illumination(np.ascontiguousarray(gray), staff_space_px)
    return _threshold_flat(flat)


def _threshold_flat(flat: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(flat.size / 250_000)))
    sample = np.ascontiguousarray(flat[::step, ::step])
    t, _ = cv2.threshold(sample, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = float(np.clip(t, *INK_THRESHOLD_RANGE))
    return flat < t


#: Faint staff lines (thin, blurred or lit away, lighter than the ink threshold)
#: are found, where the threshold left too few combs, as thin runs that are this
#: much (0-255) darker than the paper within ``FAINT_LINE_WINDOW_PX`` above and below
#: them (a grey black-hat) after a level blur ``FAINT_LINE_SMOOTH_PX`` wide (which
#: keeps lines and evens out the paper's grain).
FAINT_LINE_CONTRAST = 15
FAINT_LINE_WINDOW_PX = 5
FAINT_LINE_SMOOTH_PX = 7


def with_faint_lines(flat: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """``binary`` (the ink threshold of the grey page ``flat``) with the faint thin
    lines across ``flat`` added: see ``FAINT_LINE_CONTRAST``. For the page analysis,
    before the staff space is known; :func:`omr.staff.faint_line_binary` does the
    like for tracking staves, in staff spaces and against the paper's noise.

    >>> flat = np.full((40, 60), 250, np.uint8); flat[20, 5:55] = 228
    >>> m = with_faint_lines(flat, flat < 200); bool(m[20, 30]), bool(m[10, 30])
    (True, False)
    """
    smooth = cv2.blur(flat, (FAINT_LINE_SMOOTH_PX, 1))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, FAINT_LINE_WINDOW_PX))
    return binary | (cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, kernel) > FAINT_LINE_CONTRAST)


@dataclass
class RunStats:
    """Vertical run-length statistics of an ink mask, px.

    ``staff_space`` is the most common distance between the centres of two thin
    black runs one above the other (line to line, i.e. white run + line
    thickness), refined to sub-pixel precision; ``line_thickness`` the most common
    thin black run; ``combs`` how many columns show five thin runs evenly spaced
    by ``staff_space`` (a staff); ``pairs`` how many line-to-line distances agreed."""

    staff_space: float
    line_thickness: float
    combs: int
    pairs: int


#: Largest black run, px, counted as a staff line in the statistics.
MAX_LINE_RUN_PX = 12
#: Consecutive line-to-line distances within this fraction of the staff space are equal.
COMB_TOLERANCE = 0.12
#: Modes of the line-to-line distances tried as the staff space once the lines'
#: direction is known (the highest, and those at least ``RUN_MODE_MIN_SHARE`` as high).
RUN_MODES = 3
RUN_MODE_MIN_SHARE = 0.2
#: ... and replaces the highest only with ``RUN_MODE_SWITCH`` times its combs, and at
#: least ``RUN_MODE_MIN_COMBS`` of them.
RUN_MODE_SWITCH = 3.0
RUN_MODE_MIN_COMBS = 40
#: Smallest staff space, px, that the run statistics accept as real.
MIN_STAFF_SPACE_RUNS_PX = 3.5


def _vertical_runs(binary: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Black runs down the ``columns`` (x indices) of ``binary``: ``(column number,
    start row, end row)`` arrays (end exclusive), sorted by column, then row."""
    cols = np.ascontiguousarray(binary[:, columns].T)  # (C, H)
    padded = np.zeros((cols.shape[0], binary.shape[0] + 2), np.int8)
    padded[:, 1:-1] = cols
    d = np.diff(padded, axis=1)
    ci, si = np.nonzero(d == 1)  # row-major: sorted by column, then row
    _, ei = np.nonzero(d == -1)
    return ci, si, ei


def run_stats(binary: np.ndarray, *, max_columns: int = 400, modes: int = 1) -> RunStats | None:
    """Staff space and line thickness (px) from vertical black/white runs of ``binary``.

    Looks at up to ``max_columns`` evenly spaced columns. The staff space is the most
    common line-to-line distance; with ``modes`` > 1, the next most common ones are
    tried too and one with many times its five-line combs wins (see ``RUN_MODE_SWITCH``:
    the most common distance can be the spacing of noise; only once the lines are
    known to run across, as stems and beams also space evenly along a staff). Returns
    None when no line periodicity is found (no pair of thin runs, or no five-line comb).
    """
    w = binary.shape[1]
    step = max(1, w // max_columns)
    ci, si, ei = _vertical_runs(binary, np.arange(0, w, step))
    if len(si) < 10:
        return None
    length = ei - si
    thin = length <= MAX_LINE_RUN_PX
    if thin.sum() < 10:
        return None
    thickness_mode = int(np.bincount(length[thin]).argmax())
    thin &= length <= max(2 * thickness_mode + 1, 3)
    ci, si, ei, length = ci[thin], si[thin], ei[thin], length[thin]
    centre = (si + ei) * 0.5
    same = ci[1:] == ci[:-1]
    dist = (centre[1:] - centre[:-1])[same]
    gaps = (si[1:] - ei[:-1])[same]
    dist = dist[gaps >= 1]
    if len(dist) < 10:
        return None
    hist = np.bincount(np.round(dist * 2).astype(np.int64))
    hist[: int(2 * MIN_STAFF_SPACE_RUNS_PX)] = 0
    if hist.sum() == 0:
        return None
    # smooth over +-1 half-pixel bins; the highest modes are refined by a trimmed mean
    # around them, and a lower one wins over the highest only with many times its
    # five-line combs (the highest can be the spacing of noise: a dark, grainy shadow)
    sm = np.convolve(hist, [1, 2, 1], mode="same")
    up = np.concatenate([[-1], sm[:-1]])
    down = np.concatenate([sm[1:], [-1]])
    top = int(sm.argmax())
    others = np.flatnonzero((sm > 0) & (sm >= up) & (sm > down) & (np.abs(np.arange(len(sm)) - top) > 1))
    others = others[np.argsort(-sm[others], kind="stable")][: max(0, modes - 1)]
    peaks = [top] + [int(i) for i in others if sm[i] >= RUN_MODE_MIN_SHARE * sm[top]]
    full_same = np.zeros(len(centre) - 1, bool)
    full_same[same] = True
    dd = centre[1:] - centre[:-1]
    best = None
    for mode in peaks:
        ss = mode / 2.0
        for _ in range(4):
            near = dist[np.abs(dist - ss) <= max(0.75, 0.1 * ss)]
            if len(near) == 0:
                break
            ss = float(near.mean())
        else:
            # five-line combs: four consecutive equal distances in one column
            full_near = full_same & (np.abs(dd - ss) <= COMB_TOLERANCE * ss + 0.5)
            k = np.convolve(full_near.astype(np.int32), np.ones(4, np.int32), mode="valid")
            combs = int((k == 4).sum())
            if best is None or (combs >= RUN_MODE_SWITCH * max(best[1], 1) and combs >= RUN_MODE_MIN_COMBS):
                best = (ss, combs, full_near)
    if best is None:
        return None
    ss, combs, full_near = best
    near_mask = np.abs(dist - ss) <= COMB_TOLERANCE * ss + 0.5
    thick = length[np.concatenate([full_near, [False]]) | np.concatenate([[False], full_near])]
    t = float(np.median(thick)) if len(thick) else float(thickness_mode)
    return RunStats(staff_space=ss, line_thickness=t, combs=combs, pairs=int(near_mask.sum()))


#: Grey-level staff space: strips this many px wide, at most this many of them, and the
#: sigma (px) of the vertical high-pass that removes ink blobs and shading. A strip
#: averages the grain of a dim photo away along the lines (15 px of an analysis image
#: at most 1600 px on a side; at 3 px, the grain's own correlation, a few px long,
#: outscored the faint lines of two test pages at half their spacing).
GREY_STRIP_PX = 15
GREY_MAX_STRIPS = 256
GREY_HIGHPASS_SIGMA_PX = 3.0
#: Comb score (see :func:`grey_staff_space`) below which a grey profile shows no
#: staff-line periodicity (white noise scores about 0.1, faint staves 0.25-2).
GREY_MIN_SCORE = 0.2
#: A comb score this high is staff lines for sure: their spacing stands against the
#: run lengths' without counting combs in the ink (see :func:`_grey_rival`), and
#: where only one way up scores it, that way is up (see :func:`_quarter_turn`). The
#: faint lines of dim test photos score 0.7-1.7 (one page with small staves in
#: much grainy paper 0.70, the other way up 0.50). Grain alone scores about 0.4
#: when a px across, and up to 0.6-0.8 when blurred over 2-4 px (the high-pass leaves
#: its correlation a trough that the score takes for the space between lines): grain
#: that coarse alike either way up, and less where lines share the page.
GREY_SURE_SCORE = 0.6


def grey_staff_space(flat: np.ndarray, lo: float = MIN_STAFF_SPACE_RUNS_PX, hi: float | None = None) -> tuple[float, float] | None:
    """Staff space (px) of a flattened grey page from the periodicity of its columns,
    and the comb score; None for an image without vertical structure.

    The vertical profiles of ``GREY_STRIP_PX``-wide strips of the inverted image are
    high-passed, their autocorrelations summed, and each candidate spacing ``s`` in
    [lo, hi] scored as sum over k = 1..4 of ac(k s) - ac((k - 1/2) s): five evenly spaced
    lines correlate at multiples of the spacing and not half-way between. This works
    on faint or blurred lines that the binary run lengths miss."""
    h, w = flat.shape
    hi = float(hi if hi is not None else min(60.0, h / 8.0))
    if hi <= lo or w < GREY_STRIP_PX:
        return None
    inv = cv2.blur(255.0 - flat.astype(np.float32), (GREY_STRIP_PX, 1))
    half = GREY_STRIP_PX // 2
    xs = np.unique(np.linspace(half, w - 1 - half, min(GREY_MAX_STRIPS, w)).astype(int))
    prof = np.ascontiguousarray(inv[:, xs])
    sig = GREY_HIGHPASS_SIGMA_PX
    prof -= cv2.GaussianBlur(prof, (1, int(6 * sig) | 1), 0, sigmaY=sig)
    n = 1 << int(np.ceil(np.log2(2 * h)))
    f = np.fft.rfft(prof, n, axis=0)
    ac = np.fft.irfft((f.real ** 2 + f.imag ** 2).sum(axis=1), n)[:h]
    if not ac[0] > 0:
        return None
    ac = ac / ac[0]
    cand = np.arange(lo, hi, 0.05)
    lags = np.arange(h)
    score = np.zeros_like(cand)
    for k in range(1, 5):
        score += np.interp(k * cand, lags, ac) - np.interp((k - 0.5) * cand, lags, ac)
    i = int(np.argmax(score))
    best = float(cand[i])
    if 0 < i < len(cand) - 1:  # parabolic refinement
        a, b, c = score[i - 1], score[i], score[i + 1]
        den = a - 2 * b + c
        if den < 0:
            best += 0.05 * float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return best, float(score[i])


# ---------------------------------------------------------------------------
# The normalized page
# ---------------------------------------------------------------------------


@dataclass
class NormalizedPage:
    """A photo made upright, flat and to scale.

    ``image`` is a ``uint8`` grey image (white paper, passed through
    :func:`flatten_illumination`) in which one staff space is ``staff_space_norm``
    px. ``staff_space`` is the staff space in the *original* photo's pixels (at the
    page centre). ``to_original`` (3x3) maps normalized pixel coordinates
    ``(x, y, 1)`` to original-photo pixel coordinates (pixel centres at integers);
    ``rotation`` is the quarter turn that was undone, degrees counter-clockwise: the
    photo is ``np.rot90(upright, rotation // 90)`` (0, 90, 180 or 270);
    ``skew_deg`` the fine rotation that was undone (degrees the staff lines were
    turned counter-clockwise as seen, within ``MAX_SKEW_DEG``), ``page_corners`` (4, 2) the
    paper's corners in the photo (top-left first, clockwise, as the page reads)
    when ``page_found``.
    """

    image: np.ndarray
    staff_space_norm: float
    staff_space: float
    to_original: np.ndarray
    original_size: tuple[int, int]
    rotation: int = 0
    skew_deg: float = 0.0
    page_found: bool = False
    page_corners: np.ndarray | None = None
    line_thickness: float = 0.0
    #: the perspective was read off the staves' spacing (:func:`keystone`)
    keystone: bool = False
    #: degrees by which stems and barlines leaned once the page was level, undone
    #: by a shear (:func:`lean`; 0.0 where they stood within ``SHEAR_MIN_DEG``)
    lean_deg: float = 0.0
    #: whether the staff lines clearly run across the page this quarter turn rather
    #: than the other (see ``ORIENTATION_TIE_FACTOR``); False: a guess, which
    #: ``omr.detect.infer.detect`` checks with the detector
    quarter_sure: bool = True

    def points_to_original(self, pts) -> np.ndarray:
        """Map (N, 2) normalized-image points x, y to original-photo pixels (N, 2)."""
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return _apply(self.to_original, p)

    def box_points_to_original(self, pts) -> np.ndarray:
        """Map (N, 2) points in box coordinates (pixel i spans [i, i + 1), as the
        detector's boxes and the page's edges are given) to the same coordinates in
        the original photo. ``to_original`` maps pixel centres, which lie half a pixel
        in: mapping box coordinates with it directly misplaces them by half a pixel
        times one minus the scale (0.5 px in the photo where it is shrunk twice).

        >>> page = NormalizedPage(image=np.zeros((4, 4), np.uint8), staff_space_norm=10.0,
        ...                       staff_space=20.0, original_size=(8, 8),
        ...                       to_original=np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]]))
        >>> page.box_points_to_original([[0.0, 0.0], [4.0, 4.0]]).tolist()  # the whole image both ways
        [[0.0, 0.0], [8.0, 8.0]]
        """
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return _apply(self.to_original, p - 0.5) + 0.5

    def boxes_to_original(self, boxes) -> np.ndarray:
        """Map (N, 4) boxes x0, y0, x1, y1 (normalized px, box coordinates: see
        :meth:`box_points_to_original`) to the axis-aligned boxes of their four mapped
        corners in the original photo, clipped to the photo."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
        mapped = self.box_points_to_original(corners.reshape(-1, 2)).reshape(-1, 4, 2)
        w, h = self.original_size
        out = np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        return out

    def box_to_original(self, box) -> tuple[float, float, float, float]:
        """One box x0, y0, x1, y1 (normalized px) to the original photo, see :meth:`boxes_to_original`."""
        return tuple(float(v) for v in self.boxes_to_original(np.asarray(box, np.float64)[None])[0])


def _apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = p @ m[:2, :2].T + m[:2, 2]
    wq = p @ m[2, :2] + m[2, 2]
    return q / wq[:, None]


def _scale(sx: float, sy: float | None = None) -> np.ndarray:
    """Resize matrix for pixel-centre coordinates (what cv2.resize does)."""
    sy = sx if sy is None else sy
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


def _translate(tx: float, ty: float) -> np.ndarray:
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)


def _rot90(k: int, w: int, h: int) -> np.ndarray:
    """Matrix of ``np.rot90(img, k)`` on an image w px wide and h px tall (pixel centres)."""
    k %= 4
    if k == 0:
        return np.eye(3)
    if k == 1:  # counter-clockwise: (x, y) -> (y, w-1-x)
        return np.array([[0, 1, 0], [-1, 0, w - 1], [0, 0, 1]], np.float64)
    if k == 2:
        return np.array([[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1]], np.float64)
    return np.array([[0, -1, h - 1], [1, 0, 0], [0, 0, 1]], np.float64)


def _rotation_about(deg: float, cx: float, cy: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D((cx, cy), deg, 1.0)
    return np.vstack([m, [0, 0, 1]])


#: Longest side of the grey copy that page analysis works on, px.
ANALYSIS_MAX_SIDE_PX = 1600
#: Longest side of the copy on which the paper is looked for, px.
PAGE_FIND_MAX_SIDE_PX = 480
#: The paper must cover at least this fraction of the photo, and leave at least
#: this much background, to be taken as a page on a background.
PAGE_MIN_AREA_FRACTION = 0.2
PAGE_MAX_AREA_FRACTION = 0.97
#: Paper brighter than the background by at least this much (0-255 grey levels).
PAGE_MIN_CONTRAST = 20.0
#: The bright region must fill its quadrilateral to at least this fraction.
PAGE_MIN_FILL = 0.9
#: A page quadrilateral may leave at most this fraction of the photo's five-line
#: combs outside it (more: it is the lit part of a page in a hard shadow).
PAGE_MAX_OUTSIDE_COMBS = 0.2
#: ... and fewer than this many of them in all (of the columns :func:`_combs_at`
#: samples): a page outline that cuts through the staves' ends (a photo whose page
#: fills the frame, its lighting taken for an edge) leaves a few staves' starts out.
PAGE_MAX_OUTSIDE_COMBS_COUNT = 30
#: What lies outside a page outline is paper in shade, not a background, where its
#: mean grey is at least this fraction of the page's inside (a table or cloth
#: around a lit page is far darker; the faint lines find wood grain's stripes).
PAGE_SHADED_PAPER_RATIO = 0.6
#: The region above the lower threshold of a three-class split is taken for the page
#: before the one above Otsu's threshold when it holds that one (to this fraction of
#: its area) and is this many times as large: the page is partly in a hard shadow.
PAGE_NESTED_FRACTION = 0.95
PAGE_SHADOW_GROWTH = 1.5
#: A page outline shows at least this many of the paper's sides; the others may run
#: along the photo's border (within ``PAGE_BORDER_FRACTION`` of its longest side),
#: where the paper overruns the frame. With one, what cut the bright region is more
#: likely a shading edge than the paper's. (With none the quadrilateral is the
#: frame itself: a scan or a crop, kept.)
PAGE_MIN_REAL_SIDES = 2
PAGE_BORDER_FRACTION = 0.015
#: Corners of a page are within this many degrees of a right angle.
PAGE_MAX_CORNER_DEVIATION_DEG = 35.0
#: The page's outline is first approximated finely (this fraction of its perimeter)
#: and its four longest edges, extended, give the corners: a corner that uneven light
#: cut off (a chamfer) is restored. The four must make up this fraction of the
#: outline's perimeter.
PAGE_SIDES_EPS = 0.006
PAGE_SIDES_MIN_FRACTION = 0.8
#: ... and the corners found so must lie within the photo, give or take this
#: fraction of its longest side; and what they add to the bright region must be
#: paper in the dark, at least this far (as a fraction) from the background's grey
#: towards the page's (a bent page's curved side, extended, overshoots onto the
#: background instead).
PAGE_SIDES_OUTSIDE = 0.02
PAGE_SIDES_MIN_PAPER = 0.25
#: Largest fine skew searched, degrees, and the steps of the coarse and fine search.
MAX_SKEW_DEG = 15.0
SKEW_COARSE_STEP_DEG = 0.5
SKEW_FINE_STEP_DEG = 0.05
#: Points used for the skew projection (a random subset of thin ink).
SKEW_MAX_POINTS = 60_000
#: Staff space in the analysis image below which the analysis is redone at a higher
#: resolution (when the photo has it), and the target staff space then, px.
MIN_ANALYSIS_STAFF_SPACE_PX = 7.0
TARGET_ANALYSIS_STAFF_SPACE_PX = 10.0
#: A page needs at least this many five-line combs (columns crossing a staff) to
#: count as music.
MIN_COMBS = 8
#: The quarter turn goes to the way up with more five-line combs, when one count is
#: this many times the other and at least ``ORIENTATION_SURE_COMBS`` (a threshold
#: that lost faint staff lines leaves a few combs of stems, text and noise either
#: way up); else to the way up whose grey page is clearly more periodic (see
#: :func:`grey_staff_space`; ``GREY_ORIENTATION_RATIO`` times the other's score);
#: else, unsure, to the only one whose grey periodicity is sure (``GREY_SURE_SCORE``),
#: to the one with many times the combs, or whose ink lies more in
#: long level runs (staff lines run across the page; the grain of the paper and
#: evenly spaced stems make combs either way up). Long: at least this fraction of
#: the image's longer side.
ORIENTATION_TIE_FACTOR = 2.0
ORIENTATION_SURE_COMBS = 50
GREY_ORIENTATION_RATIO = 1.5
ORIENTATION_RUN_FRACTION = 1 / 40
#: Where the run lengths put the staff space under ``MIN_ANALYSIS_STAFF_SPACE_PX``
#: (small staves, or a dim photo's grain), the grey periodicity's staff space
#: replaces theirs when they differ by more than ``GREY_RIVAL_DIFFERENCE`` and the ink
#: shows ``GREY_RIVAL_COMBS_RATIO`` times as many five-line combs at it (see
#: :func:`_grey_rival`; at half or twice the staff space of printed lines there are
#: none), and a sure quarter turn is checked against the grey page too.
GREY_RIVAL_DIFFERENCE = 0.25
GREY_RIVAL_COMBS_RATIO = 1.0
#: Where the staff space came from the grey page, run lengths measured again (on
#: the ink thresholded at it, or after a warp) stand for it only within this
#: fraction of it.
GREY_RUNS_AGREE = 0.1
#: 180-degree test: ink near the staves' left ends (clefs, braces, key signatures)
#: must exceed that near the right ends by this factor to keep the page as it is.
FLIP_RATIO = 1.15
#: Window at a staff's end for the 180-degree test, in staff spaces (outside, inside).
END_WINDOW_SS = (2.5, 5.0)
#: Largest side of the normalized image, px.
MAX_NORMALIZED_SIDE_PX = 6000
#: Downscale factor (original -> normalized) below which the photo is first shrunk
#: by area averaging, and the factor the warp is then left to do.
MAX_DIRECT_DOWNSCALE = 0.75
PREWARP_RESIDUAL_SCALE = 0.9
#: Outside-page pixels are painted white up to this far inside the page edge, staff spaces.
PAGE_EDGE_MARGIN_SS = 0.3


def _order_corners(q: np.ndarray) -> np.ndarray:
    """Four points -> top-left, top-right, bottom-right, bottom-left."""
    c = q.mean(axis=0)
    ang = np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0])
    q = q[np.argsort(ang)]  # clockwise in image coords (y down), starting near -pi
    s = q.sum(axis=1)
    start = int(np.argmin(s))
    return np.roll(q, -start, axis=0)


def find_page(gray: np.ndarray) -> np.ndarray | None:
    """The paper's quadrilateral (4, 2) in ``gray``'s pixels, or None if there is no
    convincing one (the paper fills the frame, or no bright four-sided region)."""
    quads = page_candidates(gray)
    return quads[0] if quads else None


def _otsu3(small: np.ndarray) -> tuple[float, float]:
    """The two thresholds splitting the grey levels of ``small`` into three classes with
    the largest between-class variance (paper in light, paper in shadow, background)."""
    hist = np.bincount(small.ravel(), minlength=256).astype(np.float64)
    p = hist / max(hist.sum(), 1.0)
    levels = np.arange(256, dtype=np.float64)
    w = np.cumsum(p)
    m = np.cumsum(p * levels)
    total = m[-1]
    t1, t2 = np.triu_indices(256, 1)  # class 0: <= t1, class 1: (t1, t2], class 2: > t2
    w0, w1, w2 = w[t1], w[t2] - w[t1], 1.0 - w[t2]
    m0, m1, m2 = m[t1], m[t2] - m[t1], total - m[t2]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(w0 > 0, m0 ** 2 / w0, 0) + np.where(w1 > 0, m1 ** 2 / w1, 0) + np.where(w2 > 0, m2 ** 2 / w2, 0)
    i = int(np.argmax(var))
    return float(t1[i]), float(t2[i])


def page_candidates(gray: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals (4, 2) in ``gray``'s pixels that may be the paper, most likely
    first: the bright region above Otsu's threshold, then (if that one exists), for
    paper partly in a hard shadow whose lit part alone would pass for the page, the
    region above the lower threshold of a three-class split. Empty when none is
    convincing."""
    h, w = gray.shape
    s = min(1.0, PAGE_FIND_MAX_SIDE_PX / max(h, w))
    small = cv2.resize(gray, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    t, _ = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    sh, sw = small.shape
    out: list[np.ndarray] = []
    for thr in (float(t), _otsu3(small)[0]):
        quad = _page_quad(small, thr)
        if quad is None:
            if not out:
                break  # no bright page at all: the darker split is no page either
            continue
        # pixel-centre coordinates of the small image -> gray's
        quad = (quad + 0.5) / np.array([sw / w, sh / h]) - 0.5
        if not any(np.abs(quad - q).max() < 0.02 * max(h, w) for q in out):
            out.append(quad)
    return out


def _page_quad(small: np.ndarray, thr: float) -> np.ndarray | None:
    """The paper's quadrilateral where ``small`` (blurred, at most
    ``PAGE_FIND_MAX_SIDE_PX``) is brighter than ``thr``, scaled to the caller's image."""
    sh, sw = small.shape
    mask = np.where(small > thr, 255, 0).astype(np.uint8)
    k = max(3, int(0.03 * max(sh, sw)) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if n < 2:
        return None
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = float(stats[i, cv2.CC_STAT_AREA])
    if not PAGE_MIN_AREA_FRACTION * sh * sw <= area <= PAGE_MAX_AREA_FRACTION * sh * sw:
        return None
    region = (labels == i).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    peri = cv2.arcLength(hull, True)
    quad = _long_sides_quad(cv2.approxPolyDP(hull, PAGE_SIDES_EPS * peri, True).reshape(-1, 2))
    if quad is not None and (np.any(quad < -PAGE_SIDES_OUTSIDE * max(sh, sw))
                             or np.any(quad > np.array([sw, sh]) * (1 + PAGE_SIDES_OUTSIDE))):
        quad = None  # a corner restored outside the photo: the outline leaked, not cut
    if quad is not None:
        inside = np.zeros((sh, sw), np.uint8)
        cv2.fillConvexPoly(inside, np.round(quad).astype(np.int32), 1)
        in_hull = np.zeros((sh, sw), np.uint8)
        cv2.fillConvexPoly(in_hull, hull.reshape(-1, 2).astype(np.int32), 1)
        added = (inside > 0) & (in_hull == 0)
        if added.any() and (inside == 0).any():
            page, background = float(small[region > 0].mean()), float(small[inside == 0].mean())
            if small[added].mean() - background < PAGE_SIDES_MIN_PAPER * (page - background):
                quad = None
    for eps in (0.01, 0.015, 0.02, 0.03, 0.04, 0.05):
        if quad is not None:
            break
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float64)
    if quad is None:
        return None
    quad_area = abs(cv2.contourArea(quad.astype(np.float32)))
    if quad_area <= 0 or area / quad_area < PAGE_MIN_FILL:
        return None
    inside = small[region > 0].mean()
    outside = small[region == 0].mean()
    if inside - outside < PAGE_MIN_CONTRAST:
        return None
    quad = _order_corners(quad)
    if 0 < _sides_off_frame(quad, sw, sh) < PAGE_MIN_REAL_SIDES:
        return None  # the paper overruns the frame; a shading edge cut the bright region
    for j in range(4):
        a, b, c = quad[j - 1], quad[j], quad[(j + 1) % 4]
        u, v = a - b, c - b
        cosang = float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-9))
        if abs(90.0 - np.degrees(np.arccos(np.clip(cosang, -1, 1)))) > PAGE_MAX_CORNER_DEVIATION_DEG:
            return None
    return quad




def _sides_off_frame(quad: np.ndarray, w: int, h: int) -> int:
    """How many sides of ``quad`` (4, 2) do not run along the border of a ``w`` x
    ``h`` image (both ends near the same border).

    >>> _sides_off_frame(np.array([[0, 0], [99, 0], [99, 99], [40, 99]], float), 100, 100)
    1
    """
    tol = PAGE_BORDER_FRACTION * max(w, h)
    on = [(abs(x) <= tol, abs(x - (w - 1)) <= tol, abs(y) <= tol, abs(y - (h - 1)) <= tol) for x, y in quad]
    return sum(not any(a and b for a, b in zip(on[j], on[(j + 1) % 4])) for j in range(4))


def _long_sides_quad(poly: np.ndarray) -> np.ndarray | None:
    """The quadrilateral whose sides lie on the four longest edges of the convex
    polygon ``poly`` (N, 2), taken in order around it; None when those edges make up
    less than :data:`PAGE_SIDES_MIN_FRACTION` of the perimeter or two of them are
    (nearly) parallel neighbours.

    >>> chamfered = np.array([[10, 0], [100, 0], [100, 80], [0, 80], [0, 10]], float)
    >>> _long_sides_quad(chamfered).round().tolist()
    [[0.0, 0.0], [100.0, 0.0], [100.0, 80.0], [0.0, 80.0]]
    """
    poly = np.asarray(poly, np.float64)
    n = len(poly)
    if n < 4:
        return None
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    length = np.array([np.linalg.norm(b - a) for a, b in edges])
    sides = sorted(np.argsort(length)[-4:])
    if length[sides].sum() < PAGE_SIDES_MIN_FRACTION * length.sum():
        return None

    corners = []
    for k in range(4):
        (a0, a1), (b0, b1) = edges[sides[k - 1]], edges[sides[k]]
        da, db = a1 - a0, b1 - b0
        den = da[0] * db[1] - da[1] * db[0]
        if abs(den) < 0.2 * np.linalg.norm(da) * np.linalg.norm(db):   # under ~12 degrees apart
            return None
        t = ((b0[0] - a0[0]) * db[1] - (b0[1] - a0[1]) * db[0]) / den
        corners.append(a0 + t * da)
    return np.array(corners)


def _rectify(quad: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Homography taking ``quad`` (TL, TR, BR, BL) to an upright rectangle, and its size."""
    tl, tr, br, bl = quad
    w = 0.5 * (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl))
    h = 0.5 * (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr))
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return m.astype(np.float64), (max(2, int(round(w))), max(2, int(round(h))))


def _line_run_px(line_thickness: float) -> int:
    """The longest vertical black run (px) that is still a staff line, not a symbol."""
    return max(2, int(round(2 * line_thickness + 1)))


def _thin_horizontal(binary: np.ndarray, max_run: int) -> np.ndarray:
    """Ink pixels whose vertical black run is at most ``max_run`` px (staff lines and
    other thin horizontal strokes; noteheads, stems and beams drop out)."""
    h, w = binary.shape
    b = binary.astype(np.uint8)
    # vertical run length at each pixel via erosion: a pixel is in a long run if an
    # opening with a vertical kernel of max_run + 1 keeps it
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max_run + 1))
    long_runs = cv2.morphologyEx(b, cv2.MORPH_OPEN, k)
    return (b > 0) & (long_runs == 0)


def _skew(thin: np.ndarray, rng_seed: int = 0) -> float:
    """Angle (degrees, counter-clockwise as seen) of the staff lines in a thin-ink mask,
    by maximizing the sharpness of the rows' projection over candidate angles."""
    ys, xs = np.nonzero(thin)
    if len(xs) < 50:
        return 0.0
    if len(xs) > SKEW_MAX_POINTS:
        pick = np.random.default_rng(rng_seed).choice(len(xs), SKEW_MAX_POINTS, replace=False)
        xs, ys = xs[pick], ys[pick]
    xs = xs.astype(np.float64) - thin.shape[1] / 2
    ys = ys.astype(np.float64)

    def sharpness(deg: float) -> float:
        t = np.radians(deg)
        # row of each point after rotating the image by -deg (lines become level)
        r = ys + xs * np.tan(t)
        r -= r.min()
        hist = np.bincount(r.astype(np.int64))
        return float((hist.astype(np.float64) ** 2).sum())

    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 1e-9, SKEW_COARSE_STEP_DEG)
    best = coarse[int(np.argmax([sharpness(a) for a in coarse]))]
    fine = np.arange(best - SKEW_COARSE_STEP_DEG, best + SKEW_COARSE_STEP_DEG + 1e-9, SKEW_FINE_STEP_DEG)
    scores = np.array([sharpness(a) for a in fine])
    # the mean of the near-best angles is steadier than the single best
    top = fine[scores >= scores.max() - 0.02 * (scores.max() - scores.min() + 1e-9)]
    return float(top.mean())


def _left_heavy(binary: np.ndarray, thin: np.ndarray, ss: float) -> float:
    """Ratio of non-staff-line ink near the staves' left ends to that near their right
    ends (clefs, braces, key and time signatures stand at the left). ``binary`` has
    level staff lines; ``thin`` its thin-ink mask."""
    h, w = binary.shape
    k = max(3, int(round(3 * ss)))
    bridge = max(3, int(round(0.5 * ss)))  # close small breaks in faint lines first
    lines = cv2.morphologyEx(thin.astype(np.uint8), cv2.MORPH_CLOSE,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (bridge, 1)))
    lines = cv2.morphologyEx(lines, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    rows = lines.sum(axis=1).astype(np.float64)
    if rows.max() <= 0:
        return 1.0
    line_rows = rows >= 0.3 * rows.max()
    # bands of rows (one per staff): line rows closer than 1.6 staff spaces join
    ys = np.flatnonzero(line_rows)
    bands = []
    start = prev = ys[0]
    for y in ys[1:]:
        if y - prev > 1.6 * ss:
            bands.append((start, prev))
            start = y
        prev = y
    bands.append((start, prev))
    other = binary & ~cv2.dilate(lines, np.ones((3, 1), np.uint8)).astype(bool)
    left = right = 0.0
    out_w, in_w = (int(round(END_WINDOW_SS[0] * ss)), int(round(END_WINDOW_SS[1] * ss)))
    for y0, y1 in bands:
        if y1 - y0 < 2.5 * ss:  # not a five-line staff
            continue
        cols = np.flatnonzero(lines[y0 : y1 + 1].any(axis=0))
        if len(cols) < 10 * ss:
            continue
        x0, x1 = int(np.percentile(cols, 1)), int(np.percentile(cols, 99))
        ya, yb = max(0, int(y0 - 2 * ss)), min(h, int(y1 + 2 * ss) + 1)
        left += other[ya:yb, max(0, x0 - out_w) : x0 + in_w].sum()
        right += other[ya:yb, max(0, x1 - in_w) : x1 + out_w].sum()
    return float((left + 1.0) / (right + 1.0))


def _level_run_ink(binary: np.ndarray, length: int) -> int:
    """Ink pixels of ``binary`` in level runs at least ``length`` px long."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(1, length), 1))
    return int(cv2.countNonZero(cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_OPEN, kernel)))


def _one_sided(a: int, b: int, least: int) -> bool:
    """Whether one of two comb counts is ``ORIENTATION_TIE_FACTOR`` times the other
    and at least ``least``."""
    return max(a, b) >= ORIENTATION_TIE_FACTOR * min(a, b) and max(a, b) >= least


def _quarter_turn(binary: np.ndarray, stats: RunStats | None, turned: RunStats | None,
                  flat: np.ndarray, grey_ways: dict | None = None) -> tuple[bool, bool]:
    """Whether ``binary`` turned a quarter is the way up rather than as it is, and
    whether that is sure: see ``ORIENTATION_TIE_FACTOR``. ``stats``, ``turned``: the
    run stats of ``binary`` as it is and turned (None: no combs); ``flat``: the grey
    page ``binary`` was thresholded from; ``grey_ways``: where the grey periodicity of
    each way (:func:`_grey_way`) is kept once measured."""
    grey_ways = {} if grey_ways is None else grey_ways
    c0, c1 = (st.combs if st is not None else 0 for st in (stats, turned))
    one_sided = _one_sided(c0, c1, MIN_COMBS)
    sure_by_combs = one_sided and max(c0, c1) >= ORIENTATION_SURE_COMBS
    if sure_by_combs and (turned if c1 > c0 else stats).staff_space >= MIN_ANALYSIS_STAFF_SPACE_PX:
        return c1 > c0, True
    # (runs a few px apart may be a dim photo's grain, whose combs can outnumber the
    # faint staff lines' either way up: the grey page has its say)
    across = np.ascontiguousarray(np.rot90(binary, 1))
    (g0, s0), (g1, s1) = _grey_way(flat, 0, grey_ways), _grey_way(flat, 1, grey_ways)
    grey_sided = max(s0, s1) >= GREY_MIN_SCORE and max(s0, s1) >= GREY_ORIENTATION_RATIO * max(min(s0, s1), 0.0)

    def grey_combs() -> tuple[int, int]:
        # the combs at each way's grey staff space: lines spaced as the grey
        # periodicity says are music, the runs' combs may be grain
        return (_combs_at(binary, g0) if g0 > 0 else 0), (_combs_at(across, g1) if g1 > 0 else 0)

    if sure_by_combs:
        if grey_sided:
            k0, k1 = grey_combs()
            if _one_sided(k0, k1, RUN_MODE_MIN_COMBS) and (s1 > s0) == (k1 > k0) != (c1 > c0):
                return k1 > k0, False  # grain's combs one way, the music's lines the other
        return c1 > c0, True
    if grey_sided:
        return s1 > s0, True
    if (s0 >= GREY_SURE_SCORE) != (s1 >= GREY_SURE_SCORE):
        return s1 > s0, False  # staff lines one way, under GREY_ORIENTATION_RATIO times the grain's other
    if one_sided:
        return c1 > c0, False
    if max(c0, c1) < MIN_COMBS:  # no combs to go by: the likelier grey periodicity
        return s1 > s0, False
    k0, k1 = grey_combs()
    if _one_sided(k0, k1, RUN_MODE_MIN_COMBS):
        return k1 > k0, False
    length = int(round(ORIENTATION_RUN_FRACTION * max(binary.shape)))
    return _level_run_ink(across, length) > _level_run_ink(binary, length), False


def _grey_way(flat: np.ndarray, quarter: int, grey: dict) -> tuple[float, float]:
    """:func:`grey_staff_space` of ``flat`` turned ``quarter`` quarters (0 or 1):
    (staff space, comb score), the score -1 (and the space 0) where there is none;
    kept in ``grey`` (by ``quarter``), so each way is measured once."""
    if quarter not in grey:
        g = grey_staff_space(np.ascontiguousarray(np.rot90(flat, quarter)))
        grey[quarter] = g if g is not None else (0.0, -1.0)
    return grey[quarter]


def _grey_rival(binary: np.ndarray, stats: RunStats, g: tuple[float, float]) -> tuple[float, float] | None:
    """``g``, the grey page's staff space and score (see :func:`grey_staff_space`),
    where it differs from the run statistics' ``stats`` by more than
    ``GREY_RIVAL_DIFFERENCE`` and either the grey periodicity is sure (a score of
    ``GREY_SURE_SCORE``) or ``binary`` (lines across) holds more five-line combs at it
    (at least ``RUN_MODE_MIN_COMBS``): the run lengths of a dark, grainy photo
    measure its grain, not its faint lines (in heavy grain the ink holds few combs
    at any spacing). None otherwise."""
    if g[1] < GREY_MIN_SCORE or abs(g[0] / stats.staff_space - 1.0) <= GREY_RIVAL_DIFFERENCE:
        return None
    if g[1] >= GREY_SURE_SCORE:
        return g
    at_runs, at_grey = _combs_at(binary, stats.staff_space), _combs_at(binary, g[0])
    if at_grey >= GREY_RIVAL_COMBS_RATIO * max(at_runs, 1) and at_grey >= RUN_MODE_MIN_COMBS:
        return g
    return None


def _enough(stats: RunStats | None) -> bool:
    return stats is not None and stats.combs >= MIN_COMBS


def _combs_at(binary: np.ndarray, ss: float, max_columns: int = 400) -> int:
    """Columns' five-line combs in ``binary`` (lines across) with spacing ``ss`` (px):
    five thin runs one above the other, evenly spaced by ``ss`` to ``COMB_TOLERANCE``."""
    w = binary.shape[1]
    step = max(1, w // max_columns)
    ci, si, ei = _vertical_runs(binary, np.arange(0, w, step))
    thin = (ei - si) <= max(2.0, 0.4 * ss)
    ci, centre = ci[thin], 0.5 * (si + ei)[thin]
    if len(centre) < 5:
        return 0
    near = (ci[1:] == ci[:-1]) & (np.abs(np.diff(centre) - ss) <= COMB_TOLERANCE * ss + 0.5)
    k = np.convolve(near.astype(np.int32), np.ones(4, np.int32), mode="valid")
    return int((k == 4).sum())


def _music_view(views: list[np.ndarray], mask: np.ndarray) -> tuple[int, float, int] | None:
    """Which of ``views`` (ink masks with the lines across: the page as it is, then
    transposed) shows the music inside ``mask`` (the page as it is): (its index, the
    staff space, the five-line combs), or None where neither has ``MIN_COMBS``."""
    view = None
    for t, b in enumerate(views):
        m = mask.T if t else mask
        st = run_stats(np.ascontiguousarray(b & (m > 0)))
        if st is not None and st.combs >= MIN_COMBS and (view is None or st.combs > view[2]):
            view = (t, st.staff_space, st.combs)
    return view


def _music_page(small: np.ndarray, quads: list[np.ndarray]) -> np.ndarray | None:
    """The candidate page (see :func:`page_candidates`) that holds the music: one that
    leaves more than ``PAGE_MAX_OUTSIDE_COMBS`` (or ``PAGE_MAX_OUTSIDE_COMBS_COUNT``)
    of the five-line combs (with the staff spacing of the music inside the first,
    brightest candidate) outside it is the lit part of a page in a hard shadow, or
    lighting taken for an edge. Where the ink threshold shows few combs, the faint
    lines it lost (:func:`with_faint_lines`) are counted too, and a page must hold
    the music both ways; where it shows many, the faint lines at the music's
    spacing must leave fewer than ``PAGE_MAX_OUTSIDE_COMBS_COUNT`` combs outside
    where what lies outside is as bright as paper in shade
    (``PAGE_SHADED_PAPER_RATIO``): beyond an edge that lighting made, the threshold
    breaks the darker paper's staff lines into dashes. None when no candidate holds
    the music (the page fills the frame, its lit part is only a patch)."""
    if not quads:
        return None
    h, w = small.shape
    masks = []
    for q in quads:
        m = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(m, np.round(q).astype(np.int32), 1)
        masks.append(m)
    order = [0]  # a darker candidate only as the whole of a page in a hard shadow
    if len(quads) > 1:
        # a hard shadow over much of the page: the lit part is a quadrilateral inside
        # the whole page's, and much smaller (the photo's noise in the shadow can hide
        # the music there from the test below)
        inside = float((masks[0] & masks[1]).sum()) / max(1.0, float(masks[0].sum()))
        if inside >= PAGE_NESTED_FRACTION and masks[1].sum() >= PAGE_SHADOW_GROWTH * masks[0].sum():
            order = [1, 0]
    flat = flatten_illumination(np.ascontiguousarray(small), max(h, w) / 150.0)
    binary = _threshold_flat(flat)
    plain = [binary, np.ascontiguousarray(binary.T)]  # lines across, lines down
    # the music as the ink threshold shows it, and where that is too little to be
    # sure of, with the faint lines the threshold lost: a page must hold it both ways
    faint_views: list = []  # the same with the faint lines, made when first needed

    def faint() -> list:
        if not faint_views:
            faint_views.extend([with_faint_lines(flat, binary),
                                with_faint_lines(np.ascontiguousarray(flat.T), plain[1])])
        return faint_views

    found = [(plain, _music_view(plain, masks[0]))]
    sure = found[0][1] is not None and found[0][1][2] >= ORIENTATION_SURE_COMBS
    if not sure:
        found.append((faint(), _music_view(faint(), masks[0])))
    found = [(views, view) for views, view in found if view is not None]
    if not found:
        return quads[order[0]]  # no music to go by
    for i in order:
        if not all(_holds_music(views[t], masks[i].T if t else masks[i], ss) for views, (t, ss, _) in found):
            continue
        outside = small[masks[i] == 0]
        if sure and outside.size and outside.mean() >= PAGE_SHADED_PAPER_RATIO * small[masks[i] > 0].mean():
            # beyond an edge that lighting made lies paper in shade, whose staff lines
            # the threshold breaks into dashes: the faint lines, at the music's spacing
            # (they show the grain's too), must leave no staves out either
            t, ss, _ = found[0][1]
            if _combs_outside(faint()[t], masks[i].T if t else masks[i], ss) >= PAGE_MAX_OUTSIDE_COMBS_COUNT:
                continue
        return quads[i]
    return None


def _combs_outside(binary: np.ndarray, mask: np.ndarray, ss: float) -> int:
    """The five-line combs (spacing ``ss``) of ink mask ``binary`` (lines across)
    outside the page ``mask``. The page edge may cut a staff's end: a band of two
    staff spaces along the lines is left out of the count (none across them: a staff
    all of whose lines lie beyond the page's top or bottom edge is out of it,
    lighting taken for an edge through a system)."""
    r = max(3, int(round(4 * ss)) | 1)
    near = cv2.dilate(np.ascontiguousarray(mask), cv2.getStructuringElement(cv2.MORPH_RECT, (r, 1)))
    return _combs_at(binary & (near == 0), ss)


def _holds_music(binary: np.ndarray, mask: np.ndarray, ss: float) -> bool:
    """Whether the page ``mask`` leaves at most ``PAGE_MAX_OUTSIDE_COMBS`` (and
    fewer than ``PAGE_MAX_OUTSIDE_COMBS_COUNT``) of the five-line combs (spacing
    ``ss``) of ink mask ``binary`` (lines across) outside (:func:`_combs_outside`)."""
    n_in = _combs_at(binary & (np.ascontiguousarray(mask) > 0), ss)
    n_out = _combs_outside(binary, mask, ss)
    return n_in + n_out == 0 or (n_out <= PAGE_MAX_OUTSIDE_COMBS * (n_in + n_out)
                                 and n_out < PAGE_MAX_OUTSIDE_COMBS_COUNT)


#: Perspective from the staves, when the page outline did not undo it (none was
#: found: the page fills or overruns the photo; or a wrong one): the local staff
#: space (line-to-line distance in five-line combs down sampled columns) is fitted
#: as a plane over the image; when it varies across the music by more than
#: ``KEYSTONE_MIN_RATIO`` (largest / smallest), a projective map is applied that
#: makes it even (the far part of a tilted page prints smaller). Up to
#: ``KEYSTONE_COLUMNS`` columns are sampled; at least ``KEYSTONE_MIN_SAMPLES`` combs
#: spread over ``KEYSTONE_MIN_SPREAD`` of the image's height or width are needed.
KEYSTONE_MIN_RATIO = 1.5
KEYSTONE_COLUMNS = 160
KEYSTONE_MIN_SAMPLES = 40
KEYSTONE_MIN_SPREAD = 0.3
#: ... and combs at least this many staff spaces apart in height (several staves).
KEYSTONE_MIN_HEIGHT_SS = 12.0
#: A comb's four line-to-line distances may differ from their mean by this fraction.
KEYSTONE_COMB_TOLERANCE = 0.2


def local_staff_spaces(binary: np.ndarray, staff_space: float, line_thickness: float,
                       *, columns: int = KEYSTONE_COLUMNS) -> np.ndarray:
    """``(N, 3)`` samples ``(x, y, staff space)`` (px) of ``binary``: one per five-line
    comb (five thin runs, evenly spaced) found down evenly spaced columns, with
    distances within a factor 0.6 to 1.6 of ``staff_space``."""
    w = binary.shape[1]
    step = max(1, w // columns)
    xs = np.arange(step // 2, w, step)
    ci, si, ei = _vertical_runs(binary, xs)
    thin = (ei - si) <= _line_run_px(line_thickness)
    ci, mid = ci[thin], 0.5 * (si + ei)[thin]
    out = []
    for c in np.unique(ci):
        x, centres = xs[c], mid[ci == c]
        if len(centres) < 5:
            continue
        gaps = np.diff(centres)
        i = 0
        while i + 4 <= len(gaps):
            g = gaps[i:i + 4]
            mean = float(g.mean())
            if 0.6 * staff_space <= mean <= 1.6 * staff_space and \
                    np.abs(g - mean).max() <= KEYSTONE_COMB_TOLERANCE * mean:
                out.append((float(x), float(centres[i:i + 5].mean()), mean))
                i += 4
            else:
                i += 1
    return np.array(out, np.float64).reshape(-1, 3)


def keystone(binary: np.ndarray, staff_space: float, line_thickness: float) -> np.ndarray | None:
    """A projective map (3x3, in ``binary``'s pixels) that evens out the staff space
    over the image (see ``KEYSTONE_MIN_RATIO``), or None when it is even enough or
    the samples are too few. The map keeps the centre of the music and its scale."""
    samples = local_staff_spaces(binary, staff_space, line_thickness)
    h, w = binary.shape
    if len(samples) < KEYSTONE_MIN_SAMPLES:
        return None
    xs, ys, ds = samples.T
    if max(np.ptp(xs) / w, np.ptp(ys) / h) < KEYSTONE_MIN_SPREAD or \
            np.ptp(ys) < KEYSTONE_MIN_HEIGHT_SS * staff_space:
        return None  # one staff (a crop) says little of how the page is tilted
    cx, cy = 0.5 * (xs.min() + xs.max()), 0.5 * (ys.min() + ys.max())
    a = np.column_stack([np.ones_like(xs), xs - cx, ys - cy])
    keep = np.ones(len(ds), bool)
    for _ in range(3):  # a plane, refitted without the outliers
        coef, *_ = np.linalg.lstsq(a[keep], ds[keep], rcond=None)
        resid = ds - a @ coef
        mad = float(np.median(np.abs(resid[keep]))) + 1e-6
        keep = np.abs(resid) <= 3.0 * 1.4826 * mad
    if keep.sum() < KEYSTONE_MIN_SAMPLES or coef[0] <= 0:
        return None
    corners = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.min(), ys.max()], [xs.max(), ys.max()]])
    at = coef[0] + coef[1] * (corners[:, 0] - cx) + coef[2] * (corners[:, 1] - cy)
    if at.min() <= 0 or at.max() / at.min() < KEYSTONE_MIN_RATIO:
        return None
    # with x' = x / w, y' = y / w, w = 1 + g x + h y (centred), a vertical distance
    # (the staff space) is scaled by (1 + g x) / w^2, to first order 1 - g x - 2 h y:
    # the fitted d = d0 (1 + a x + b y) becomes even with g = a, h = b / 2
    gh = np.array([coef[1] / coef[0], 0.5 * coef[2] / coef[0]])
    img_corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)
    if (1.0 + (img_corners - [cx, cy]) @ gh).min() <= 0.3:
        return None  # too strong to trust: part of the image would fold over
    proj = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [gh[0], gh[1], 1.0]])
    return _translate(cx, cy) @ proj @ _translate(-cx, -cy)


#: After the page is level, stems and barlines may still lean: perspective that the
#: page outline did not undo (none found, or one side of it the photo's edge). Where
#: they lean by at least ``SHEAR_MIN_DEG`` (within ``MAX_SHEAR_DEG``) the page is
#: sheared upright (staff lines stay level): at 2 degrees the barlines of a system
#: 30 staff spaces tall are a staff space apart from its top staff to its bottom.
#: The lean is read off strokes at least ``SHEAR_MIN_STROKE_SS`` staff spaces tall
#: (stems, barlines; few letters are), of which there must be ``SHEAR_MIN_STROKES``.
SHEAR_MIN_DEG = 2.0
MAX_SHEAR_DEG = 12.0
SHEAR_MIN_STROKE_SS = 2.0
SHEAR_MIN_STROKES = 20


def _thin_vertical(binary: np.ndarray, max_run: int) -> np.ndarray:
    """Ink pixels whose horizontal black run is at most ``max_run`` px (stems,
    barlines; staff lines, noteheads and beams drop out)."""
    b = binary.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (max_run + 1, 1))
    return (b > 0) & (cv2.morphologyEx(b, cv2.MORPH_OPEN, k) == 0)


def lean(binary: np.ndarray, staff_space: float, line_thickness: float) -> float:
    """Degrees by which the stems and barlines of a level page lean (positive: their
    lower ends further right): the median slope of the thin vertical strokes at
    least ``SHEAR_MIN_STROKE_SS`` staff spaces tall, weighted by their height; 0.0
    when there are fewer than ``SHEAR_MIN_STROKES``.

    >>> page = np.zeros((200, 300), bool)
    >>> for y in (60, 70, 80, 90, 100, 140, 150, 160, 170, 180):
    ...     page[y, 20:280] = True                  # two staves, lines level
    >>> for x in range(40, 260, 20):
    ...     for y in range(50, 190):
    ...         page[y, x + int(round((y - 120) * np.tan(np.radians(4.0))))] = True
    >>> abs(lean(page, 10.0, 1.0) - 4.0) < 0.2
    True
    """
    run = _line_run_px(line_thickness)
    strokes = _thin_vertical(binary, run).astype(np.uint8)
    # bridge the staff lines that cut each stem and barline
    strokes = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, run + 1)))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    # tall and thin enough to be a stroke leaning at most MAX_SHEAR_DEG (label 0: the paper)
    strokes_at = np.flatnonzero((heights >= SHEAR_MIN_STROKE_SS * staff_space)
                                & (widths <= 2 * line_thickness + 2 + heights * np.tan(np.radians(MAX_SHEAR_DEG))))
    slopes, weights = [], []
    for i in strokes_at[strokes_at > 0]:
        x, y, w, h, _ = stats[i]
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == i)
        yc = ys - ys.mean()
        den = float((yc * yc).sum())
        if den <= 0:
            continue
        slopes.append(float((yc * (xs - xs.mean())).sum()) / den)
        weights.append(float(h))
    if len(slopes) < SHEAR_MIN_STROKES:
        return 0.0
    order = np.argsort(slopes)
    cum = np.cumsum(np.asarray(weights)[order])
    median = np.asarray(slopes)[order][int(np.searchsorted(cum, cum[-1] / 2))]
    return float(np.degrees(np.arctan(median)))


def _upright(deg: float, w: int, h: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The shear (3x3) that sets strokes leaning by ``deg`` (see :func:`lean`) in a
    w x h image upright, moved so that the whole image stays in view, and the size
    of the view."""
    t = np.tan(np.radians(deg))
    m = np.array([[1.0, -t, t * h / 2], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    corners = _apply(m, np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64))
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return _translate(-lo[0], 0.0) @ m, (int(np.ceil(hi[0] - lo[0])) + 1, h)


def _analyse(gray_full: np.ndarray, scale: float, find: bool, turned: bool | None = None):
    """One pass of the analysis at ``scale`` (analysis px per original px);
    ``turned``: the quarter turn (see :func:`normalize`), None to find it.

    Returns (transform original -> level analysis image, run stats, page quad in
    original px or None, quarter turns, skew degrees, analysis image size)."""
    h0, w0 = gray_full.shape
    sw, sh = max(8, round(w0 * scale)), max(8, round(h0 * scale))
    if scale < 1.0:
        small = cv2.resize(gray_full, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        small = gray_full
        sw, sh = w0, h0
    to_small = _scale(sw / w0, sh / h0)
    quad_small = _music_page(small, page_candidates(small)) if find else None
    if quad_small is not None:
        rect, (rw, rh) = _rectify(quad_small)
        work = cv2.warpPerspective(small, rect, (rw, rh), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    else:
        rect, (rw, rh) = np.eye(3), (sw, sh)
        work = small
    keystoned = False
    guess_ss = max(rw, rh) / 150.0
    flat = flatten_illumination(np.ascontiguousarray(work), guess_ss)
    binary = _threshold_flat(flat)
    flat_t = np.ascontiguousarray(np.rot90(flat, 1))
    lines, lines_t = binary, np.ascontiguousarray(np.rot90(binary, 1))
    # staff lines run across the page: five evenly spaced thin runs down a column
    stats = run_stats(lines)
    stats_t = run_stats(lines_t)
    if max(st.combs if st is not None else 0 for st in (stats, stats_t)) < ORIENTATION_SURE_COMBS:
        # the threshold lost the staff lines (faint, thin or blurred): add them back
        lines, lines_t = with_faint_lines(flat, lines), with_faint_lines(flat_t, lines_t)
        stats, stats_t = run_stats(lines), run_stats(lines_t)
    grey_ways: dict = {}  # the grey periodicity of each way up, once measured
    if turned is None:
        turned, sure = _quarter_turn(binary, stats, stats_t, flat, grey_ways)
    else:
        sure = True
    quarter = int(turned)
    binary, flat_as_is = lines, flat
    if turned:
        stats, binary, flat = stats_t, lines_t, flat_t
        work = np.ascontiguousarray(np.rot90(work, 1))
    grey = False
    rival = None
    if _enough(stats) and stats.staff_space < MIN_ANALYSIS_STAFF_SPACE_PX:
        # runs a few px apart: a photo of small staves, or of grain (see _grey_rival)
        rival = _grey_rival(binary, stats, _grey_way(flat_as_is, quarter, grey_ways))
    if not _enough(stats) or rival is not None:
        # faint or blurred lines: the binary runs fail (or measure the grain of a dark
        # photo); the grey periodicity does not (the rival is it, when there is one)
        g = _grey_way(flat_as_is, quarter, grey_ways)
        if g[1] < GREY_MIN_SCORE:
            return None
        ss = g[0]
        binary = binarize(work, ss)
        again = run_stats(binary)
        if again is not None and _enough(again) and abs(again.staff_space / ss - 1) < GREY_RUNS_AGREE:
            stats = again
        else:
            stats = RunStats(staff_space=ss, line_thickness=max(1.0, 0.12 * ss), combs=MIN_COMBS, pairs=0)
            grey = True
    if not grey:
        again = run_stats(binary, modes=RUN_MODES)
        if _enough(again):
            stats = again
    rot = _rot90(quarter, rw, rh)
    ww, wh = (rh, rw) if quarter % 2 else (rw, rh)
    thin = _thin_horizontal(binary, _line_run_px(stats.line_thickness))
    skew = _skew(thin)
    # lines turned counter-clockwise by ``skew`` are levelled by turning them back
    # clockwise (cv2's positive angles turn counter-clockwise as seen)
    level = _rotation_about(-skew, (ww - 1) / 2, (wh - 1) / 2)
    # the level image keeps the whole work image in view
    corners = np.array([[0, 0], [ww - 1, 0], [ww - 1, wh - 1], [0, wh - 1]], np.float64)
    mc = _apply(level, corners)
    lo, hi = mc.min(axis=0), mc.max(axis=0)
    level = _translate(-lo[0], -lo[1]) @ level
    lw, lh = int(np.ceil(hi[0] - lo[0])) + 1, int(np.ceil(hi[1] - lo[1])) + 1
    m_small = level @ rot @ rect
    if abs(skew) > 0.05:
        work = cv2.warpPerspective(small, m_small, (lw, lh), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        binary = binarize(work, stats.staff_space)
        stats2 = run_stats(binary, modes=RUN_MODES)
        # the level image gives cleaner runs, but only a result with enough combs
        # replaces the first one (glare or blur can break the lines after the warp)
        if _enough(stats2) and (not grey or abs(stats2.staff_space / stats.staff_space - 1) < GREY_RUNS_AGREE):
            stats = stats2
        thin = _thin_horizontal(binary, _line_run_px(stats.line_thickness))
    if find:
        # perspective the page outline did not undo (none found, or a wrong one): read
        # off the staves' spacing
        kmap = keystone(binary, stats.staff_space, stats.line_thickness)
        if kmap is not None:
            m_k = kmap @ m_small
            corners = _apply(m_k, np.array([[0, 0], [sw - 1, 0], [sw - 1, sh - 1], [0, sh - 1]], np.float64))
            lo, hi = corners.min(axis=0), corners.max(axis=0)
            size = (int(np.ceil(hi[0] - lo[0])) + 1, int(np.ceil(hi[1] - lo[1])) + 1)
            if max(size) <= 3 * max(sw, sh):
                m_k = _translate(-lo[0], -lo[1]) @ m_k
                work_k = cv2.warpPerspective(small, m_k, size, flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_CONSTANT, borderValue=255)
                binary_k = binarize(work_k, stats.staff_space)
                stats_k = run_stats(binary_k, modes=RUN_MODES)
                if _enough(stats_k) and stats_k.combs >= stats.combs * 0.8 \
                        and (not grey or abs(stats_k.staff_space / stats.staff_space - 1) < GREY_RUNS_AGREE):
                    m_small, work, binary, stats = m_k, work_k, binary_k, stats_k
                    thin = _thin_horizontal(binary, _line_run_px(stats.line_thickness))
                    keystoned = True
    size = (work.shape[1], work.shape[0])
    leaning = lean(binary, stats.staff_space, stats.line_thickness) if find else 0.0
    if abs(leaning) < SHEAR_MIN_DEG:
        leaning = 0.0
    else:
        shear, size = _upright(leaning, binary.shape[1], binary.shape[0])
        m_small = shear @ m_small
        # the ink mask is sheared as it is (it may hold faint lines a threshold lost)
        binary = cv2.warpAffine(binary.astype(np.uint8), shear[:2], size, flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
        thin = _thin_horizontal(binary, _line_run_px(stats.line_thickness))
    quad = None
    if quad_small is not None:
        quad = _apply(np.linalg.inv(to_small), quad_small)
    return dict(m=m_small @ to_small, stats=stats, quad=quad, quarter=quarter, quarter_sure=sure, skew=skew,
                size=size, binary=binary, thin=thin, keystone=keystoned, lean=leaning)


def normalize(image_rgb: np.ndarray, *, staff_space_norm: float = STAFF_SPACE_NORM,
              find_page: bool = True, turned: bool | None = None) -> NormalizedPage:
    """Make a photo upright, flat and to scale: one staff space = ``staff_space_norm`` px.

    On a grey copy at most ``ANALYSIS_MAX_SIDE_PX`` on a side: find the paper (its
    perspective is undone; ``find_page=False`` skips this), the quarter turn (staff
    lines run horizontally; clefs stand at the left), the fine skew (within
    ``MAX_SKEW_DEG``), the staff space (vertical run lengths), perspective left over
    (:func:`keystone`) and the lean of stems and barlines (:func:`lean`, undone by a
    shear). All of it goes into
    one homography, and the full-resolution grey photo is warped once with it (after
    an area-averaging shrink when the scale falls below ``MAX_DIRECT_DOWNSCALE``), and
    passed through :func:`flatten_illumination`. ``turned`` settles the quarter turn
    instead: False keeps the staff lines running as the photo shows them across,
    True takes them to run down it (the page is then turned a quarter); the result's
    ``quarter_sure`` says whether the analysis was sure of its own choice.

    Raises :class:`~omr.errors.NoMusicError` when no staff lines are found (a blank
    page, a photo of something else) and :class:`~omr.errors.ImageError` when the
    staves are so small that the normalized page would exceed
    ``MAX_NORMALIZED_SIDE_PX``.
    """
    if not staff_space_norm or not 2.0 <= float(staff_space_norm) <= 100.0:
        raise ParameterError(f"staff_space_norm must lie in [2, 100] px, got {staff_space_norm!r}")
    image_rgb = np.asarray(image_rgb)
    if image_rgb.ndim == 2:
        gray = np.ascontiguousarray(image_rgb if image_rgb.dtype == np.uint8 else _array_to_rgb(image_rgb, "image")[:, :, 0])
    else:
        rgb = image_rgb if (image_rgb.dtype == np.uint8 and image_rgb.shape[2] == 3) else _array_to_rgb(image_rgb, "image")
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    h0, w0 = gray.shape
    _check_size(w0, h0, "the image")
    if int(gray.max()) - int(gray.min()) < 8:
        raise NoMusicError("no staves found: the image is blank (one flat colour)")

    scale = min(1.0, ANALYSIS_MAX_SIDE_PX / max(h0, w0))
    res = _analyse(gray, scale, find_page, turned)
    if res is not None and scale < 1.0 and res["stats"].staff_space < MIN_ANALYSIS_STAFF_SPACE_PX:
        finer = min(1.0, scale * TARGET_ANALYSIS_STAFF_SPACE_PX / res["stats"].staff_space)
        res2 = _analyse(gray, finer, find_page, turned)
        if res2 is not None and res2["stats"].combs >= MIN_COMBS:
            res = res2
    elif res is None and scale < 1.0:
        res = _analyse(gray, min(1.0, 2.5 * scale), find_page, turned)
    if res is None or res["stats"].combs < MIN_COMBS:
        raise NoMusicError("no staves found: the image shows no evenly spaced staff lines")
    stats = res["stats"]
    ratio = _left_heavy(res["binary"], res["thin"], stats.staff_space)
    flip = ratio < 1.0 / FLIP_RATIO
    m = res["m"]  # original -> level analysis image
    if flip:
        lw, lh = res["size"]
        m = _rot90(2, lw, lh) @ m
    quarter = (res["quarter"] + (2 if flip else 0)) % 4

    # the normalized frame: scale so the staff space is staff_space_norm, crop to the page
    k = float(staff_space_norm) / stats.staff_space
    m = _scale(k) @ m
    quad = res["quad"]
    # pixel-edge corners of the page (or of the whole photo): the output holds them all
    region = quad if quad is not None else np.array(
        [[-0.5, -0.5], [w0 - 0.5, -0.5], [w0 - 0.5, h0 - 0.5], [-0.5, h0 - 0.5]], np.float64)
    mapped = _apply(m, region)
    lo, hi = mapped.min(axis=0), mapped.max(axis=0)
    out_w, out_h = max(1, int(np.ceil(hi[0] - lo[0] - 1e-6))), max(1, int(np.ceil(hi[1] - lo[1] - 1e-6)))
    if max(out_w, out_h) > MAX_NORMALIZED_SIDE_PX:
        raise ImageError(
            f"the staves are too small in this photo (staff space {stats.staff_space / _local_scale(res['m'], w0, h0):.1f} px): "
            f"the normalized page would be {out_w}x{out_h} px; take the photo closer to the page")
    m = _translate(-0.5 - lo[0], -0.5 - lo[1]) @ m
    total = _local_scale(m, w0, h0)  # normalized px per original px at the centre
    src, pre = gray, np.eye(3)
    if total < MAX_DIRECT_DOWNSCALE:
        f = total / PREWARP_RESIDUAL_SCALE
        pw, ph = max(8, round(w0 * f)), max(8, round(h0 * f))
        src = cv2.resize(gray, (pw, ph), interpolation=cv2.INTER_AREA)
        pre = _scale(pw / w0, ph / h0)
    warp = m @ np.linalg.inv(pre)
    warped = cv2.warpPerspective(src, warp, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    if quad is not None:
        mask = np.zeros((out_h, out_w), np.uint8)
        poly = _apply(m, quad)
        centre = poly.mean(axis=0)
        shrink = PAGE_EDGE_MARGIN_SS * staff_space_norm
        poly = centre + (poly - centre) * (1 - shrink / max(1.0, float(np.abs(poly - centre).min())))
        cv2.fillConvexPoly(mask, np.round(poly * 16).astype(np.int32), 255, lineType=cv2.LINE_8, shift=4)
        cv2.bitwise_or(warped, cv2.bitwise_not(mask), dst=warped)
    image = flatten_illumination(warped, float(staff_space_norm))

    to_original = np.linalg.inv(m)
    to_original /= to_original[2, 2]
    corners = None
    if quad is not None:
        # corners as the page reads: top-left of the normalized page first, clockwise
        pc = _apply(m, quad)
        corners = quad[_order_index(pc)]
    ss_orig = float(staff_space_norm) / total
    return NormalizedPage(image=image, staff_space_norm=float(staff_space_norm), staff_space=ss_orig,
                          to_original=to_original, original_size=(w0, h0), rotation=int(((4 - quarter) % 4) * 90),
                          skew_deg=float(res["skew"]), page_found=quad is not None, page_corners=corners,
                          keystone=res["keystone"], lean_deg=float(res["lean"]),
                          quarter_sure=bool(res["quarter_sure"]),
                          line_thickness=float(stats.line_thickness * k))


def _order_index(pts: np.ndarray) -> np.ndarray:
    ordered = _order_corners(pts)
    return np.array([int(np.argmin(np.linalg.norm(pts - p, axis=1))) for p in ordered])


def _local_scale(m: np.ndarray, w: int, h: int) -> float:
    """sqrt of the area scale of homography ``m`` at the centre of a w x h image."""
    c = np.array([[(w - 1) / 2, (h - 1) / 2]])
    d = 2.0
    p = _apply(m, np.vstack([c, c + [d, 0], c + [0, d]]))
    jac = np.column_stack([(p[1] - p[0]) / d, (p[2] - p[0]) / d])
    return float(np.sqrt(abs(np.linalg.det(jac))))
