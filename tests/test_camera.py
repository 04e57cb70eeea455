"""Tests of synth.camera: boxes move with the ink, determinism, edge cases."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from synth.camera import (
    Bend,
    CameraParams,
    Crease,
    Glare,
    ShowThrough,
    photograph,
    sample_params,
    warp_boxes,
    warp_geometry,
    warp_points,
)

PAGE_SHAPE = (560, 420)  # (height, width), px
STAFF_SPACE = 10.0  # px
N_BLOBS = 40
MIN_INSIDE = 0.97  # fraction of a blob's warped ink inside its moved box
INSIDE_TOLERANCE_PX = 0.1  # pixel centres within this of the box edge count as inside
MIN_IOU = 0.7  # moved box vs the warped ink's bounding box, for most blobs...
MIN_TIGHT_FRACTION = 0.9  # ... this fraction of them
MIN_IOU_ANY = 0.5  # and for every blob
MIN_BLOB_PIXELS = 20  # IoU is checked for blobs at least this big in the photo


def make_page(seed: int = 0):
    """A page with staff lines and N_BLOBS separated filled ellipses.

    Returns (page uint8, labels uint8 (blob i has label i + 1), boxes (N, 4)
    tight around each blob's pixels, corner coordinates)."""
    rng = np.random.default_rng(seed)
    h, w = PAGE_SHAPE
    page = np.full((h, w), 255, np.uint8)
    labels = np.zeros((h, w), np.uint8)
    for top in range(40, h - 60, 64):  # staves
        for k in range(5):
            y = int(top + k * STAFF_SPACE)
            page[y, 20 : w - 20] = 0
    boxes = []
    cols, rows = 5, 8
    for i in range(N_BLOBS):
        r, c = divmod(i, cols)
        cx = 45 + c * (w - 90) / (cols - 1) + rng.uniform(-8, 8)
        cy = 45 + r * (h - 90) / (rows - 1) + rng.uniform(-8, 8)
        axes = (int(rng.integers(3, 10)), int(rng.integers(2, 7)))
        angle = float(rng.uniform(-40, 40))
        cv2.ellipse(labels, (int(cx), int(cy)), axes, angle, 0, 360, i + 1, -1)
        ys, xs = np.nonzero(labels == i + 1)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    page[labels > 0] = 0
    return page, labels, np.asarray(boxes, np.float32)


PAGE, LABELS, BOXES = make_page()


def max_geometry(params: CameraParams) -> CameraParams:
    """The strongest geometry sample_params can draw, framed generously."""
    h, w = params.source_shape
    return dataclasses.replace(
        params,
        tilt_deg=(16.0, -16.0),
        roll_deg=6.0,
        camera_distance_px=0.7 * float(np.hypot(h, w)),
        bend=Bend("spine", "x", 0, -0.05 * w, 0.2 * w),
        wave=tuple(
            tuple(
                (float(0.002 * max(h, w) * np.sin(i + j)), float(0.005 * max(h, w) * np.cos(2 * i - j)))
                for j in range(4)
            )
            for i in range(4)
        ),
        frame=(-0.3 * w, -0.3 * h, 1.3 * w, 1.3 * h),
        scale=1.0,
        output_shape=(int(1.6 * h), int(1.6 * w)),
    )


def param_cases():
    cases = []
    for difficulty in (0.0, 0.5, 1.0):
        for seed in range(14):
            rng = np.random.default_rng(seed)
            p = sample_params(rng, image_shape=PAGE_SHAPE, staff_space_px=STAFF_SPACE, difficulty=difficulty)
            cases.append(pytest.param(p, id=f"d{difficulty}-seed{seed}"))
    strongest = max_geometry(cases[-1].values[0])
    arc = dataclasses.replace(strongest, bend=Bend("arc", "y", 0, 0.04 * PAGE_SHAPE[0], PAGE_SHAPE[0]))
    cases += [pytest.param(strongest, id="max-geometry-spine"), pytest.param(arc, id="max-geometry-arc")]
    return cases


def check_alignment(params: CameraParams) -> int:
    """Assert every visible blob's warped ink is inside its moved box and that
    the boxes are tight; return the number of blobs checked.

    A moved box holds the whole moved rectangle, so under rotation and shear it
    is a little bigger than the ink of a round blob: most boxes have IoU >= 0.7
    with the ink's bounding box, none falls below 0.5."""
    warped = warp_geometry(LABELS, params, interpolation=cv2.INTER_NEAREST)
    assert warped.shape == params.output_shape
    moved, visible = warp_boxes(BOXES, params)
    checked, ious = 0, []
    for i in np.flatnonzero(visible):
        ys, xs = np.nonzero(warped == i + 1)
        if len(xs) == 0:  # shrunk below a pixel (strong downscale)
            continue
        x0, y0, x1, y1 = moved[i]
        cx, cy = xs + 0.5, ys + 0.5  # pixel centres
        tol = INSIDE_TOLERANCE_PX
        inside = (cx >= x0 - tol) & (cx <= x1 + tol) & (cy >= y0 - tol) & (cy <= y1 + tol)
        assert inside.mean() >= MIN_INSIDE, (i, inside.mean(), moved[i], params.to_dict())
        if len(xs) >= MIN_BLOB_PIXELS:
            ink = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
            ix0, iy0 = max(ink[0], x0), max(ink[1], y0)
            ix1, iy1 = min(ink[2], x1), min(ink[3], y1)
            inter = max(0.0, ix1 - ix0) * max(0.0, iy1 - iy0)
            union = (ink[2] - ink[0]) * (ink[3] - ink[1]) + (x1 - x0) * (y1 - y0) - inter
            ious.append(inter / union)
            assert ious[-1] >= MIN_IOU_ANY, (i, ious[-1], moved[i], ink)
        checked += 1
    if ious:
        assert np.mean(np.array(ious) >= MIN_IOU) >= MIN_TIGHT_FRACTION, sorted(ious)[:5]
    return checked


@pytest.mark.parametrize("params", param_cases())
def test_boxes_move_with_the_ink(params):
    checked = check_alignment(params)
    assert checked >= N_BLOBS // 4  # most of the page is in the frame


def test_inverse_map_matches_forward_map():
    """Warp an image of source coordinates; mapping them forward (through tiny
    boxes) lands on the output pixel they came from."""
    params = max_geometry(sample_params(np.random.default_rng(3), image_shape=PAGE_SHAPE, difficulty=1.0))
    h, w = PAGE_SHAPE
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32) + 0.5, np.arange(h, dtype=np.float32) + 0.5)
    warped = warp_geometry(np.dstack([xx, yy]), params)
    # pixels whose interpolation touched the border are not fully on the page
    on_page = warp_geometry(np.ones((h, w), np.float32), params) >= 1.0 - 1e-6
    ys, xs = np.nonzero(on_page)
    pick = np.random.default_rng(0).choice(len(xs), min(len(xs), 20000), replace=False)
    ys, xs = ys[pick], xs[pick]
    p = warped[ys, xs].astype(np.float64)
    eps = 1e-3
    moved, _ = warp_boxes(np.column_stack([p - eps, p + eps]), params)
    centres = np.column_stack([(moved[:, 0] + moved[:, 2]) / 2, (moved[:, 1] + moved[:, 3]) / 2])
    target = np.column_stack([xs, ys]) + 0.5
    err = np.abs(centres - target).max(axis=1)
    # bilinear interpolation of the coarse inverse map and remap's 1/32 px
    # weights: a few hundredths of a pixel typically, well under a pixel always
    assert np.median(err) < 0.03 and err.max() < 0.35, (np.median(err), err.max())


