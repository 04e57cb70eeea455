"""Make a clean engraved page look like a student's phone photo.

The input is a clean rendered page (``uint8`` grayscale, white paper, black
ink) and the boxes of its symbols. The output is an RGB photo, the boxes moved
exactly with the ink, and a mask of the boxes that are still in the frame.

Every random choice is drawn once, by :func:`sample_params`, into a frozen
:class:`CameraParams`; everything after that is a pure function of the page and
the parameters. A photo is therefore reproducible from its parameters alone, and
``params.to_dict()`` can be logged as JSON next to the training sample.

Geometry
--------
A page point ``p`` (pixel *corner* convention: pixel ``i`` spans ``[i, i+1)``)
goes to the output photo in two steps:

1. ``c = p + d(p)``: the page surface is not flat. ``d`` is a smooth
   displacement field (a cylindrical bend near a spine or a curled edge, and/or
   a random wave), stored on a coarse grid over the page and read by bilinear
   interpolation;
2. ``q = H c``: the phone's pose (tilt, roll, distance) as a homography, then the
   crop to the photo's frame and the scale to the output resolution.

Boxes go forward through this map (:func:`warp_boxes`, many points along each
box border). Images go backward (:func:`warp_geometry`): for every output pixel
the source position is found by inverting ``H`` exactly and ``p + d(p) = c`` by
a fixed-point iteration, on a coarse grid that is then interpolated to full
resolution, and sampled with :func:`cv2.remap`. Both directions agree to a few
hundredths of a pixel.

Photometry
----------
Paper and ink colour, paper texture, show-through of the back of the sheet,
fold lines (creases), pencil and highlighter marks, a background around the
page, uneven light, a phone shadow and a glare spot, white balance, low light,
defocus and motion blur, sharpening, sensor noise, JPEG. Smooth fields are made
on a coarse grid and resized, so one photo of a 2500x3500 page takes well under
a second on one core (about 0.15-0.45 s). JPEG goes through albumentations;
its noise, ISO noise and defocus transforms take 0.4-1 s each on a photo this
size, so noise (correlated, at half resolution) and blur are done here with
OpenCV, and the shadow too (albumentations' RandomShadow has hard edges).

Example
-------
>>> import numpy as np
>>> from synth.camera import photograph
>>> page = np.full((700, 500), 255, np.uint8)
>>> page[100:105, 50:450] = 0                       # a "staff line"
>>> boxes = np.array([[50, 100, 450, 105]], np.float32)
>>> result = photograph(page, boxes, np.random.default_rng(0))
>>> result.image.dtype, result.image.ndim, result.boxes.shape
(dtype('uint8'), 3, (1, 4))
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

# albumentations asks PyPI for a newer version on import (a network call in every
# worker, and a warning on a machine without network): nothing here goes online
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402
import cv2
import numpy as np

__all__ = [
    "Background",
    "Bend",
    "CameraParams",
    "CameraResult",
    "Crease",
    "Glare",
    "Mark",
    "Shadow",
    "ShowThrough",
    "photograph",
    "sample_params",
    "warp_boxes",
    "warp_geometry",
]

# ---------------------------------------------------------------------------
# Constants (units in the names or comments)
# ---------------------------------------------------------------------------

#: Staff space assumed when none is given: a letter page at 300 dpi is about
#: 3300 px long and has a staff space of about 20 px.
DEFAULT_STAFF_SPACES_PER_PAGE_SIDE = 170.0

#: Spacing of the grid that stores the page displacement field, source px.
CURL_GRID_STEP_PX = 16
#: Spacing of the coarse output grid on which the inverse map is solved, output px.
MAP_GRID_STEP_PX = 8
#: Fixed-point iterations for inverting the displacement field, and the
#: tolerance (source px) at which they stop early.
CURL_INVERSE_ITERATIONS = 30
CURL_INVERSE_TOLERANCE_PX = 1e-3
#: Points sampled along each edge of a box when it is moved.
BOX_EDGE_SAMPLES = 24
#: A box is visible when at least this fraction of its moved area is in the frame.
MIN_VISIBLE_FRACTION = 0.5

#: Output resolution: the staff space in the photo, px (log-uniform range).
STAFF_SPACE_OUT_PX = (10.0, 20.0)
#: ... and for the occasional low-resolution photo.
STAFF_SPACE_OUT_LOW_RES_PX = (6.0, 9.0)
#: Largest side of an output photo (a 12 MP phone), px.
MAX_OUTPUT_SIDE_PX = 4032
MIN_OUTPUT_SIDE_PX = 16
#: Above this output/source scale, the source is resampled directly; below it,
#: it is first shrunk (area average) to this many times the output scale so the
#: remap does not alias thin staff lines.
ANTIALIAS_OVERSAMPLING = 1.25

#: Camera distance from the page, in page diagonals (a phone's wide lens filling
#: the frame with the page is about 0.7; zoomed in, farther).
CAMERA_DISTANCE_DIAGONALS = (0.7, 1.5)
#: Camera tilt (pitch and yaw), degrees: typical and hard ends.
TILT_DEG = (4.0, 20.0)
#: In-plane rotation of the phone, degrees: typical and hard ends.
ROLL_DEG = (1.5, 6.0)
#: Bend depth as a fraction of the page side across the bend, and the width
#: of the bent zone near a spine as a fraction of that side.
BEND_DEPTH_FRACTION = (0.005, 0.05)
BEND_SPINE_WIDTH_FRACTION = (0.15, 0.45)
#: Maximum slope of the bent surface (keeps the map invertible).
BEND_MAX_SLOPE = 0.6
#: Shading of a bent page: light falls as cos(slope) ** BEND_SHADING_POWER (the
#: light is rarely straight above), and a dip towards a spine loses up to this
#: much more light at its deepest.
BEND_SHADING_POWER = 3.0
GUTTER_DARKENING = 0.25
#: Random wave amplitude, fraction of the page's long side, and control grid size.
WAVE_AMPLITUDE_FRACTION = (0.0008, 0.005)
WAVE_CONTROL_POINTS = (3, 5)

#: Margins of the frame around the page, as fractions of the page's size in
#: the photo. "fill": the student cropped to the page (little or no background);
#: "margin": background all round; "cut": part of the page leaves the frame.
FILL_MARGIN = (-0.06, -0.005)
BACKGROUND_MARGIN = (0.0, 0.12)
CUT_MARGIN = (-0.15, -0.03)

#: Paper colours (reflectance 0-1, RGB).
PAPER_COLORS = {
    "white": (0.93, 0.93, 0.92),
    "ivory": (0.94, 0.93, 0.88),
    "cream": (0.95, 0.93, 0.86),
    "grey": (0.82, 0.82, 0.81),
    "recycled": (0.87, 0.86, 0.81),
}
PAPER_COLOR_WEIGHTS = {"white": 0.45, "ivory": 0.2, "cream": 0.12, "grey": 0.13, "recycled": 0.1}
#: Ink reflectance range (printed black is never quite black).
INK_REFLECTANCE = (0.03, 0.12)
#: White balance gains (R, G, B) of a few light sources.
WHITE_BALANCES = {
    "neutral": (1.0, 1.0, 1.0),
    "warm": (1.0, 0.96, 0.89),  # tungsten, evening
    "cool": (0.93, 0.97, 1.0),  # shade, overcast
    "green": (0.97, 1.0, 0.96),  # fluorescent
}
WHITE_BALANCE_WEIGHTS = {"neutral": 0.45, "warm": 0.25, "cool": 0.22, "green": 0.08}
#: Brightness of the paper in the photo (0-1 after the tone curve): normal, low light.
PAPER_BRIGHTNESS = (0.78, 0.95)
PAPER_BRIGHTNESS_LOW_LIGHT = (0.32, 0.55)
#: Illumination multipliers are stored in uint8 with this scale (so 1.0 -> 200
#: and a little over-exposure still fits).
LIGHT_U8_SCALE = 200.0
#: Coarse grid for smooth photometric fields (light, shadow), output px.
LIGHT_GRID_STEP_PX = 8

#: Highlighter colours (multiplicative, RGB) and pencil/pen colours.
HIGHLIGHTER_COLORS = {
    "yellow": (1.0, 0.96, 0.45),
    "green": (0.66, 0.95, 0.52),
    "pink": (1.0, 0.62, 0.80),
    "blue": (0.60, 0.85, 1.0),
    "orange": (1.0, 0.78, 0.45),
}
PENCIL_COLOR = (0.36, 0.36, 0.39)
PEN_COLORS = {"red": (0.75, 0.2, 0.15), "blue": (0.2, 0.3, 0.75), "brown": (0.55, 0.3, 0.2)}

#: Background kinds and their weights.
BACKGROUND_WEIGHTS = {"wood": 0.28, "fabric": 0.2, "table": 0.24, "dark": 0.12, "colored": 0.08, "paper": 0.08}
#: Background textures are made at this fraction of the output resolution.
BACKGROUND_RESOLUTION = 0.25
#: Blur of the page's shadow on the background, fraction of the frame diagonal.
PAGE_SHADOW_BLUR = 0.004

#: Effect probabilities at difficulty 0.5 (see :func:`_probability`).
P_PERSPECTIVE = 0.9
P_ROLL = 0.85
P_BEND = 0.35
P_WAVE = 0.35
P_CUT = 0.12
P_FILL = 0.4
P_GRADIENT = 0.75
P_VIGNETTE = 0.5
P_SHADOW = 0.25
P_LOW_LIGHT = 0.1
P_DEFOCUS = 0.35
P_DEFOCUS_GRADIENT = 0.4  # given defocus: sharp on one side, blurred on the other
P_MOTION = 0.12
P_SHARPEN = 0.3
P_NOISE = 0.9
P_JPEG = 0.85
P_TEXTURE = 0.6
P_SPECKS = 0.35
P_HIGHLIGHTER = 0.12
P_PENCIL = 0.18
P_PEN = 0.06
P_LOW_RES = 0.1
P_PAGE_SHADOW = 0.6  # the page casts a soft shadow on the background
P_GLARE = 0.12  # a specular highlight of a lamp or window on semi-glossy paper
P_SHOW_THROUGH = 0.15  # the music on the back of the sheet shows through
P_CREASE = 0.12  # the sheet was folded: fold lines across the page

#: Strength ranges: (typical low end, hard end).
DEFOCUS_SIGMA_PX = (0.5, 2.2)  # on top of the lens blur
#: Every phone photo is a little soft (lens, demosaicing), output px.
LENS_SIGMA_PX = (0.3, 0.7)
MOTION_LENGTH_PX = (3.0, 9.0)
SHARPEN_AMOUNT = (0.2, 0.8)
NOISE_SIGMA = (0.8, 5.0)  # luma noise std, 0-255 levels
CHROMA_NOISE_FRACTION = (0.15, 0.45)  # colour noise std relative to luma noise
LOW_LIGHT_NOISE_GAIN = 1.5
JPEG_QUALITY = (95, 45)  # (mild, hard)
GRADIENT_STRENGTH = (0.05, 0.4)  # light drop across the frame
VIGNETTE_STRENGTH = (0.05, 0.35)  # light drop in the corners
SHADOW_LIGHT = (0.8, 0.45)  # light left in the shadow (mild, hard)
SHADOW_SOFTNESS = (0.002, 0.02)  # edge blur sigma, fraction of frame diagonal
BLACK_LEVEL = (0.0, 0.12)  # veiling glare / low contrast, fraction of paper
GAMMA = (0.85, 1.2)
TEXTURE_STRENGTH = (0.01, 0.05)

#: Glare (output frame): peak light added, fraction of white (mild, hard); the
#: ellipse's semi-axes as fractions of the frame diagonal, and the ratio of
#: the long axis to the short one; its centre is drawn in this range of frame
#: fractions. The profile is exp(-r2 ** GLARE_FLATNESS / 2), r2 the squared
#: elliptical radius: above 1 it has a flatter, saturated core than a Gaussian.
GLARE_INTENSITY = (0.15, 0.55)
GLARE_AXIS_FRACTION = (0.06, 0.22)
GLARE_ELONGATION = (1.0, 2.5)
GLARE_CENTER_FRACTION = (0.15, 0.85)
GLARE_FLATNESS = 1.5
#: Show-through (page frame): darkening where the back's ink is solid,
#: fraction of the paper's reflectance (mild, hard); blur of the back's ink by
#: the paper, staff spaces; offset of the back's print from the mirror image,
#: staff spaces across and along the page. The back is the page itself,
#: mirrored left-right (music printed on both sides has a similar layout).
SHOW_THROUGH_DARKNESS = (0.03, 0.10)
SHOW_THROUGH_BLUR_SS = (0.08, 0.3)
SHOW_THROUGH_SHIFT_SS = (8.0, 2.5)  # (x, y) std of the offset, ss
#: The show-through pattern is made at this fraction of the output resolution.
SHOW_THROUGH_RESOLUTION = 0.5
#: Creases (page frame): fold lines, 1-2 of them, mostly across the middle of
#: the page along one of its axes (a sheet folded in two or in four).
CREASE_COUNT = (1, 2)
P_CREASE_HORIZONTAL = 0.6  # the first fold is horizontal (else vertical)
CREASE_ANGLE_JITTER_DEG = 3.0  # std of the fold's angle from the page axis
CREASE_POSITION_FRACTION = (0.3, 0.7)  # where it crosses the page, fraction of the side
#: Bow of a slightly curved fold: sagitta over the page diagonal, at most.
CREASE_SAGITTA_FRACTION = 0.01
#: Width of each line of the line pair, staff spaces.
CREASE_WIDTH_SS = (0.08, 0.25)
#: Darkening of the shadowed line and brightening of the lit one (fractions of
#: the light, mild to hard), and the shading of the slightly tilted paper on
#: the shadowed side: its light drop and decay length (staff spaces).
CREASE_DARK = (0.05, 0.2)
CREASE_LIGHT = (0.02, 0.1)
CREASE_SHADE = (0.01, 0.06)
CREASE_SHADE_WIDTH_SS = (1.0, 5.0)
#: The crease profile is looked up from a uint8 signed distance to the fold
#: (128 on it) that spans this many decay lengths of the shading on each side.
CREASE_EXTENT_DECAYS = 4.0

#: Angles (tilt, roll) are normal with std = limit / ANGLE_LIMIT_SIGMAS, clipped at +-limit.
ANGLE_LIMIT_SIGMAS = 1.6
#: Bend shape choices: near a spine/edge (vs. the whole page bowing), height
#: varying along x (vs. y), and dipping away from the camera (vs. lifting).
P_BEND_SPINE = 0.65
P_BEND_ALONG_X = 0.75
P_BEND_AWAY = 0.6
#: Paper waves move things less sideways than up and down.
WAVE_HORIZONTAL_RATIO = 0.4
#: When the page is cut by the frame: one side (else two).
P_CUT_ONE_SIDE = 0.75
#: Paper texture grain size, output px, and specks (dust, fibres) per megapixel.
TEXTURE_SCALE_PX = (1.0, 3.0)
SPECKS_PER_MEGAPIXEL = (1.0, 15.0)
#: Low light: often warm light, lifted blacks, and some hand shake.
P_LOW_LIGHT_WARM = 0.6
LOW_LIGHT_BLACK_LEVEL = (0.05, 0.15)
P_LOW_LIGHT_SHAKE = 0.4
#: Blur sizes are given for a photo with this staff space and shrink with it.
BLUR_REFERENCE_STAFF_SPACE_PX = 12.0
MIN_MOTION_LENGTH_PX = 2.0

#: Marks, sizes in staff spaces (ss).
HIGHLIGHTER_WIDTH_SS = (0.6, 2.5)
HIGHLIGHTER_OPACITY = (0.45, 0.85)
HIGHLIGHTER_LENGTH_SS = (5.0, 40.0)
HIGHLIGHTER_STROKES = (1, 4)
PENCIL_MARKS = (1, 6)
PEN_MARKS = (1, 3)
PENCIL_WIDTH_SS = (0.1, 0.22)
PENCIL_OPACITY = (0.6, 0.95)
PEN_WIDTH_SS = (0.1, 0.2)
PEN_OPACITY = (0.7, 1.0)
MARK_KIND_WEIGHTS = {"circle": 0.35, "text": 0.45, "tick": 0.2}
CIRCLE_RADIUS_SS = (1.0, 2.5)
TEXT_HEIGHT_SS = (1.5, 3.0)
TEXT_OFFSET_SS = (2.5, 5.0)  # fingering above (mostly) or below the note
TICK_LENGTH_SS = (1.5, 4.0)

#: Difficulty shapes how strengths are drawn: u ** exponent, u uniform in
#: [0, 1], exponent = STRENGTH_EXPONENT_AT_HALF * STRENGTH_SKEW ** (1 - 2 d).
#: At d = 0.5, about 14 % of the strengths land in the hardest fifth.
STRENGTH_EXPONENT_AT_HALF = 1.5
STRENGTH_SKEW = 2.5


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bend:
    """A bent page surface.

    ``kind`` is ``"spine"`` (the page dips or lifts near one edge, as near a
    book's spine or a curled loose sheet) or ``"arc"`` (the whole page bows).
    ``axis`` is ``"x"`` when the height varies along x (curved staff ends at the
    left/right), ``"y"`` when it varies along y. ``edge`` is 0 for the low
    coordinate side, 1 for the high one (spine only). ``depth_px`` is the height
    of the surface at the edge (spine) or the centre (arc), towards the camera
    when positive, and ``width_px`` the width of the bent zone (spine).
    """

    kind: str
    axis: str
    edge: int
    depth_px: float
    width_px: float


@dataclass(frozen=True)
class Mark:
    """A pencil, pen or highlighter mark on the page, in page px.

    ``kind`` is ``"highlighter"`` or ``"stroke"`` (a polyline through
    ``points``, ``width_px`` wide) or ``"text"`` (``text`` written from
    ``points[0]``, ``width_px`` high). ``rgb`` is a multiplicative colour
    (1 = no change) and ``opacity`` in [0, 1].
    """

    kind: str
    points: tuple[tuple[float, float], ...]
    width_px: float
    rgb: tuple[float, float, float]
    opacity: float
    text: str = ""


@dataclass(frozen=True)
class Shadow:
    """A hard shadow (phone, hand) over the scene.

    ``polygon`` is in frame fractions (0-1 across the output). ``light`` is the
    light left in the shadow (per channel, ambient light is bluer), ``softness``
    the edge blur sigma as a fraction of the frame diagonal.
    """

    polygon: tuple[tuple[float, float], ...]
    light: tuple[float, float, float]
    softness: float


@dataclass(frozen=True)
class Background:
    """What the page lies on. ``kind`` in :data:`BACKGROUND_WEIGHTS`; the two
    colours are reflectances (0-1, RGB); ``scale`` sizes the pattern (output px);
    ``seed`` makes its texture."""

    kind: str
    rgb_a: tuple[float, float, float]
    rgb_b: tuple[float, float, float]
    scale: float
    angle_deg: float
    seed: int
    page_shadow: float


@dataclass(frozen=True)
class Glare:
    """A soft specular highlight (lamp, window) on semi-glossy paper, in the
    output frame: light added on top of the photo (so paper saturates and ink
    gets lighter). ``center`` is in frame fractions, ``axes`` the ellipse's
    semi-axes as fractions of the frame diagonal, ``angle_deg`` its rotation and
    ``intensity`` the peak added light, a fraction of white."""

    center: tuple[float, float]
    axes: tuple[float, float]
    angle_deg: float
    intensity: float


@dataclass(frozen=True)
class ShowThrough:
    """The print on the back of the sheet, seen through the paper: the page
    mirrored left-right, moved by ``shift_px`` (page px), blurred by
    ``blur_px`` (page px sigma) and multiplied in so that solid ink darkens
    the paper by ``darkness`` (0-1). Photometric only."""

    shift_px: tuple[float, float]
    blur_px: float
    darkness: float


@dataclass(frozen=True)
class Crease:
    """A fold line on the paper, in page px: it passes through ``point`` at
    ``angle_deg`` and bows by ``sagitta_px`` over the page diagonal. Across it
    (signed distance ``s``, positive on the side the normal ``angle + 90 deg``
    points to) a lit line brightens by ``light`` for ``s < 0``, a shadowed line
    darkens by ``dark`` for ``s > 0`` (each about ``width_px`` wide), and the
    shadowed side's light drops by ``shade`` decaying over ``shade_width_px``.
    Photometric only: the geometry is not moved."""

    point: tuple[float, float]
    angle_deg: float
    sagitta_px: float
    width_px: float
    dark: float
    light: float
    shade: float
    shade_width_px: float


@dataclass(frozen=True)
class CameraParams:
    """Every choice behind one synthetic photo.

    Geometry: ``source_shape`` and ``output_shape`` are (height, width) in px.
    The page is displaced by ``bend`` and ``wave`` (control grid of (dx, dy) page
    px), then seen by a camera ``camera_distance_px`` away with ``tilt_deg``
    (pitch, yaw) and ``roll_deg``; ``frame`` (x0, y0, x1, y1) is the crop in
    that camera view (page px units) and ``scale`` the output px per page px.

    Photometry: see the field names; colours are RGB reflectances (0-1) or
    gains, "sigma" values are in output px unless noted, ``noise_sigma`` in
    0-255 levels. ``None`` or 0 means the effect is off. ``show_through`` and
    ``creases`` belong to the paper (page frame), ``glare`` to the light
    (output frame); all three are photometric only.

    ``to_dict()`` gives a JSON-ready dict; ``CameraParams.from_dict`` reads it back.
    """

    source_shape: tuple[int, int]
    output_shape: tuple[int, int]
    staff_space_px: float
    # geometry
    camera_distance_px: float
    tilt_deg: tuple[float, float]
    roll_deg: float
    bend: Bend | None
    wave: tuple[tuple[tuple[float, float], ...], ...] | None
    frame: tuple[float, float, float, float]
    scale: float
    # page
    paper_rgb: tuple[float, float, float]
    ink_rgb: tuple[float, float, float]
    texture_strength: float
    texture_scale_px: float
    specks: int
    marks: tuple[Mark, ...]
    background: Background
    # light
    paper_brightness: float
    white_balance: tuple[float, float, float]
    gradient: tuple[float, float]  # (angle deg, light drop)
    vignette: float
    shadow: Shadow | None
    low_light: bool
    black_level: float
    gamma: float
    # camera
    defocus_sigma: float
    defocus_gradient_deg: float | None
    motion: tuple[float, float] | None  # (length px, angle deg)
    sharpen: float
    noise_sigma: float
    chroma_noise_sigma: float
    jpeg_quality: int | None
    seed: int = 0  # seeds the textures and the sensor noise
    # paper and light, late additions (off by default)
    glare: Glare | None = None
    show_through: ShowThrough | None = None
    creases: tuple[Crease, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field, plus the derived ``homography``.

        >>> import json, numpy as np
        >>> p = sample_params(np.random.default_rng(1), image_shape=(700, 500))
        >>> isinstance(json.dumps(p.to_dict()), str)
        True
        """
        d = _to_builtin(dataclasses.asdict(self))
        d["homography"] = _homography(self).tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CameraParams":
        """Rebuild parameters from :meth:`to_dict` output (extra keys ignored)."""
        kw = {f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d}
        kw["bend"] = Bend(**kw["bend"]) if kw.get("bend") else None
        kw["shadow"] = Shadow(**_tuplify(kw["shadow"])) if kw.get("shadow") else None
        kw["background"] = Background(**_tuplify(kw["background"]))
        kw["marks"] = tuple(Mark(**_tuplify(m)) for m in kw.get("marks", ()))
        kw["glare"] = Glare(**_tuplify(kw["glare"])) if kw.get("glare") else None
        kw["show_through"] = ShowThrough(**_tuplify(kw["show_through"])) if kw.get("show_through") else None
        kw["creases"] = tuple(Crease(**_tuplify(c)) for c in kw.get("creases", ()))
        objects = ("bend", "shadow", "background", "marks", "glare", "show_through", "creases")
        for name in list(kw):
            if name not in objects:
                kw[name] = _tuplify(kw[name])
        return cls(**kw)


@dataclass(frozen=True)
class CameraResult:
    """A synthetic photo: ``image`` (H, W, 3) uint8 RGB, ``boxes`` (N, 4)
    float32 moved and clipped to the frame, ``visible`` (N,) bool, and the
    ``params`` that made it."""

    image: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray
    params: CameraParams = field(repr=False)


def _to_builtin(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _to_builtin(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_builtin(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _tuplify(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _tuplify(v) for k, v in x.items()}
    if isinstance(x, list):
        return tuple(_tuplify(v) for v in x)
    return x


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def _probability(p: float, difficulty: float) -> float:
    """Probability of an effect at this difficulty: ``p`` at 0.5, 0.4 p at 0,
    1.6 p at 1 (capped at 0.97)."""
    return float(min(0.97, p * (0.4 + 1.2 * difficulty)))


def _strength(rng: np.random.Generator, difficulty: float) -> float:
    """A strength in [0, 1]: mostly moderate, sometimes hard; harder with difficulty."""
    exponent = STRENGTH_EXPONENT_AT_HALF * STRENGTH_SKEW ** (1.0 - 2.0 * difficulty)
    return float(rng.random() ** exponent)


def _clipped_normal(rng: np.random.Generator, limit: float) -> float:
    return float(np.clip(rng.normal(0.0, limit / ANGLE_LIMIT_SIGMAS), -limit, limit))


def _lerp(lo_hi: tuple[float, float], t: float) -> float:
    return float(lo_hi[0] + (lo_hi[1] - lo_hi[0]) * t)


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    w = np.array([weights[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def _jitter_rgb(rng: np.random.Generator, rgb, brightness: float, tint: float = 0.0) -> tuple[float, float, float]:
    """``rgb`` times a random brightness (relative std ``brightness``) and a
    small random tint (relative std ``tint`` per channel)."""
    gain = (1.0 + rng.normal(0.0, brightness)) * (1.0 + rng.normal(0.0, tint, 3))
    v = np.clip(np.asarray(rgb, float) * gain, 0.0, 1.0)
    return tuple(round(float(c), 4) for c in v)


def sample_params(
    rng: np.random.Generator,
    *,
    image_shape: tuple[int, int],
    staff_space_px: float | None = None,
    difficulty: float = 0.5,
    anchor_points: np.ndarray | None = None,
) -> CameraParams:
    """Draw every random choice of one photo.

    Parameters
    ----------
    rng : numpy Generator, the only source of randomness.
    image_shape : (height, width) of the clean page, px.
    staff_space_px : staff space of the page, px; sets the output resolution and
        the size of pencil marks. Default: the long side / 170.
    difficulty : 0 (mild) to 1 (hard). At 0.5 most photos are moderate and a
        minority hard; it raises both how often effects occur and how strong
        they are.
    anchor_points : optional (M, 2) page points (e.g. notehead centres) where
        pencil and highlighter marks are placed; random places if None.

    Example
    -------
    >>> import numpy as np
    >>> p = sample_params(np.random.default_rng(0), image_shape=(3300, 2550))
    >>> p.source_shape
    (3300, 2550)
    """
    if len(image_shape) < 2:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    h, w = int(image_shape[0]), int(image_shape[1])
    if h < 2 or w < 2:
        raise ValueError(f"image_shape too small: {image_shape!r}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    ss = float(staff_space_px) if staff_space_px else max(h, w) / DEFAULT_STAFF_SPACES_PER_PAGE_SIDE
    if not ss > 0:
        raise ValueError(f"staff_space_px must be positive, got {staff_space_px}")
    d = float(difficulty)

    def on(p: float) -> bool:
        return bool(rng.random() < _probability(p, d))

    seed = int(rng.integers(0, 2**31 - 1))
    diag = math.hypot(h, w)

    # --- geometry: camera pose -------------------------------------------
    camera_distance = diag * float(rng.uniform(*CAMERA_DISTANCE_DIAGONALS))
    tilt = (0.0, 0.0)
    if on(P_PERSPECTIVE):
        sigma = _lerp(TILT_DEG, _strength(rng, d))
        tilt = tuple(_clipped_normal(rng, sigma) for _ in range(2))
    roll = 0.0
    if on(P_ROLL):
        limit = _lerp(ROLL_DEG, _strength(rng, d))
        roll = _clipped_normal(rng, limit)

    # --- geometry: page surface ------------------------------------------
    bend = None
    if on(P_BEND):
        kind = "spine" if rng.random() < P_BEND_SPINE else "arc"
        axis = "x" if rng.random() < P_BEND_ALONG_X else "y"
        side = w if axis == "x" else h
        depth = _lerp(BEND_DEPTH_FRACTION, _strength(rng, d)) * side
        width = float(rng.uniform(*BEND_SPINE_WIDTH_FRACTION)) * side if kind == "spine" else float(side)
        # The slope of the surface stays below BEND_MAX_SLOPE.
        max_depth = BEND_MAX_SLOPE * width / (2.0 if kind == "spine" else 4.0)
        depth = min(depth, max_depth)
        sign = -1.0 if (kind == "spine" and rng.random() < P_BEND_AWAY) else 1.0
        bend = Bend(kind, axis, int(rng.integers(0, 2)), round(sign * depth, 3), round(width, 3))
    wave = None
    if on(P_WAVE):
        amp = _lerp(WAVE_AMPLITUDE_FRACTION, _strength(rng, d)) * max(h, w)
        ny, nx = (int(rng.integers(WAVE_CONTROL_POINTS[0], WAVE_CONTROL_POINTS[1] + 1)) for _ in range(2))
        ctrl = rng.normal(0.0, 1.0, (ny, nx, 2)) * np.array([WAVE_HORIZONTAL_RATIO * amp, amp])
        ctrl -= ctrl.mean(axis=(0, 1))
        wave = tuple(tuple((round(float(a), 3), round(float(b), 3)) for a, b in row) for row in ctrl)

    geo = _Geometry(source_shape=(h, w), camera_distance=camera_distance, tilt=tilt, roll=roll, bend=bend, wave=wave)
    outline = _page_outline(h, w)
    cam = geo.to_camera(outline)
    bx0, by0 = cam.min(axis=0)
    bx1, by1 = cam.max(axis=0)
    bw, bh = bx1 - bx0, by1 - by0

    # --- framing ------------------------------------------------------------
    margins = rng.uniform(*BACKGROUND_MARGIN, size=4)  # left, top, right, bottom
    u = rng.random()
    if u < _probability(P_CUT, d):
        n_cut = 1 if rng.random() < P_CUT_ONE_SIDE else 2
        for i in rng.choice(4, size=n_cut, replace=False):
            margins[i] = rng.uniform(*CUT_MARGIN) * (0.5 + _strength(rng, d))
    elif u < _probability(P_CUT, d) + P_FILL:
        margins = rng.uniform(*FILL_MARGIN, size=4)
    frame = (
        float(bx0 - margins[0] * bw),
        float(by0 - margins[1] * bh),
        float(bx1 + margins[2] * bw),
        float(by1 + margins[3] * bh),
    )
    fw, fh = frame[2] - frame[0], frame[3] - frame[1]

    # --- resolution ---------------------------------------------------------
    low_res = on(P_LOW_RES)
    lo, hi = STAFF_SPACE_OUT_LOW_RES_PX if low_res else STAFF_SPACE_OUT_PX
    target_ss = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    scale = min(1.0, target_ss / ss, MAX_OUTPUT_SIDE_PX / max(fw, fh))
    out_w = max(MIN_OUTPUT_SIDE_PX, int(round(fw * scale)))
    out_h = max(MIN_OUTPUT_SIDE_PX, int(round(fh * scale)))
    ss_out = ss * scale

    # --- paper and ink ------------------------------------------------------
    paper_rgb = _jitter_rgb(rng, PAPER_COLORS[_choice(rng, PAPER_COLOR_WEIGHTS)], 0.02, 0.006)
    ink = float(rng.uniform(*INK_REFLECTANCE))
    ink_rgb = _jitter_rgb(rng, (ink, ink, ink * 1.05), 0.0, 0.08)
    texture_strength = _lerp(TEXTURE_STRENGTH, _strength(rng, d)) if on(P_TEXTURE) else 0.0
    texture_scale = float(rng.uniform(*TEXTURE_SCALE_PX))
    specks = int(rng.uniform(*SPECKS_PER_MEGAPIXEL) * out_h * out_w / 1e6) if on(P_SPECKS) else 0

    # --- marks --------------------------------------------------------------
    marks = _sample_marks(rng, d, h, w, ss, anchor_points)

    # --- background ---------------------------------------------------------
    background = _sample_background(rng, ss_out, on(P_PAGE_SHADOW))

    # --- light --------------------------------------------------------------
    low_light = on(P_LOW_LIGHT)
    brightness = float(rng.uniform(*(PAPER_BRIGHTNESS_LOW_LIGHT if low_light else PAPER_BRIGHTNESS)))
    wb_name = "warm" if (low_light and rng.random() < P_LOW_LIGHT_WARM) else _choice(rng, WHITE_BALANCE_WEIGHTS)
    white_balance = _jitter_rgb(rng, WHITE_BALANCES[wb_name], 0.0, 0.01)
    gradient = (0.0, 0.0)
    if on(P_GRADIENT):
        gradient = (float(rng.uniform(0, 360)), _lerp(GRADIENT_STRENGTH, _strength(rng, d)))
    vignette = _lerp(VIGNETTE_STRENGTH, _strength(rng, d)) if on(P_VIGNETTE) else 0.0
    shadow = _sample_shadow(rng, d) if on(P_SHADOW) else None
    black_level = _lerp(BLACK_LEVEL, _strength(rng, d))
    if low_light:
        black_level = max(black_level, float(rng.uniform(*LOW_LIGHT_BLACK_LEVEL)))
    gamma = float(rng.uniform(*GAMMA))

    # --- camera -------------------------------------------------------------
    blur_scale = min(1.0, ss_out / BLUR_REFERENCE_STAFF_SPACE_PX) ** 0.5
    defocus = float(rng.uniform(*LENS_SIGMA_PX))
    defocus_gradient = None
    if on(P_DEFOCUS):
        defocus += _lerp(DEFOCUS_SIGMA_PX, _strength(rng, d)) * blur_scale
        if rng.random() < P_DEFOCUS_GRADIENT:
            defocus_gradient = float(rng.uniform(0, 360))
    motion = None
    if on(P_MOTION) or (low_light and rng.random() < P_LOW_LIGHT_SHAKE):
        length = _lerp(MOTION_LENGTH_PX, _strength(rng, d)) * blur_scale
        if length >= MIN_MOTION_LENGTH_PX:
            motion = (round(length, 3), float(rng.uniform(0, 180)))
    sharpen = _lerp(SHARPEN_AMOUNT, rng.random()) if on(P_SHARPEN) else 0.0
    noise_sigma = 0.0
    chroma = 0.0
    if on(P_NOISE) or low_light:
        noise_sigma = _lerp(NOISE_SIGMA, _strength(rng, d)) * (LOW_LIGHT_NOISE_GAIN if low_light else 1.0)
        chroma = noise_sigma * float(rng.uniform(*CHROMA_NOISE_FRACTION))
    jpeg = int(round(_lerp(JPEG_QUALITY, _strength(rng, d)))) if on(P_JPEG) else None

    # --- paper and light: glare, show-through, creases (drawn last, so the
    # choices above do not depend on them) ---------------------------------
    glare = _sample_glare(rng, d) if on(P_GLARE) else None
    show_through = None
    if on(P_SHOW_THROUGH):
        shift = rng.normal(0.0, 1.0, 2) * np.array(SHOW_THROUGH_SHIFT_SS) * ss
        show_through = ShowThrough(
            shift_px=(round(float(shift[0]), 3), round(float(shift[1]), 3)),
            blur_px=round(_lerp(SHOW_THROUGH_BLUR_SS, float(rng.random())) * ss, 3),
            darkness=round(_lerp(SHOW_THROUGH_DARKNESS, _strength(rng, d)), 4),
        )
    creases = _sample_creases(rng, d, h, w, ss) if on(P_CREASE) else ()

    return CameraParams(
        source_shape=(h, w),
        output_shape=(out_h, out_w),
        staff_space_px=round(ss, 4),
        camera_distance_px=round(camera_distance, 3),
        tilt_deg=(round(tilt[0], 4), round(tilt[1], 4)),
        roll_deg=round(roll, 4),
        bend=bend,
        wave=wave,
        frame=tuple(round(v, 3) for v in frame),
        scale=float(scale),
        paper_rgb=paper_rgb,
        ink_rgb=ink_rgb,
        texture_strength=round(texture_strength, 4),
        texture_scale_px=round(texture_scale, 3),
        specks=specks,
        marks=marks,
        background=background,
        paper_brightness=round(brightness, 4),
        white_balance=white_balance,
        gradient=(round(gradient[0], 3), round(gradient[1], 4)),
        vignette=round(vignette, 4),
        shadow=shadow,
        low_light=low_light,
        black_level=round(black_level, 4),
        gamma=round(gamma, 4),
        defocus_sigma=round(defocus, 4),
        defocus_gradient_deg=defocus_gradient,
        motion=motion,
        sharpen=round(sharpen, 4),
        noise_sigma=round(noise_sigma, 4),
        chroma_noise_sigma=round(chroma, 4),
        jpeg_quality=jpeg,
        seed=seed,
        glare=glare,
        show_through=show_through,
        creases=creases,
    )


def _sample_glare(rng: np.random.Generator, d: float) -> Glare:
    center = rng.uniform(*GLARE_CENTER_FRACTION, size=2)
    short = float(rng.uniform(*GLARE_AXIS_FRACTION))
    long = min(GLARE_AXIS_FRACTION[1], short * float(rng.uniform(*GLARE_ELONGATION)))
    return Glare(
        center=(round(float(center[0]), 4), round(float(center[1]), 4)),
        axes=(round(long, 4), round(short, 4)),
        angle_deg=round(float(rng.uniform(0, 180)), 3),
        intensity=round(_lerp(GLARE_INTENSITY, _strength(rng, d)), 4),
    )


def _sample_creases(rng: np.random.Generator, d: float, h: int, w: int, ss: float) -> tuple[Crease, ...]:
    """Fold lines: the first along the page's long or short axis, a second
    (folded in four) across the first."""
    creases = []
    horizontal = rng.random() < P_CREASE_HORIZONTAL
    for _ in range(_count(rng, CREASE_COUNT)):
        s = _strength(rng, d)
        pos = float(rng.uniform(*CREASE_POSITION_FRACTION))
        along = float(rng.uniform(0.2, 0.8))  # where the point sits along the fold
        point = (along * w, pos * h) if horizontal else (pos * w, along * h)
        angle = (0.0 if horizontal else 90.0) + float(rng.normal(0.0, CREASE_ANGLE_JITTER_DEG))
        angle += 180.0 if rng.random() < 0.5 else 0.0  # which side is in shadow
        creases.append(
            Crease(
                point=(round(point[0], 2), round(point[1], 2)),
                angle_deg=round(angle, 3),
                sagitta_px=round(float(rng.uniform(-1, 1)) * CREASE_SAGITTA_FRACTION * math.hypot(h, w), 2),
                width_px=round(_lerp(CREASE_WIDTH_SS, float(rng.random())) * ss, 3),
                dark=round(_lerp(CREASE_DARK, s), 4),
                light=round(_lerp(CREASE_LIGHT, s), 4),
                shade=round(_lerp(CREASE_SHADE, s), 4),
                shade_width_px=round(_lerp(CREASE_SHADE_WIDTH_SS, float(rng.random())) * ss, 3),
            )
        )
        horizontal = not horizontal
    return tuple(creases)


def _sample_marks(
    rng: np.random.Generator, d: float, h: int, w: int, ss: float, anchors: np.ndarray | None
) -> tuple[Mark, ...]:
    """Highlighter strokes along passages, pencil circles, ticks and fingerings."""
    if anchors is not None:
        anchors = np.asarray(anchors, float).reshape(-1, 2)
        inside = (anchors[:, 0] > 0) & (anchors[:, 0] < w) & (anchors[:, 1] > 0) & (anchors[:, 1] < h)
        anchors = anchors[inside]
    if anchors is None or len(anchors) == 0:
        anchors = np.column_stack([rng.uniform(0.1 * w, 0.9 * w, 64), rng.uniform(0.1 * h, 0.9 * h, 64)])

    def anchor() -> np.ndarray:
        return anchors[int(rng.integers(len(anchors)))]

    marks: list[Mark] = []
    if rng.random() < _probability(P_HIGHLIGHTER, d):
        color = HIGHLIGHTER_COLORS[_choice(rng, {k: 1.0 for k in HIGHLIGHTER_COLORS})]
        width = ss * float(rng.uniform(*HIGHLIGHTER_WIDTH_SS))
        opacity = float(rng.uniform(*HIGHLIGHTER_OPACITY))
        for _ in range(_count(rng, HIGHLIGHTER_STROKES)):
            a = anchor()
            length = ss * float(rng.uniform(*HIGHLIGHTER_LENGTH_SS))
            near = anchors[
                (anchors[:, 0] > a[0]) & (anchors[:, 0] < a[0] + length) & (np.abs(anchors[:, 1] - a[1]) < 2.5 * ss)
            ]
            near = near[np.argsort(near[:, 0])][:: max(1, len(near) // 8)]
            pts = np.vstack([a, near, [a[0] + length, a[1] + rng.normal(0, ss)]])
            pts[:, 1] += rng.normal(0, 0.25 * ss, len(pts))
            pts = _smooth_polyline(pts, ss)
            marks.append(Mark("highlighter", _pts(pts), round(width, 3), color, round(opacity, 3)))
    n_pencil = _count(rng, PENCIL_MARKS) if rng.random() < _probability(P_PENCIL, d) else 0
    n_pen = _count(rng, PEN_MARKS) if rng.random() < _probability(P_PEN, d) else 0
    for i in range(n_pencil + n_pen):
        if i < n_pencil:
            color, thick, opacity = PENCIL_COLOR, ss * rng.uniform(*PENCIL_WIDTH_SS), rng.uniform(*PENCIL_OPACITY)
        else:
            color = PEN_COLORS[_choice(rng, {k: 1.0 for k in PEN_COLORS})]
            thick, opacity = ss * rng.uniform(*PEN_WIDTH_SS), rng.uniform(*PEN_OPACITY)
        a = anchor()
        kind = _choice(rng, MARK_KIND_WEIGHTS)
        if kind == "circle":
            rx, ry = ss * rng.uniform(*CIRCLE_RADIUS_SS, size=2)
            t0 = rng.uniform(0, 2 * np.pi)
            t = t0 + np.linspace(0, 2 * np.pi * rng.uniform(0.9, 1.15), 40)
            r = 1.0 + np.cumsum(rng.normal(0, 0.015, t.size))
            pts = np.column_stack([a[0] + rx * r * np.cos(t), a[1] + ry * r * np.sin(t)])
            marks.append(Mark("stroke", _pts(pts), round(float(thick), 3), color, round(float(opacity), 3)))
        elif kind == "text":
            text = str(int(rng.integers(1, 6))) if rng.random() < 0.7 else f"{rng.integers(1, 9)}{rng.integers(0, 10)}"
            pos = (
                a[0] + rng.normal(0, ss),
                a[1] - ss * rng.uniform(*TEXT_OFFSET_SS) * (1 if rng.random() < 0.7 else -1),
            )
            height = ss * float(rng.uniform(*TEXT_HEIGHT_SS))
            marks.append(Mark("text", _pts([pos]), round(height, 3), color, round(float(opacity), 3), text=text))
        else:
            length = ss * rng.uniform(*TICK_LENGTH_SS)
            ang = rng.uniform(-np.pi, np.pi)
            p0 = a + ss * rng.normal(0, 1.5, 2)
            pts = np.array([p0, p0 + length * np.array([np.cos(ang), np.sin(ang)])])
            marks.append(Mark("stroke", _pts(pts), round(float(thick), 3), color, round(float(opacity), 3)))
    return tuple(marks)


def _count(rng: np.random.Generator, lo_hi: tuple[int, int]) -> int:
    return int(rng.integers(lo_hi[0], lo_hi[1] + 1))


def _pts(pts) -> tuple[tuple[float, float], ...]:
    return tuple((round(float(x), 2), round(float(y), 2)) for x, y in np.asarray(pts, float).reshape(-1, 2))


def _smooth_polyline(pts: np.ndarray, spacing: float) -> np.ndarray:
    """Resample a polyline every ``spacing`` px and smooth its wiggles."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(s[-1] / spacing) + 1)
    t = np.linspace(0.0, s[-1], n)
    out = np.column_stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])])
    if n >= 5:
        k = np.ones(5) / 5.0
        out[2:-2, 1] = np.convolve(out[:, 1], k, mode="valid")
    return out


def _sample_background(rng: np.random.Generator, ss_out: float, page_shadow: bool) -> Background:
    kind = _choice(rng, BACKGROUND_WEIGHTS)
    if kind == "wood":
        base = np.array([0.55, 0.36, 0.2]) * rng.uniform(0.5, 1.3)
        a, b = base, base * rng.uniform(0.6, 0.85)
    elif kind == "fabric":
        base = np.full(3, rng.uniform(0.08, 0.5)) + rng.normal(0, 0.05, 3)
        a, b = base, base * rng.uniform(0.4, 0.7)
    elif kind == "table":
        base = np.full(3, rng.uniform(0.15, 0.9)) * (1 + rng.normal(0, 0.04, 3))
        a, b = base, base * rng.uniform(0.9, 0.98)
    elif kind == "dark":
        base = np.full(3, rng.uniform(0.02, 0.1)) * (1 + rng.normal(0, 0.1, 3))
        a, b = base, base * 0.8
    elif kind == "colored":
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 200), rng.integers(60, 220)]]])
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] / 255.0
        a, b = base, base * rng.uniform(0.75, 0.95)
    else:  # other sheets of paper
        base = np.full(3, rng.uniform(0.7, 0.9)) * (1 + rng.normal(0, 0.02, 3))
        a, b = base, base * rng.uniform(0.85, 0.95)
    return Background(
        kind=kind,
        rgb_a=tuple(round(float(c), 4) for c in np.clip(a, 0, 1)),
        rgb_b=tuple(round(float(c), 4) for c in np.clip(b, 0, 1)),
        scale=round(float(rng.uniform(0.5, 2.0)) * max(ss_out, 4.0), 3),
        angle_deg=round(float(rng.uniform(-10, 10) + (90 if rng.random() < 0.5 else 0)), 3),
        seed=int(rng.integers(0, 2**31 - 1)),
        page_shadow=round(float(rng.uniform(0.15, 0.5)) if page_shadow else 0.0, 4),
    )


def _sample_shadow(rng: np.random.Generator, d: float) -> Shadow:
    """A shadow entering from one side of the frame: a half-plane cut (the
    photographer's body or the phone) or a rounded blob (a hand, a phone)."""
    s = _strength(rng, d)
    light = _lerp(SHADOW_LIGHT, s)
    tint = np.array([0.96, 1.0, 1.07]) if rng.random() < 0.7 else np.ones(3)
    side = int(rng.integers(4))
    if rng.random() < 0.5:  # a cut across the frame
        a, b = rng.uniform(0.1, 0.9, 2)
        poly = np.array([[-0.2, -0.2], [a, -0.2], [b, 1.2], [-0.2, 1.2]])
    else:  # a blob from an edge
        c = rng.uniform(0.2, 0.8)
        depth = rng.uniform(0.25, 0.65)
        half = rng.uniform(0.15, 0.35)
        t = np.linspace(0, np.pi, 12)
        poly = np.column_stack([-0.2 + (depth + 0.2) * np.sin(t), c - half * np.cos(t)])
        poly = poly + rng.normal(0, 0.015, poly.shape)
    # rotate the construction (made for the left side) to the chosen side
    for _ in range(side):
        poly = np.column_stack([1.0 - poly[:, 1], poly[:, 0]])
    return Shadow(
        polygon=_pts(poly),
        light=tuple(round(float(v), 4) for v in np.clip(light * tint, 0, 1)),
        softness=round(_lerp(SHADOW_SOFTNESS, rng.random()), 5),
    )


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """The page -> camera part of the geometry, without the frame and scale."""

    source_shape: tuple[int, int]
    camera_distance: float
    tilt: tuple[float, float]
    roll: float
    bend: Bend | None
    wave: Any

    def curl_grid(self) -> np.ndarray | None:
        return _curl_grid(self.source_shape, self.camera_distance, self.bend, self.wave)

    def camera_homography(self) -> np.ndarray:
        return _camera_homography(self.source_shape, self.camera_distance, self.tilt, self.roll)

    def to_camera(self, pts: np.ndarray) -> np.ndarray:
        grid = self.curl_grid()
        c = pts if grid is None else pts + _bilinear(grid, pts / CURL_GRID_STEP_PX)
        return _apply_h(self.camera_homography(), c)


def _geometry(params: CameraParams) -> _Geometry:
    return _Geometry(
        params.source_shape, params.camera_distance_px, params.tilt_deg, params.roll_deg, params.bend, params.wave
    )


def _page_outline(h: int, w: int, n: int = 64) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    return np.concatenate(
        [
            np.column_stack([t * w, np.zeros(n)]),
            np.column_stack([np.full(n, w), t * h]),
            np.column_stack([(1 - t) * w, np.full(n, h)]),
            np.column_stack([np.zeros(n), (1 - t) * h]),
        ]
    )


def _camera_homography(shape, distance: float, tilt, roll: float) -> np.ndarray:
    """Flat page (corner coords) -> view of a camera above the page centre,
    rotated by pitch/yaw/roll: T(c) K R K^-1 T(-c), K with focal = distance."""
    h, w = shape
    pitch, yaw = np.deg2rad(tilt)
    r = np.deg2rad(roll)
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    k = np.diag([distance, distance, 1.0])
    hk = k @ rz @ rx @ ry @ np.linalg.inv(k)
    t_c = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]], float)
    t_mc = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], float)
    return t_c @ hk @ t_mc


def _homography(params: CameraParams) -> np.ndarray:
    """Displaced page (corner coords) -> output photo (corner coords)."""
    x0, y0 = params.frame[0], params.frame[1]
    s = params.scale
    out = np.array([[s, 0, -s * x0], [0, s, -s * y0], [0, 0, 1]], float)
    return out @ _camera_homography(params.source_shape, params.camera_distance_px, params.tilt_deg, params.roll_deg)


def _apply_h(hm: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = pts @ hm[:, :2].T + hm[:, 2]
    wz = p[:, 2:3]
    wz = np.where(np.abs(wz) < 1e-9, 1e-9, wz)
    return p[:, :2] / wz


def _bend_profile(n: int, length: float, bend: Bend, distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Along the bent axis, at ``n`` nodes spaced CURL_GRID_STEP_PX: the height
    z, and the flattened coordinate x_w (arc length preserved)."""
    fine = np.arange(0.0, max(length, (n - 1) * CURL_GRID_STEP_PX) + 1.0, 0.5)
    if bend.kind == "spine":
        t = fine if bend.edge == 0 else length - fine
        ramp = np.clip(1.0 - t / bend.width_px, 0.0, None)
        z = bend.depth_px * ramp**2
        anchor = length if bend.edge == 0 else 0.0
    else:
        t = 2.0 * fine / length - 1.0
        z = bend.depth_px * (1.0 - t**2)
        anchor = length / 2.0
    slope = np.gradient(z, fine)
    stretch = np.sqrt(np.clip(1.0 - slope**2, 0.05, 1.0))
    arc = np.concatenate([[0.0], np.cumsum(0.5 * (stretch[1:] + stretch[:-1]) * np.diff(fine))])
    xw = arc - np.interp(anchor, fine, arc) + anchor
    nodes = np.arange(n) * CURL_GRID_STEP_PX
    return np.interp(nodes, fine, z), np.interp(nodes, fine, xw), nodes


def _curl_grid(shape, distance: float, bend: Bend | None, wave) -> np.ndarray | None:
    """Displacement d(p) (page px) at grid nodes (j * step, i * step); None if flat."""
    if bend is None and wave is None:
        return None
    h, w = shape
    gh = int(math.ceil(h / CURL_GRID_STEP_PX)) + 1
    gw = int(math.ceil(w / CURL_GRID_STEP_PX)) + 1
    grid = np.zeros((gh, gw, 2), np.float64)
    if bend is not None:
        if bend.axis == "x":
            z, xw, u = _bend_profile(gw, w, bend, distance)
            v = np.arange(gh) * CURL_GRID_STEP_PX
            k = distance / (distance - z)  # perspective magnification of a raised point
            grid[..., 0] = (w / 2 + (xw - w / 2) * k)[None, :] - u[None, :]
            grid[..., 1] = h / 2 + (v[:, None] - h / 2) * k[None, :] - v[:, None]
        else:
            z, yw, v = _bend_profile(gh, h, bend, distance)
            u = np.arange(gw) * CURL_GRID_STEP_PX
            k = distance / (distance - z)
            grid[..., 1] = (h / 2 + (yw - h / 2) * k)[:, None] - v[:, None]
            grid[..., 0] = w / 2 + (u[None, :] - w / 2) * k[:, None] - u[None, :]
    if wave is not None:
        ctrl = np.asarray(wave, np.float32)
        grid += cv2.resize(ctrl, (gw, gh), interpolation=cv2.INTER_CUBIC)
    return grid.astype(np.float32)


def _bilinear(grid: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear lookup of an (gh, gw, C) grid at fractional node coords xy (M, 2),
    clamped at the border."""
    gh, gw = grid.shape[:2]
    x = np.clip(xy[:, 0], 0.0, gw - 1.0)
    y = np.clip(xy[:, 1], 0.0, gh - 1.0)
    j = np.minimum(np.floor(x).astype(np.intp), gw - 2)
    i = np.minimum(np.floor(y).astype(np.intp), gh - 2)
    tx = (x - j)[:, None]
    ty = (y - i)[:, None]
    g = grid.astype(np.float64)
    return (
        g[i, j] * (1 - tx) * (1 - ty)
        + g[i, j + 1] * tx * (1 - ty)
        + g[i + 1, j] * (1 - tx) * ty
        + g[i + 1, j + 1] * tx * ty
    )


def _forward(params: CameraParams, pts: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Page points (M, 2), corner coords -> output photo points (M, 2)."""
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    if grid is None:
        grid = _geometry(params).curl_grid()
    c = pts if grid is None else pts + _bilinear(grid, pts / CURL_GRID_STEP_PX)
    return _apply_h(_homography(params), c)


def _coarse_inverse(params: CameraParams) -> tuple[np.ndarray, np.ndarray, int]:
    """Source position (corner coords, page px) of output points on a coarse grid.

    Node (i, j) sits at output pixel index ((j - 0.5) * S - 0.5, (i - 0.5) * S - 0.5),
    S = MAP_GRID_STEP_PX, for j in 0..nx+1: with this layout, resizing the
    grid by S with cv2.INTER_LINEAR and cropping S pixels at the start gives
    exact bilinear interpolation at every output pixel (see :func:`_upsample`).
    Returns (src (gy, gx, 2) float32, valid (gy, gx) bool, S).
    """
    out_h, out_w = params.output_shape
    step = MAP_GRID_STEP_PX
    nx, ny = int(math.ceil(out_w / step)) + 2, int(math.ceil(out_h / step)) + 2
    qx = (np.arange(nx) - 0.5) * step
    qy = (np.arange(ny) - 0.5) * step
    qq = np.stack(np.meshgrid(qx, qy), axis=-1).reshape(-1, 2)
    hinv = np.linalg.inv(_homography(params))
    ph = qq @ hinv[:, :2].T + hinv[:, 2]
    valid = ph[:, 2] > 1e-9 * np.abs(ph).max()
    c = ph[:, :2] / np.where(valid, ph[:, 2], 1.0)[:, None]
    c[~valid] = -1e6
    grid = _geometry(params).curl_grid()
    p = c.copy()
    if grid is not None:
        # Solve p + d(p) = c by fixed-point iteration p <- c - d(p); d is smooth
        # with a slope well below 1, so this contracts quickly.
        g32 = grid.astype(np.float32)
        cx = c[:, 0].reshape(ny, nx).astype(np.float32)
        cy = c[:, 1].reshape(ny, nx).astype(np.float32)
        px, py = cx.copy(), cy.copy()
        inv_step = 1.0 / CURL_GRID_STEP_PX
        for _ in range(CURL_INVERSE_ITERATIONS):
            dd = cv2.remap(g32, px * inv_step, py * inv_step, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            nx_, ny_ = cx - dd[..., 0], cy - dd[..., 1]
            delta = max(float(np.abs(nx_ - px).max()), float(np.abs(ny_ - py).max()))
            px, py = nx_, ny_
            if delta < CURL_INVERSE_TOLERANCE_PX:
                break
        # polish with the exact (float64) bilinear so the result matches _forward
        pf = np.column_stack([px.ravel(), py.ravel()]).astype(np.float64)
        pf = c - _bilinear(grid, pf / CURL_GRID_STEP_PX)
        p = pf
        p[~valid] = -1e6
    return p.reshape(ny, nx, 2).astype(np.float32), valid.reshape(ny, nx), step


def _upsample(coarse: np.ndarray, step: int, out_shape: tuple[int, int], interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """Resize a grid laid out as in :func:`_coarse_inverse` to full resolution."""
    ny, nx = coarse.shape[:2]
    big = cv2.resize(coarse, (nx * step, ny * step), interpolation=interpolation)
    return big[step : step + out_shape[0], step : step + out_shape[1]]


def _check_image(image: np.ndarray, params: CameraParams | None = None, *, gray_only: bool = False) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if gray_only:
        if image.dtype != np.uint8:
            raise ValueError(f"page must be uint8 (0 = ink, 255 = paper), got dtype {image.dtype}")
        if image.ndim != 2:
            raise ValueError(f"page must be 2-D grayscale (H, W), got shape {image.shape}")
    elif image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image too small: shape {image.shape}")
    if params is not None and tuple(image.shape[:2]) != tuple(params.source_shape):
        raise ValueError(f"image shape {image.shape[:2]} does not match params.source_shape {params.source_shape}")


def _remap_maps(params: CameraParams, coarse: np.ndarray, step: int, shrink: tuple[float, float]) -> np.ndarray:
    """Full-resolution remap map (H, W, 2) float32 into a source shrunk by ``shrink``."""
    idx = coarse.copy()
    idx[..., 0] = idx[..., 0] * shrink[0] - 0.5  # corner coords -> pixel index
    idx[..., 1] = idx[..., 1] * shrink[1] - 0.5
    return _upsample(idx, step, params.output_shape)


def _shrink_for_antialiasing(image: np.ndarray, params: CameraParams) -> tuple[np.ndarray, tuple[float, float]]:
    """Area-average the source when the photo is much smaller, so remap does not alias."""
    r = params.scale * ANTIALIAS_OVERSAMPLING
    if r >= 1.0:
        return image, (1.0, 1.0)
    h, w = image.shape[:2]
    nw, nh = max(2, int(round(w * r))), max(2, int(round(h * r)))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, (nw / w, nh / h)


#: dtypes cv2.remap reads directly; bool and other integers are converted.
_REMAP_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def warp_geometry(
    image: np.ndarray,
    params: CameraParams,
    *,
    border_value: float | tuple[float, ...] = 0,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Apply only the geometric part of the photo (bend, perspective, crop, scale).

    Use it to warp a mask or a label image exactly like the photo. ``image`` is
    (H, W) or (H, W, C) of ``params.source_shape``; uint8, uint16, int16,
    float32 and float64 are resampled as they are, bool masks come back bool
    (coverage >= 1/2), other integer images are resampled as float64 and
    rounded back. Pixels outside the page get ``border_value`` (0 by default:
    pass 255 for white paper). Use ``cv2.INTER_NEAREST`` for label images; with
    ``cv2.INTER_LINEAR`` a strongly downscaled source is area-averaged first so
    thin lines do not alias.

    Example
    -------
    >>> import numpy as np
    >>> page = np.full((700, 500), 255, np.uint8)
    >>> p = sample_params(np.random.default_rng(0), image_shape=page.shape)
    >>> warp_geometry(page, p, border_value=255).shape == p.output_shape
    True
    """
    _check_image(image, params)
    dtype = image.dtype
    if dtype == np.bool_:
        src = image.astype(np.uint8) * np.uint8(255)
        border_value = 255 if border_value else 0
    elif dtype.type in _REMAP_DTYPES:
        src = image
    elif np.issubdtype(dtype, np.integer) or dtype == np.float16:
        src = image.astype(np.float64)
    else:
        raise ValueError(f"cannot warp an image of dtype {dtype}")
    coarse, _, step = _coarse_inverse(params)
    shrink = (1.0, 1.0)
    if interpolation != cv2.INTER_NEAREST:
        src, shrink = _shrink_for_antialiasing(src, params)
    maps = _remap_maps(params, coarse, step, shrink)
    if interpolation == cv2.INTER_AREA:  # remap has no area mode; the shrink did it
        interpolation = cv2.INTER_LINEAR
    nch = 1 if src.ndim == 2 else src.shape[2]
    bv = border_value if isinstance(border_value, tuple) else (border_value,) * max(1, min(nch, 4))
    out = cv2.remap(src, maps, None, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=bv)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    if dtype == np.bool_:
        return out >= 128
    if out.dtype != dtype:
        out = np.rint(out).astype(dtype) if np.issubdtype(dtype, np.integer) else out.astype(dtype)
    return out


def warp_points(points: np.ndarray, params: CameraParams) -> np.ndarray:
    """Move page points (N, 2) x, y (page px, corner coords) to where they lie in the
    photo (N, 2); points off the frame keep their (outside) coordinates.

    Ground truth for page analysis: the page corners, a staff line's points.

    Example
    -------
    >>> import numpy as np
    >>> p = sample_params(np.random.default_rng(0), image_shape=(700, 500))
    >>> warp_points(np.array([[0.0, 0.0], [500.0, 700.0]]), p).shape
    (2, 2)
    """
    pts = np.asarray(points, np.float64)
    if pts.size == 0:
        return np.zeros((0, 2), np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be (N, 2) x, y, got shape {pts.shape}")
    return _forward(params, pts).astype(np.float32)


def warp_boxes(boxes: np.ndarray, params: CameraParams) -> tuple[np.ndarray, np.ndarray]:
    """Move boxes (N, 4) x0, y0, x1, y1 (page px, corner coords) into the photo.

    Each box's border is sampled densely and mapped forward; the moved box is
    the bounding box of the mapped points, clipped to the frame. A box is
    visible when it has a positive size and at least MIN_VISIBLE_FRACTION of
    its moved area is inside the frame. Returns (boxes float32 (N, 4), visible
    bool (N,)).

    Example
    -------
    >>> import numpy as np
    >>> p = sample_params(np.random.default_rng(0), image_shape=(700, 500))
    >>> b, vis = warp_boxes(np.array([[100, 100, 120, 110], [5, 5, 5, 5]]), p)
    >>> b.shape, vis.tolist()[1]
    ((2, 4), False)
    """
    b = np.asarray(boxes, np.float64)
    if b.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, bool)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) x0, y0, x1, y1, got shape {b.shape}")
    n = len(b)
    finite = np.isfinite(b).all(axis=1)
    b = np.where(finite[:, None], b, 0.0)
    valid = finite & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    t = np.linspace(0.0, 1.0, BOX_EDGE_SAMPLES)
    x0, y0, x1, y1 = (b[:, i : i + 1] for i in range(4))
    xs = np.concatenate(
        [x0 + (x1 - x0) * t, np.broadcast_to(x1, (n, t.size)), x1 - (x1 - x0) * t, np.broadcast_to(x0, (n, t.size))], 1
    )
    ys = np.concatenate(
        [np.broadcast_to(y0, (n, t.size)), y0 + (y1 - y0) * t, np.broadcast_to(y1, (n, t.size)), y1 - (y1 - y0) * t], 1
    )
    q = _forward(params, np.column_stack([xs.ravel(), ys.ravel()])).reshape(n, -1, 2)
    moved = np.column_stack([q[..., 0].min(1), q[..., 1].min(1), q[..., 0].max(1), q[..., 1].max(1)])
    out_h, out_w = params.output_shape
    clipped = moved.copy()
    clipped[:, [0, 2]] = np.clip(moved[:, [0, 2]], 0, out_w)
    clipped[:, [1, 3]] = np.clip(moved[:, [1, 3]], 0, out_h)
    area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    area_in = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    visible = valid & (area > 0) & (area_in >= MIN_VISIBLE_FRACTION * np.maximum(area, 1e-12))
    # the box must also still be on the page side of the camera
    clipped[~finite] = 0.0
    return clipped.astype(np.float32), visible


# ---------------------------------------------------------------------------
# Photometry
# ---------------------------------------------------------------------------


#: The page's coverage is interpolated as a uint8 signed distance to its edge:
#: 128 at the edge, this many levels per output px (<= 127 / MAP_GRID_STEP_PX,
#: so the grid nodes next to the edge are never clipped).
_EDGE_LEVELS_PER_PX = 15.0


def _page_alpha(params: CameraParams, coarse: np.ndarray, valid: np.ndarray, step: int) -> np.ndarray:
    """Page coverage (H, W) uint8 0-255, with an antialiased one-pixel edge."""
    h, w = params.source_shape
    inside = np.minimum.reduce([coarse[..., 0], w - coarse[..., 0], coarse[..., 1], h - coarse[..., 1]])
    inside = np.where(valid, inside, -1e6) * params.scale  # ~ output px from the page edge
    enc = np.clip(128.0 + _EDGE_LEVELS_PER_PX * inside, 0, 255).astype(np.uint8)
    full = _upsample(enc, step, params.output_shape)
    lut = np.clip((np.arange(256) - 128.0) / _EDGE_LEVELS_PER_PX + 0.5, 0, 1) * 255.0
    return cv2.LUT(full, lut.astype(np.uint8))


def _tone_luts(params: CameraParams) -> list[np.ndarray]:
    """Gray page value -> per-channel reflectance after black level and gamma."""
    v = np.arange(256) / 255.0
    luts = []
    for c in range(3):
        refl = params.ink_rgb[c] + (params.paper_rgb[c] - params.ink_rgb[c]) * v
        refl = refl / max(params.paper_rgb)
        tone = params.black_level + (1.0 - params.black_level) * refl
        luts.append(np.clip(255.0 * tone**params.gamma, 0, 255).astype(np.uint8))
    return luts


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    n = rng.standard_normal(shape, dtype=np.float32)
    if sigma > 0.3:
        n = cv2.GaussianBlur(n, (0, 0), sigma)
        n /= max(float(n.std()), 1e-6)
    return n


def _paper_texture(params: CameraParams, rng: np.random.Generator) -> np.ndarray | None:
    """Multiplicative paper texture (H, W) uint8 (255 = none): fibres and blotches."""
    if params.texture_strength <= 0:
        return None
    out_h, out_w = params.output_shape
    small = (max(2, out_h // 2), max(2, out_w // 2))
    fine = _smooth_noise(rng, small, params.texture_scale_px / 2)
    blotch_shape = (max(2, out_h // 32), max(2, out_w // 32))
    blotch = cv2.resize(_smooth_noise(rng, blotch_shape, 1.5), (small[1], small[0]))
    t = 1.0 - params.texture_strength * (0.5 * np.abs(fine) + 0.3 * np.maximum(blotch, 0))
    t = cv2.resize(np.clip(t * 255.0, 0, 255).astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return t


def _draw_specks(gray: np.ndarray, params: CameraParams, rng: np.random.Generator) -> None:
    """Dust dots (1-3 px) and short fibres (3-12 px), faint grey, in place."""
    out_h, out_w = gray.shape
    for _ in range(params.specks):
        x, y = int(rng.integers(out_w)), int(rng.integers(out_h))
        tone = int(rng.integers(120, 215))
        if rng.random() < 0.7:
            cv2.circle(gray, (x, y), int(rng.integers(0, 2)), tone, -1, cv2.LINE_AA)
        else:  # a short fibre
            ang = rng.uniform(0, np.pi)
            ln = rng.uniform(3, 12)
            p1 = (int(x + ln * np.cos(ang)), int(y + ln * np.sin(ang)))
            cv2.line(gray, (x, y), p1, min(255, tone + 30), 1, cv2.LINE_AA)


def _local_scale(params: CameraParams, p: np.ndarray, grid) -> float:
    q = _forward(params, np.array([p, p + (1.0, 0.0), p + (0.0, 1.0)]), grid)
    (ax, ay), (bx, by) = q[1] - q[0], q[2] - q[0]
    return float(math.sqrt(abs(ax * by - ay * bx)))


def _draw_marks(rgb: np.ndarray, params: CameraParams) -> None:
    """Multiply highlighter, pencil and pen marks into ``rgb`` (reflectance, in place)."""
    if not params.marks:
        return
    grid = _geometry(params).curl_grid()
    out_h, out_w = rgb.shape[:2]
    shift = 4  # sub-pixel bits for cv2 drawing
    for m in params.marks:
        pts = np.asarray(m.points, np.float64)
        s = _local_scale(params, pts[0], grid)
        q = _forward(params, pts, grid)
        width = m.width_px * s
        pad = int(width * 3 + 4)
        x0, y0 = np.floor(q.min(0)).astype(int) - pad
        x1, y1 = np.ceil(q.max(0)).astype(int) + pad
        if m.kind == "text":
            x1 += int(width * 2 * len(m.text))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, out_w), min(y1, out_h)
        if x1 <= x0 or y1 <= y0:
            continue
        color = tuple(float(255.0 * (1.0 - m.opacity * (1.0 - c))) for c in m.rgb)
        layer = np.full((y1 - y0, x1 - x0, 3), 255, np.uint8)
        local = np.round((q - (x0, y0)) * (1 << shift)).astype(np.int32)
        if m.kind == "text":
            font = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX  # the most handwritten of cv2's fonts
            base_h = cv2.getTextSize("8", font, 1.0, 1)[0][1]
            fs = width / max(base_h, 1)
            thick = max(1, int(round(width / 8)))
            org = (int(q[0, 0] - x0), int(q[0, 1] - y0 + width / 2))
            cv2.putText(layer, m.text, org, font, fs, color, thick, cv2.LINE_AA)
        else:
            thick = max(1, int(round(width)))
            cv2.polylines(layer, [local], False, color, thick, cv2.LINE_AA, shift)
            if m.kind == "highlighter":
                layer = cv2.GaussianBlur(layer, (0, 0), max(0.6, 0.08 * width))
        if m.kind != "highlighter" and width < 1.0:  # thinner than a pixel: fainter
            layer = cv2.addWeighted(layer, width, np.full_like(layer, 255), 1.0 - width, 0.0)
        roi = rgb[y0:y1, x0:x1]
        cv2.multiply(roi, layer, dst=roi, scale=1.0 / 255.0)


def _background(params: CameraParams, alpha_small: np.ndarray) -> np.ndarray:
    """Background reflectance (H, W, 3) uint8, with the page's drop shadow.

    Made at BACKGROUND_RESOLUTION and resized: a mix ``t`` in [0, 1] of the
    two colours, from wood grain and rings, a woven pattern, or plain blotches.
    """
    bg = params.background
    rng = np.random.default_rng(bg.seed)
    out_h, out_w = params.output_shape
    sh, sw = max(4, int(out_h * BACKGROUND_RESOLUTION)), max(4, int(out_w * BACKGROUND_RESOLUTION))
    scale = bg.scale * BACKGROUND_RESOLUTION  # pattern scale in small px
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    ang = np.deg2rad(bg.angle_deg)
    along = xx * np.cos(ang) + yy * np.sin(ang)
    across = -xx * np.sin(ang) + yy * np.cos(ang)
    low = cv2.resize(_smooth_noise(rng, (max(2, sh // 16), max(2, sw // 16)), 1.0), (sw, sh))
    if bg.kind == "wood":
        n = rng.standard_normal((sh, sw)).astype(np.float32)
        vertical = abs(np.sin(ang)) > 0.7  # grain roughly along y
        sx, sy = (0.5, scale * 3) if vertical else (scale * 3, 0.5)
        streak = cv2.GaussianBlur(n, (0, 0), sigmaX=sx, sigmaY=sy)
        streak /= max(float(streak.std()), 1e-6)
        rings = np.sin(across / (scale * 4.0) + 2.0 * low)
        t = np.clip(0.5 + 0.25 * rings + 0.2 * streak, 0, 1)
    elif bg.kind == "fabric":
        weave = 0.5 + 0.25 * np.sin(along * 2.2) * np.sin(across * 2.2)
        t = np.clip(weave + 0.35 * rng.standard_normal((sh, sw)).astype(np.float32) + 0.1 * low, 0, 1)
    else:
        t = np.clip(0.5 + 0.25 * low + 0.05 * rng.standard_normal((sh, sw)).astype(np.float32), 0, 1)
    a = np.asarray(bg.rgb_a, np.float32)
    b = np.asarray(bg.rgb_b, np.float32)
    img = a * (1 - t[..., None]) + b * t[..., None]
    if bg.page_shadow > 0:
        al = cv2.resize(alpha_small, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        blur = max(1.0, PAGE_SHADOW_BLUR * math.hypot(sh, sw))
        off = np.float32([[1, 0, blur * 0.6], [0, 1, blur * 0.9]])  # light from the upper left
        al = cv2.warpAffine(al, off, (sw, sh), borderMode=cv2.BORDER_REPLICATE)
        al = cv2.GaussianBlur(al, (0, 0), blur)
        img *= (1.0 - bg.page_shadow * al)[..., None]
    small = np.clip(img * 255.0, 0, 255).astype(np.uint8)
    return cv2.resize(small, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


def _bend_shading(params: CameraParams, coarse: np.ndarray) -> np.ndarray | None:
    """Light falling on a bent page, on the coarse output grid of
    :func:`_coarse_inverse` (``coarse`` holds the page point seen at each node)."""
    bend = params.bend
    if bend is None:
        return None
    h, w = params.source_shape
    along = coarse[..., 0] if bend.axis == "x" else coarse[..., 1]
    length = w if bend.axis == "x" else h
    n = int(math.ceil(length / CURL_GRID_STEP_PX)) + 1
    z, _, nodes = _bend_profile(n, length, bend, params.camera_distance_px)
    slope = np.gradient(z, nodes)
    shade = (1.0 + np.interp(along, nodes, slope) ** 2) ** (-0.5 * BEND_SHADING_POWER)
    if bend.depth_px < 0:  # a dip: the gutter is in its own shadow
        shade *= 1.0 - GUTTER_DARKENING * np.interp(along, nodes, z) / bend.depth_px
    return shade.astype(np.float32)


def _light_field(params: CameraParams, shading: np.ndarray | None = None) -> np.ndarray:
    """Illumination (H, W, 3) uint8, LIGHT_U8_SCALE = 1: exposure, white balance,
    gradient, vignetting, the page's own shading and the hard shadow, all raised
    to the tone gamma."""
    out_h, out_w = params.output_shape
    gh, gw = max(2, out_h // LIGHT_GRID_STEP_PX), max(2, out_w // LIGHT_GRID_STEP_PX)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    xn = (xx + 0.5) / gw * 2 - 1  # -1..1 across the frame
    yn = (yy + 0.5) / gh * 2 - 1
    light = np.ones((gh, gw), np.float32)
    if shading is not None:  # same spacing, one node of margin on each side
        light *= cv2.resize(shading[1:-1, 1:-1], (gw, gh), interpolation=cv2.INTER_LINEAR)
    angle, drop = params.gradient
    if drop > 0:
        a = np.deg2rad(angle)
        proj = (xn * np.cos(a) + yn * np.sin(a)) / math.sqrt(2)
        light *= 1.0 - drop * (0.5 + 0.5 * proj)
    if params.vignette > 0:
        r2 = (xn**2 + yn**2) / 2
        light *= 1.0 - params.vignette * r2
    rgb = np.repeat(light[..., None], 3, axis=2)
    if params.shadow is not None:
        mask = np.zeros((gh, gw), np.uint8)
        shift = 4  # sub-pixel bits
        poly = np.asarray(params.shadow.polygon, np.float64) * (gw, gh) * (1 << shift)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255, cv2.LINE_AA, shift)
        sigma = params.shadow.softness * math.hypot(gh, gw)
        m = mask.astype(np.float32) / 255.0
        if sigma > 0.3:
            m = cv2.GaussianBlur(m, (0, 0), sigma)
        keep = np.asarray(params.shadow.light, np.float32)
        rgb *= 1.0 - m[..., None] * (1.0 - keep)
    exposure = params.paper_brightness ** (1.0 / params.gamma)
    rgb *= np.asarray(params.white_balance, np.float32) * exposure
    rgb = np.power(np.clip(rgb, 0, None), params.gamma)
    small = np.clip(rgb * LIGHT_U8_SCALE, 0, 255).astype(np.uint8)
    return cv2.resize(small, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


def _show_through(page: np.ndarray, params: CameraParams, coarse: np.ndarray, step: int) -> np.ndarray | None:
    """Multiplicative show-through (H, W) uint8 (255 = none): the back of the
    sheet (the page mirrored left-right and shifted), blurred by the paper.

    It belongs to the paper, so it is looked up through the same inverse map as
    the page (it bends and moves with it), at SHOW_THROUGH_RESOLUTION of the
    output and resized: the pattern is blurred anyway."""
    st = params.show_through
    if st is None or st.darkness <= 0:
        return None
    h, w = params.source_shape
    out_h, out_w = params.output_shape
    r = min(1.0, params.scale * SHOW_THROUGH_RESOLUTION)
    sw, sh = max(2, int(round(w * r))), max(2, int(round(h * r)))
    small = cv2.resize(page, (sw, sh), interpolation=cv2.INTER_AREA) if (sw, sh) != (w, h) else page
    sigma = st.blur_px * sw / w
    if sigma > 0.3:
        small = _gaussian(small, sigma)
    # a front point p sees the back's print at (w - x - dx, y - dy), back page px
    idx = np.empty_like(coarse)
    idx[..., 0] = (w - coarse[..., 0] - st.shift_px[0]) * (sw / w) - 0.5
    idx[..., 1] = (coarse[..., 1] - st.shift_px[1]) * (sh / h) - 0.5
    # the grid resized by step / 2 and cropped by step / 2 gives the map at
    # half the output resolution (pixel m centred on output pixel 2 m + 0.5)
    half = step // 2
    hh, hw = (out_h + 1) // 2, (out_w + 1) // 2
    ny, nx = coarse.shape[:2]
    maps = cv2.resize(idx, (nx * half, ny * half), interpolation=cv2.INTER_LINEAR)[half : half + hh, half : half + hw]
    back = cv2.remap(small, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    lut = np.clip(255.0 * (1.0 - st.darkness * (1.0 - np.arange(256) / 255.0)), 0, 255).astype(np.uint8)
    back = cv2.LUT(back, lut)
    return cv2.resize(back, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


def _crease_light(params: CameraParams, coarse: np.ndarray, step: int, alpha: np.ndarray) -> np.ndarray | None:
    """Light multiplier (H, W, 3) uint8, LIGHT_U8_SCALE = 1, of the fold lines;
    None without creases.

    The signed distance to each fold (page px) is computed on the coarse grid
    of page points, encoded in uint8 (128 on the fold), interpolated to full
    resolution and turned into light by a lookup table, so a fold bends with the
    page. Off the page (``alpha`` < 1/2) the light is left alone."""
    if not params.creases:
        return None
    h, w = params.source_shape
    diag = math.hypot(h, w)
    total = None
    for c in params.creases:
        a = math.radians(c.angle_deg)
        dx, dy = coarse[..., 0] - c.point[0], coarse[..., 1] - c.point[1]
        t = dx * math.cos(a) + dy * math.sin(a)  # along the fold
        s = -dx * math.sin(a) + dy * math.cos(a)  # across it
        s = s - 4.0 * c.sagitta_px * (t / diag) ** 2
        extent = CREASE_EXTENT_DECAYS * max(c.shade_width_px, c.width_px)
        levels_per_px = 127.0 / extent
        enc = np.clip(128.0 + s * levels_per_px, 0, 255).astype(np.uint8)
        full = _upsample(enc, step, params.output_shape)
        d = (np.arange(256) - 128.0) / levels_per_px  # page px across the fold
        line = np.exp(-((d / max(c.width_px, 1e-3)) ** 2))
        decay = max(c.shade_width_px, 1e-3)
        shade = np.clip(np.exp(-d / decay) - math.exp(-extent / decay), 0, 1)
        m = np.where(d < 0, 1.0 + c.light * line, 1.0 - c.dark * line - c.shade * shade)
        lut = np.clip(m * LIGHT_U8_SCALE, 0, 255).astype(np.uint8)
        one = cv2.LUT(full, lut)
        total = one if total is None else cv2.multiply(total, one, scale=1.0 / LIGHT_U8_SCALE)
    total[alpha < 128] = np.uint8(LIGHT_U8_SCALE)
    return cv2.cvtColor(total, cv2.COLOR_GRAY2RGB)


def _glare(params: CameraParams) -> np.ndarray | None:
    """Additive specular highlight (H, W, 3) uint8 (0 = none), in the output
    frame, tinted by the light's white balance; None without glare."""
    g = params.glare
    if g is None or g.intensity <= 0:
        return None
    out_h, out_w = params.output_shape
    gh, gw = max(2, out_h // LIGHT_GRID_STEP_PX), max(2, out_w // LIGHT_GRID_STEP_PX)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    diag = math.hypot(out_h, out_w)
    dx = ((xx + 0.5) / gw - g.center[0]) * out_w / diag  # frame diagonals
    dy = ((yy + 0.5) / gh - g.center[1]) * out_h / diag
    a = math.radians(g.angle_deg)
    u = (dx * math.cos(a) + dy * math.sin(a)) / max(g.axes[0], 1e-6)
    v = (-dx * math.sin(a) + dy * math.cos(a)) / max(g.axes[1], 1e-6)
    level = g.intensity * np.exp(-0.5 * (u * u + v * v) ** GLARE_FLATNESS)
    rgb = level[..., None] * np.asarray(params.white_balance, np.float32) * 255.0
    small = np.clip(rgb, 0, 255).astype(np.uint8)
    return cv2.resize(small, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


def _motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    """A normalised antialiased line ``length`` px long: the path of a shaking phone."""
    size = int(math.ceil(length)) | 1
    k = np.zeros((size, size), np.float32)
    c = size / 2 - 0.5
    dx, dy = (
        0.5 * (length - 1) * math.cos(math.radians(angle_deg)),
        0.5 * (length - 1) * math.sin(math.radians(angle_deg)),
    )
    shift = 4  # sub-pixel bits
    s = 1 << shift
    cv2.line(
        k, (int((c - dx) * s), int((c - dy) * s)), (int((c + dx) * s), int((c + dy) * s)), 1.0, 1, cv2.LINE_AA, shift
    )
    return k / max(float(k.sum()), 1e-6)


def _gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a kernel of +-2.5 sigma (cheaper than cv2's default
    +-4 sigma for uint8, and indistinguishable)."""
    k = 2 * int(math.ceil(2.5 * sigma)) + 1
    return cv2.GaussianBlur(img, (k, k), sigma)


#: Bilinear 2x upsampling keeps 1 / 1.6 of white noise's std; this restores it.
_UPSAMPLED_NOISE_GAIN = 1.6


def _camera(img: np.ndarray, params: CameraParams, rng: np.random.Generator) -> np.ndarray:
    """Lens and sensor: defocus, motion blur, sharpening, noise, JPEG."""
    out_h, out_w = img.shape[:2]
    if params.defocus_sigma > 0:
        blurred = _gaussian(img, params.defocus_sigma)
        if params.defocus_gradient_deg is None:
            img = blurred
        else:
            a = math.radians(params.defocus_gradient_deg)
            # depth of field: sharp on one side, blurred on the other, the
            # change spread over about 70 % of the frame
            gy, gx = max(2, out_h // LIGHT_GRID_STEP_PX), max(2, out_w // LIGHT_GRID_STEP_PX)
            yy, xx = np.mgrid[0:gy, 0:gx].astype(np.float32)
            proj = ((xx / gx - 0.5) * math.cos(a) + (yy / gy - 0.5) * math.sin(a)) / 0.7 + 0.5
            wgt = cv2.resize(np.clip(proj, 0, 1).astype(np.float32), (out_w, out_h))
            img = cv2.blendLinear(blurred, img, wgt, 1.0 - wgt)
    if params.motion is not None:
        img = cv2.filter2D(img, -1, _motion_kernel(*params.motion), borderType=cv2.BORDER_REFLECT)
    if params.sharpen > 0:
        soft = _gaussian(img, 1.0)
        img = cv2.addWeighted(img, 1.0 + params.sharpen, soft, -params.sharpen, 0.0)
    if params.noise_sigma > 0:
        # Phone noise is spatially correlated (demosaicing, denoising): make it
        # at half resolution (colour noise at a quarter) and interpolate.
        hh, hw = max(2, (out_h + 1) // 2), max(2, (out_w + 1) // 2)
        luma = rng.standard_normal((hh, hw), dtype=np.float32) * (params.noise_sigma * _UPSAMPLED_NOISE_GAIN)
        noise = np.repeat(luma[..., None], 3, axis=2)
        if params.chroma_noise_sigma > 0:
            qh, qw = max(2, hh // 2), max(2, hw // 2)
            chroma = rng.standard_normal((qh, qw, 3), dtype=np.float32) * (
                params.chroma_noise_sigma * _UPSAMPLED_NOISE_GAIN**2
            )
            noise += cv2.resize(chroma, (hw, hh))
        noise16 = cv2.resize(noise.astype(np.int16), (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        img = cv2.add(img, noise16, dtype=cv2.CV_8U)
    if params.jpeg_quality is not None:
        q = int(params.jpeg_quality)
        img = A.ImageCompression(quality_range=(q, q), p=1.0)(image=img)["image"]
    return img


def photograph(
    page: np.ndarray,
    boxes: np.ndarray,
    rng: np.random.Generator | None,
    *,
    params: CameraParams | None = None,
    difficulty: float = 0.5,
    staff_space_px: float | None = None,
    anchor_boxes: np.ndarray | None = None,
) -> CameraResult:
    """Turn a clean page into a phone photo and move its symbol boxes with it.

    Parameters
    ----------
    page : (H, W) uint8, 255 = paper, 0 = ink.
    boxes : (N, 4) x0, y0, x1, y1 in page px (zero-size boxes are allowed and
        come back not visible); an empty array is fine.
    rng : draws the parameters; the textures and the sensor noise then come
        from ``params.seed``, so the photo is a function of the parameters.
    params : use these instead of sampling (``rng`` is then not used).
    difficulty : 0 (mild) .. 1 (hard), see :func:`sample_params`.
    staff_space_px : the page's staff space, px (default: guessed from its size).
    anchor_boxes : boxes at whose centres pencil and highlighter marks may be
        drawn (default: ``boxes``). The marks are drawn from them, so the photo
        depends on which boxes these are.

    Returns
    -------
    CameraResult with ``image`` (h, w, 3) uint8 RGB, ``boxes`` (N, 4) float32,
    ``visible`` (N,) bool and ``params``.

    Example
    -------
    >>> import numpy as np
    >>> page = np.full((700, 500), 255, np.uint8); page[300:310, 200:215] = 0
    >>> r = photograph(page, np.array([[200, 300, 215, 310]]), np.random.default_rng(3))
    >>> r.image.shape[2], bool(r.visible[0])
    (3, True)
    """
    _check_image(page, gray_only=True)
    boxes = np.asarray(boxes, np.float64)
    if boxes.size == 0:
        boxes = np.zeros((0, 4))
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) x0, y0, x1, y1, got shape {boxes.shape}")
    if params is None:
        if rng is None:
            raise ValueError("photograph needs an rng or params")
        at = boxes if anchor_boxes is None else np.asarray(anchor_boxes, np.float64).reshape(-1, 4)
        ok = np.isfinite(at).all(1) & (at[:, 2] > at[:, 0]) & (at[:, 3] > at[:, 1])
        b = at[ok]
        anchors = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2]) if len(b) else None
        params = sample_params(
            rng, image_shape=page.shape, staff_space_px=staff_space_px, difficulty=difficulty, anchor_points=anchors
        )
    elif tuple(page.shape) != tuple(params.source_shape):
        raise ValueError(f"page shape {page.shape} does not match params.source_shape {params.source_shape}")
    noise_rng = np.random.default_rng(params.seed)

    # geometry: the page once, and its coverage from the same coarse inverse map
    coarse, valid, step = _coarse_inverse(params)
    src, shrink = _shrink_for_antialiasing(page, params)
    maps = _remap_maps(params, coarse, step, shrink)
    gray = cv2.remap(src, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    del maps
    alpha = _page_alpha(params, coarse, valid, step)
    back = _show_through(page, params, coarse, step)
    if back is not None:
        cv2.multiply(gray, back, dst=gray, scale=1.0 / 255.0)
        del back

    # the page: texture, specks, colour and tone, marks
    texture = _paper_texture(params, noise_rng)
    if texture is not None:
        cv2.multiply(gray, texture, dst=gray, scale=1.0 / 255.0)
    if params.specks:
        _draw_specks(gray, params, noise_rng)
    luts = _tone_luts(params)
    rgb = cv2.merge([cv2.LUT(gray, lut) for lut in luts])
    _draw_marks(rgb, params)

    # the scene: background where the page is not
    if int(alpha.min()) < 255:
        small_shape = (max(2, alpha.shape[1] // LIGHT_GRID_STEP_PX), max(2, alpha.shape[0] // LIGHT_GRID_STEP_PX))
        small_alpha = cv2.resize(alpha, small_shape, interpolation=cv2.INTER_AREA)
        bg = _background(params, small_alpha)
        outside = cv2.compare(alpha, 0, cv2.CMP_EQ)
        cv2.copyTo(bg, outside, rgb)
        ys, xs = np.nonzero((alpha > 0) & (alpha < 255))
        if len(ys):
            a = alpha[ys, xs].astype(np.float32)[:, None] / 255.0
            rgb[ys, xs] = np.round(rgb[ys, xs] * a + bg[ys, xs] * (1.0 - a)).astype(np.uint8)

    # the light
    light = _light_field(params, _bend_shading(params, coarse))
    crease = _crease_light(params, coarse, step, alpha)
    if crease is not None:
        cv2.multiply(light, crease, dst=light, scale=1.0 / LIGHT_U8_SCALE)
        del crease
    cv2.multiply(rgb, light, dst=rgb, scale=1.0 / LIGHT_U8_SCALE)
    glare = _glare(params)
    if glare is not None:
        cv2.add(rgb, glare, dst=rgb)
        del glare

    image = _camera(rgb, params, noise_rng)
    moved, visible = warp_boxes(boxes, params)
    return CameraResult(image=np.ascontiguousarray(image), boxes=moved, visible=visible, params=params)


#: Camera seeds tried by :func:`mild_page_photo` for a photo that keeps every symbol.
MILD_PHOTO_TRIES = 10


def mild_page_photo(musicxml: str, *, page: int = 1, tries: int = MILD_PHOTO_TRIES) -> np.ndarray:
    """RGB phone photo (difficulty 0) of one engraved page of ``musicxml`` with every
    symbol in the frame: the first of ``tries`` camera seeds that keeps them all
    (the last one tried otherwise). For tests and examples that need a readable photo.
    """
    from synth import engrave

    rendered = engrave.Engraver(musicxml, engrave.EngraveOptions()).render_page(page)
    boxes = np.array([s.box for s in rendered.symbols], np.float32)
    for seed in range(tries):
        shot = photograph(rendered.image, boxes, np.random.default_rng(seed), difficulty=0.0,
                          staff_space_px=rendered.staff_space_px)
        if shot.visible.all():
            break
    return shot.image