def test_photo_is_darker_inside_the_boxes():
    darker, total = 0, 0
    for seed in range(6):
        r = photograph(PAGE, BOXES, np.random.default_rng(seed), staff_space_px=STAFF_SPACE)
        assert r.image.dtype == np.uint8 and r.image.ndim == 3 and r.image.shape[2] == 3
        assert r.image.shape[:2] == r.params.output_shape
        gray = cv2.cvtColor(r.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        hh, ww = gray.shape
        for (x0, y0, x1, y1), vis in zip(r.boxes, r.visible, strict=True):
            if not vis:
                continue
            bw, bh = x1 - x0, y1 - y0
            ox0, oy0 = int(max(0, x0 - bw)), int(max(0, y0 - bh))
            ox1, oy1 = int(min(ww, x1 + bw + 1)), int(min(hh, y1 + bh + 1))
            outer = gray[oy0:oy1, ox0:ox1]
            inner = gray[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))]
            if inner.size == 0 or outer.size <= inner.size:
                continue
            ring_mean = (outer.sum() - inner.sum()) / (outer.size - inner.size)
            darker += inner.mean() < ring_mean - 5
            total += 1
    assert total > 100
    assert darker / total > 0.9, darker / total


def test_deterministic_by_seed():
    a = photograph(PAGE, BOXES, np.random.default_rng(7), difficulty=0.8)
    b = photograph(PAGE, BOXES, np.random.default_rng(7), difficulty=0.8)
    c = photograph(PAGE, BOXES, np.random.default_rng(8), difficulty=0.8)
    assert a.params == b.params
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.visible, b.visible)
    assert a.params != c.params
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_params_round_trip_through_json():
    r = photograph(PAGE, BOXES, np.random.default_rng(11), difficulty=1.0)
    d = json.loads(json.dumps(r.params.to_dict()))
    params = CameraParams.from_dict(d)
    assert params == r.params
    again = photograph(PAGE, BOXES, np.random.default_rng(999), params=params)
    assert np.array_equal(again.image, r.image)


def test_zero_size_and_out_of_frame_boxes():
    h, w = PAGE_SHAPE
    params = sample_params(np.random.default_rng(0), image_shape=PAGE_SHAPE, staff_space_px=STAFF_SPACE)
    # keep only the left half of the page in the frame
    half = dataclasses.replace(
        params,
        tilt_deg=(0.0, 0.0),
        roll_deg=0.0,
        bend=None,
        wave=None,
        frame=(0.0, 0.0, w / 2, h),
        scale=1.0,
        output_shape=(h, w // 2),
    )
    boxes = np.array(
        [
            [10, 10, 10, 20],  # zero width
            [30, 30, 40, 30],  # zero height
            [50, 50, 50, 50],  # a point
            [np.nan, 0, 10, 10],  # not finite
            [-1000, -1000, -900, -900],  # far off the page
            [w - 40, 100, w - 30, 110],  # right half: out of the frame
            [w / 2 - 10, 200, w / 2 + 30, 210],  # mostly out
            [w / 2 - 30, 220, w / 2 + 10, 230],  # mostly in: visible, clipped
            [100, 100, 110, 110],  # in
        ],
        np.float32,
    )
    moved, visible = warp_boxes(boxes, half)
    assert moved.shape == (len(boxes), 4) and moved.dtype == np.float32
    assert visible.tolist() == [False] * 7 + [True, True]
    assert np.isfinite(moved).all()
    assert moved[7, 2] == pytest.approx(w / 2) and moved[8].tolist() == pytest.approx([100, 100, 110, 110], abs=1e-3)
    for p in (params, max_geometry(params)):
        moved, visible = warp_boxes(boxes, p)
        assert not visible[:5].any()
    r = photograph(PAGE, boxes, np.random.default_rng(1))
    assert not r.visible[:5].any() and r.visible[8]


def test_empty_boxes():
    params = sample_params(np.random.default_rng(0), image_shape=PAGE_SHAPE)
    for empty in (np.zeros((0, 4)), np.zeros(0), []):
        moved, visible = warp_boxes(empty, params)
        assert moved.shape == (0, 4) and visible.shape == (0,)
    r = photograph(PAGE, np.zeros((0, 4)), np.random.default_rng(0))
    assert r.boxes.shape == (0, 4) and r.visible.shape == (0,) and r.image.ndim == 3


def test_bad_input_raises_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        photograph(PAGE.astype(np.float32), BOXES, rng)
    with pytest.raises(ValueError, match="2-D"):
        photograph(np.dstack([PAGE] * 3), BOXES, rng)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        photograph(PAGE, BOXES[:, :3], rng)
    params = sample_params(rng, image_shape=PAGE_SHAPE)
    with pytest.raises(ValueError, match="source_shape"):
        warp_geometry(PAGE[:100], params)
    with pytest.raises(ValueError, match="source_shape"):
        photograph(PAGE[:, :100].copy(), BOXES, rng, params=params)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        warp_boxes(np.zeros((3, 5)), params)
    with pytest.raises(ValueError, match="difficulty"):
        sample_params(rng, image_shape=PAGE_SHAPE, difficulty=2.0)


def test_difficulty_changes_the_mix():
    """Harder settings switch on more effects; the output stays a valid photo."""

    def effects(p: CameraParams) -> int:
        return sum(bool(v) for v in (p.bend, p.wave, p.shadow, p.low_light, p.defocus_sigma > 1.0, p.motion, p.marks))

    easy = [
        effects(sample_params(np.random.default_rng(s), image_shape=(3300, 2550), difficulty=0.0)) for s in range(60)
    ]
    hard = [
        effects(sample_params(np.random.default_rng(s), image_shape=(3300, 2550), difficulty=1.0)) for s in range(60)
    ]
    assert np.mean(hard) > np.mean(easy) + 0.5


def test_warp_geometry_keeps_mask_and_label_types():
    params = sample_params(np.random.default_rng(2), image_shape=PAGE_SHAPE, staff_space_px=STAFF_SPACE)
    mask = warp_geometry(LABELS > 0, params)
    assert mask.dtype == bool and mask.shape == params.output_shape and mask.any()
    labels = warp_geometry(LABELS.astype(np.int32) * 1000, params, interpolation=cv2.INTER_NEAREST)
    assert labels.dtype == np.int32 and set(np.unique(labels)) <= set(range(0, 1000 * (N_BLOBS + 1), 1000))
    rgb = warp_geometry(np.dstack([PAGE] * 3), params, border_value=(255, 0, 0))
    assert rgb.shape == (*params.output_shape, 3)


def test_warp_points_agrees_with_warp_boxes():
    from synth import camera

    rng = np.random.default_rng(5)
    params = camera.sample_params(rng, image_shape=(700, 500), difficulty=1.0)
    box = np.array([[100.0, 200.0, 101.0, 201.0]])
    moved, visible = camera.warp_boxes(box, params)
    centre = camera.warp_points(np.array([[100.5, 200.5]]), params)[0]
    if visible[0]:
        x0, y0, x1, y1 = moved[0]
        assert x0 - 0.5 <= centre[0] <= x1 + 0.5 and y0 - 0.5 <= centre[1] <= y1 + 0.5
    assert camera.warp_points(np.zeros((0, 2)), params).shape == (0, 2)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        camera.warp_points(np.zeros((3, 3)), params)


# --- glare, show-through, creases: photometric only ---------------------------

GLARE = Glare(center=(0.5, 0.5), axes=(0.2, 0.12), angle_deg=30.0, intensity=0.5)
SHOW_THROUGH = ShowThrough(shift_px=(15.0, 6.0), blur_px=1.5, darkness=0.1)
CREASE = Crease(
    point=(210.0, 280.0),
    angle_deg=3.0,
    sagitta_px=4.0,
    width_px=2.0,
    dark=0.2,
    light=0.08,
    shade=0.05,
    shade_width_px=20.0,
)
MAX_SHOW_THROUGH_DARKENING = 0.1  # fraction of the paper level


def clean_params(seed: int = 3) -> CameraParams:
    """Sampled geometry, with every camera effect and the new effects off, so
    photos differ only by the effect under test."""
    p = sample_params(np.random.default_rng(seed), image_shape=PAGE_SHAPE, staff_space_px=STAFF_SPACE)
    return dataclasses.replace(
        p,
        defocus_sigma=0.0,
        defocus_gradient_deg=None,
        motion=None,
        sharpen=0.0,
        noise_sigma=0.0,
        chroma_noise_sigma=0.0,
        jpeg_quality=None,
        texture_strength=0.0,
        specks=0,
        marks=(),
        shadow=None,
        glare=None,
        show_through=None,
        creases=(),
    )


@pytest.mark.parametrize(
    "effect",
    [{"glare": GLARE}, {"show_through": SHOW_THROUGH}, {"creases": (CREASE,)}],
    ids=["glare", "show_through", "creases"],
)
def test_new_effects_change_only_the_photometry(effect):
    off = clean_params()
    on = dataclasses.replace(off, **effect)
    a = photograph(PAGE, BOXES, None, params=off)
    b = photograph(PAGE, BOXES, None, params=on)
    assert a.image.shape == b.image.shape
    assert not np.array_equal(a.image, b.image)  # the effect shows
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.visible, b.visible)
    assert np.array_equal(warp_boxes(BOXES, off)[0], warp_boxes(BOXES, on)[0])
    # and it survives the JSON round trip exactly
    again = CameraParams.from_dict(json.loads(json.dumps(on.to_dict())))
    assert again == on
    assert np.array_equal(photograph(PAGE, BOXES, None, params=again).image, b.image)


def test_show_through_darkens_paper_slightly():
    off = clean_params()
    on = dataclasses.replace(off, show_through=SHOW_THROUGH)
    a = photograph(PAGE, BOXES, None, params=off).image.astype(float).mean(2)
    b = photograph(PAGE, BOXES, None, params=on).image.astype(float).mean(2)
    page_mask = warp_geometry(np.ones(PAGE_SHAPE, bool), off) & (a > 0.8 * a.max())  # paper pixels
    assert np.all(b <= a + 1)  # never lighter
    ratio = b[page_mask] / np.maximum(a[page_mask], 1)
    assert ratio.min() >= 1 - MAX_SHOW_THROUGH_DARKENING - 0.02
    assert ratio.mean() < 0.999  # but it does darken somewhere


def test_glare_lightens_and_lowers_contrast():
    off = clean_params()
    on = dataclasses.replace(off, glare=GLARE)
    a = photograph(PAGE, BOXES, None, params=off).image.astype(float).mean(2)
    b = photograph(PAGE, BOXES, None, params=on).image.astype(float).mean(2)
    assert np.all(b >= a - 1)  # additive light
    h, w = a.shape
    centre = (slice(int(0.4 * h), int(0.6 * h)), slice(int(0.4 * w), int(0.6 * w)))
    assert b[centre].mean() > a[centre].mean() + 20
    assert np.ptp(b[centre]) < np.ptp(a[centre])  # ink got lighter than paper did
    corner = (slice(0, int(0.05 * h)), slice(0, int(0.05 * w)))
    assert abs(b[corner].mean() - a[corner].mean()) < 3  # it is local


def test_crease_is_a_local_line_on_the_page():
    off = clean_params()
    on = dataclasses.replace(off, creases=(CREASE,))
    a = photograph(PAGE, BOXES, None, params=off).image.astype(float).mean(2)
    b = photograph(PAGE, BOXES, None, params=on).image.astype(float).mean(2)
    diff = b - a
    changed = np.abs(diff) > 2
    assert changed.any() and (diff < -5).any()  # the shadowed line
    # the changes lie near the fold, which crosses the page near its middle row
    ys = np.nonzero(changed)[0]
    y_fold = warp_points(np.array([CREASE.point]), on)[0, 1]
    assert np.median(np.abs(ys - y_fold)) < 0.1 * a.shape[0]
    # off the page (the background) nothing changes
    outside = ~warp_geometry(np.ones(PAGE_SHAPE, bool), off)
    assert np.abs(diff[outside]).max() <= 1


def test_new_effects_are_sampled_modestly():
    ps = [sample_params(np.random.default_rng(s), image_shape=(3300, 2550), difficulty=0.5) for s in range(300)]
    for name, p in (("glare", 0.12), ("show_through", 0.15), ("creases", 0.12)):
        rate = np.mean([bool(getattr(q, name)) for q in ps])
        assert 0.4 * p < rate < 2.0 * p, (name, rate)
    for q in ps:
        if q.show_through:
            assert 0.0 < q.show_through.darkness <= MAX_SHOW_THROUGH_DARKENING
