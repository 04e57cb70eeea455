"""omr.page: loading photos, finding the page, undoing rotation, skew and perspective,
and measuring the staff space, on pages engraved and photographed by synth/."""

from __future__ import annotations

import io
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from omr.errors import ImageError, NoMusicError, ParameterError
from omr.page import (
    STAFF_SPACE_NORM,
    NormalizedPage,
    binarize,
    flatten_illumination,
    load_image,
    normalize,
    run_stats,
)
from synth import engrave as E
from synth.camera import photograph, warp_points
from synth.generate import generate_score

STAFF_SPACE_PX = 12.0  # clean page raster, px per staff space
LINE_WIDTH_SS = 0.15  # EngraveOptions.staff_line_width
SS_TOLERANCE = 0.05  # relative error allowed on the staff space
CORNER_TOLERANCE = 0.02  # of the photo's diagonal
SKEW_TOLERANCE_DEG = 1.0


@pytest.fixture(scope="module")
def clean():
    """A clean grand-staff page: (image uint8, symbols)."""
    score = generate_score(3, features=["grand_staff"], n_measures=10)
    page = E.Engraver(score.musicxml, E.EngraveOptions(staff_space_px=STAFF_SPACE_PX)).render_page(1)
    return page.image, page.symbols


def staff_lines_true(symbols) -> list[np.ndarray]:
    """(5,) line centre y per 'staff' symbol, clean page px, and the box."""
    out = []
    half = 0.5 * LINE_WIDTH_SS * STAFF_SPACE_PX
    for s in symbols:
        if s.cls == "staff":
            x0, y0, x1, y1 = s.box
            out.append((np.linspace(y0 + half, y1 - half, 5), s.box))
    return out


@pytest.fixture(scope="module")
def photo(clean):
    """A phone photo of the clean page: (RGB image, true staff space in the photo, params)."""
    image, symbols = clean
    boxes = np.array([s.box for s in symbols], np.float32)
    result = photograph(image, boxes, np.random.default_rng(1), difficulty=0.3, staff_space_px=STAFF_SPACE_PX)
    spaces = []
    for lines, (x0, _, x1, _) in staff_lines_true(symbols):
        xm = 0.5 * (x0 + x1)
        top, bottom = warp_points(np.array([[xm, lines[0]], [xm, lines[4]]]), result.params)
        spaces.append(np.linalg.norm(bottom - top) / 4.0)
    return result.image, float(np.median(spaces)), result.params


def rgb(gray):
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def assert_ss(measured, truth, tol=SS_TOLERANCE):
    assert abs(measured / truth - 1.0) <= tol, f"staff space {measured:.2f} px, truth {truth:.2f} px"


# ------------------------------------------------------------------ loading


def test_load_image_from_array_path_and_bytes(tmp_path):
    a = np.zeros((80, 100), np.uint8)
    a[10:20] = 255
    assert load_image(a).shape == (80, 100, 3)
    path = tmp_path / "page.png"
    Image.fromarray(a).save(path)
    from_path = load_image(path)
    from_str = load_image(str(path))
    from_bytes = load_image(path.read_bytes())
    assert from_path.dtype == np.uint8 and from_path.shape == (80, 100, 3)
    assert np.array_equal(from_path, from_bytes) and np.array_equal(from_path, from_str)
    assert np.array_equal(from_path[:, :, 0], a)


def test_load_image_modes_become_rgb_uint8(tmp_path):
    rgba = np.zeros((70, 90, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: white paper
    rgba[5:10, :, 3] = 255  # an opaque black band
    out = load_image(rgba)
    assert out.shape == (70, 90, 3) and out[0, 0].tolist() == [255, 255, 255] and out[7, 7].tolist() == [0, 0, 0]
    g16 = np.full((70, 90), 65535, np.uint16)
    g16[:10] = 0
    p16 = tmp_path / "g16.png"
    Image.fromarray(g16).save(p16)
    out = load_image(p16)
    assert out.dtype == np.uint8 and out.shape == (70, 90, 3) and out[50, 5, 0] == 255 and out[5, 5, 0] == 0
    pal = Image.fromarray(np.tile(np.arange(90, dtype=np.uint8), (70, 1))).convert("P")
    ppal = tmp_path / "pal.png"
    pal.save(ppal)
    assert load_image(ppal).shape == (70, 90, 3)
    assert load_image(np.ones((70, 90), bool)).max() == 255
    assert load_image(np.full((70, 90, 3), 0.5, np.float32))[0, 0, 0] in (127, 128)


def test_exif_orientation_is_applied():
    a = np.zeros((100, 200, 3), np.uint8)
    a[:, :20] = 255  # a white band on the left
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    out = load_image(buf.getvalue())
    assert out.shape == (200, 100, 3)
    assert out[:20].mean() > 200 and out[-20:].mean() < 50  # the band is now on top


def test_load_errors(tmp_path):
    with pytest.raises(ImageError):
        load_image(b"this is not an image")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    with pytest.raises(ImageError, match="broken.jpg"):
        load_image(bad)
    with pytest.raises(ImageError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="too small"):
        load_image(np.zeros((30, 30), np.uint8))
    with pytest.raises(ImageError, match="too large"):
        load_image(np.broadcast_to(np.uint8(0), (12000, 9000)))
    with pytest.raises(ParameterError):
        load_image(12345)


def test_heic_without_pillow_heif_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if it were not installed
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    with pytest.raises(ImageError, match="pillow-heif"):
        load_image(path)


# ------------------------------------------------------------------ binarize, runs


def test_binarize_under_uneven_light():
    h, w = 300, 400
    page = np.full((h, w), 255, np.uint8)
    for y in range(100, 150, 10):
        page[y : y + 2, 20:380] = 0
    light = np.linspace(0.35, 1.0, w)[None, :] * np.linspace(0.8, 1.0, h)[:, None]
    dim = (page * light).astype(np.uint8)
    ink = binarize(dim, 10.0)
    assert ink[100:102, 20:380].mean() > 0.95
    assert ink[:90].mean() < 0.01 and ink[160:].mean() < 0.01


def test_run_stats_measures_lines():
    page = np.zeros((400, 300), bool)
    for top in (50, 200):
        for k in range(5):
            y = int(round(top + k * 13.5))
            page[y : y + 2, 10:290] = True
    st = run_stats(page)
    assert st is not None and abs(st.staff_space - 13.5) < 0.3 and st.line_thickness == 2 and st.combs > 100
    assert run_stats(np.zeros((100, 100), bool)) is None


# ------------------------------------------------------------------ normalize


def test_clean_page(clean):
    image, symbols = clean
    page = normalize(rgb(image))
    assert isinstance(page, NormalizedPage)
    assert_ss(page.staff_space, STAFF_SPACE_PX, 0.02)
    assert page.rotation == 0 and abs(page.skew_deg) < 0.3 and not page.page_found
    assert page.image.dtype == np.uint8 and page.image.ndim == 2
    assert page.staff_space_norm == STAFF_SPACE_NORM
    h, w = image.shape
    ratio = STAFF_SPACE_NORM / STAFF_SPACE_PX
    assert abs(page.image.shape[1] / (w * ratio) - 1) < 0.01 and abs(page.image.shape[0] / (h * ratio) - 1) < 0.01
    assert page.original_size == (w, h)
    # a normalized point maps back onto the same point of the original
    lines, (x0, y0, x1, y1) = staff_lines_true(symbols)[0]
    norm_pt = np.array([[x0, lines[0]]]) * ratio + 0.5 * ratio - 0.5
    back = page.points_to_original(norm_pt)[0]
    assert np.abs(back - [x0, lines[0]]).max() < 1.0


def test_camera_photo(photo):
    image, ss_true, _ = photo
    page = normalize(image)
    assert_ss(page.staff_space, ss_true)
    assert page.rotation == 0
    assert abs(np.median(page.image) - 255) < 10  # white paper


@pytest.mark.parametrize("k", [1, 2, 3])
def test_quarter_turns_are_undone(photo, k):
    image, ss_true, _ = photo
    page = normalize(np.ascontiguousarray(np.rot90(image, k)))
    assert page.rotation == 90 * k
    assert_ss(page.staff_space, ss_true)
    assert page.image.shape[0] > page.image.shape[1]  # portrait again


def test_a_grainy_staff_crop_is_not_turned(clean):
    # one staff, cut out wide and low and shrunk, on grainy paper: the grain makes
    # as many five-line combs crossways as the staff does along; the staff lines
    # are the long level runs, so the crop stays the way it is
    image, symbols = clean
    x0, y0, x1, y1 = next(s.box for s in symbols if s.cls == "staff")
    crop = image[int(y0 - 40):int(y1 + 40), int(x0 - 20):int(x1 + 20)]
    small = cv2.resize(crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)
    grain = np.random.default_rng(0).normal(0, 80, small.shape)
    grainy = np.clip(0.8 * small + 30 + grain, 0, 255).astype(np.uint8)
    assert normalize(rgb(grainy)).rotation == 0


def test_skew_is_measured(clean):
    image, _ = clean
    h, w = image.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 5.0, 1.0)  # 5 degrees counter-clockwise
    skewed = cv2.warpAffine(image, m, (w, h), borderValue=255)
    page = normalize(rgb(skewed))
    assert abs(page.skew_deg - 5.0) <= SKEW_TOLERANCE_DEG
    assert page.rotation == 0
    assert_ss(page.staff_space, STAFF_SPACE_PX)


def test_perspective_is_undone(clean):
    image, symbols = clean
    h, w = image.shape
    W, H = int(w * 1.5), int(h * 1.4)
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    quad = np.array([[260, 170], [W - 180, 260], [W - 300, H - 140], [200, H - 210]], np.float32)
    hm = cv2.getPerspectiveTransform(src, quad)
    back = np.full((H, W), 70, np.uint8)
    noise = np.random.default_rng(0).integers(0, 25, (H, W), dtype=np.uint8)
    back = cv2.add(back, noise)
    warped = cv2.warpPerspective(image, hm, (W, H), borderValue=0)
    inside = cv2.warpPerspective(np.full_like(image, 255), hm, (W, H), borderValue=0)
    scene = np.where(inside > 128, warped, back).astype(np.uint8)
    page = normalize(rgb(scene))
    assert page.page_found and page.rotation == 0
    diag = float(np.hypot(W, H))
    assert np.abs(page.page_corners - quad).max() <= CORNER_TOLERANCE * diag
    # a point of the page, normalized -> original, lands where the homography put it
    from omr.staff import find_staves
    staves = find_staves(page.image, page.staff_space_norm)
    truth = staff_lines_true(symbols)
    assert len(staves) == len(truth)
    s = staves[0]
    lines, (x0, _, x1, _) = truth[0]
    xm_clean = 0.5 * (x0 + x1)
    photo_pt = cv2.perspectiveTransform(np.array([[[xm_clean, lines[0]]]], np.float32), hm)[0, 0]
    # the normalized point on the top line of staff 0 nearest that photo point
    xs = np.linspace(s.x0, s.x1, 400)
    cand = page.points_to_original(np.column_stack([xs, s.y_top(xs)]))
    d = np.linalg.norm(cand - photo_pt, axis=1)
    ss_photo = page.staff_space
    assert d.min() < 0.3 * ss_photo  # the line passes through the true point
    xm_norm = xs[np.argmin(d)]
    assert abs(xm_norm - 0.5 * (s.x0 + s.x1)) < 1.0 * page.staff_space_norm  # ...at the right place along it


def test_boxes_to_original(photo):
    image, _, _ = photo
    page = normalize(image)
    boxes = np.array([[10, 20, 50, 60], [100, 100, 300, 140], [-50, -50, 10, 10]], np.float64)
    many = page.boxes_to_original(boxes)
    one = np.array([page.box_to_original(b) for b in boxes])
    assert np.allclose(many, one)
    w, h = page.original_size
    assert (many[:, [0, 2]] >= 0).all() and (many[:, [0, 2]] <= w).all()
    assert (many[:, [1, 3]] >= 0).all() and (many[:, [1, 3]] <= h).all()
    assert (many[:2, 2] > many[:2, 0]).all() and (many[:2, 3] > many[:2, 1]).all()


@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_a_box_maps_back_onto_the_photo_pixels_its_ink_came_from(factor):
    """Detector boxes are in box coordinates (pixel i spans [i, i + 1)). A block of ink
    resized as the page is (``to_original`` maps pixel centres) must come back onto
    the photo pixels it came from: mapped as if its edges were pixel centres, it lands
    0.5 * (1 - 1 / factor) px off (half a pixel where the photo was shrunk twice)."""
    from omr.page import NormalizedPage, _scale

    photo = np.full((48, 48), 255, np.uint8)
    photo[12:24, 8:20] = 0                                  # x 8..20, y 12..24
    norm = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA
                      if factor < 1 else cv2.INTER_LINEAR)
    page = NormalizedPage(image=norm, staff_space_norm=10.0, staff_space=10.0 / factor,
                          to_original=np.linalg.inv(_scale(factor)), original_size=(48, 48))
    rows, cols = np.nonzero(norm < 128)
    box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)   # the ink's box, box coordinates
    np.testing.assert_allclose(box, np.array([8, 12, 20, 24]) * factor)
    np.testing.assert_allclose(page.box_to_original(box), (8, 12, 20, 24), atol=1e-9)


@pytest.mark.parametrize("ss", [6.0, 30.0, 60.0])
def test_staff_space_range(clean, ss):
    image, _ = clean
    f = ss / STAFF_SPACE_PX
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    if ss > 30:  # a crop of the top of the page at a large scale (a close-up)
        image = image[: image.shape[0] // 3]
    scaled = cv2.resize(image, None, fx=f, fy=f, interpolation=interp)
    page = normalize(rgb(scaled))
    assert_ss(page.staff_space, ss)
    assert max(page.image.shape) <= 6000


def test_errors():
    with pytest.raises(NoMusicError, match="no staves"):
        normalize(np.full((500, 400, 3), 255, np.uint8))
    noise = np.random.default_rng(0).integers(0, 256, (600, 500, 3), dtype=np.uint8)
    try:
        page = normalize(noise)
    except NoMusicError:
        pass
    else:
        from omr.staff import find_staves
        assert find_staves(page.image, page.staff_space_norm) == []
    with pytest.raises(ImageError, match="too small"):
        normalize(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ParameterError):
        normalize(np.zeros((100, 100, 3), np.uint8), staff_space_norm=0)


def test_flatten_illumination_is_unchanged():
    # the detector is trained on this function's output: pin a value
    g = np.full((60, 80), 120, np.uint8)
    g[20:22, :] = 30
    out = flatten_illumination(g, 10.0)
    assert int(out[0, 0]) == 255 and int(out[21, 40]) < 80


def test_faint_blurred_lines_still_give_the_staff_space(clean):
    """Lines blurred by a Gaussian of 0.25 staff space at low contrast defeat the
    binary run lengths; the grey-level periodicity still measures the staff space."""
    image, _ = clean
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 0.25 * STAFF_SPACE_PX)
    faint = 215 + blurred * (250 - 215) / 255.0 + np.random.default_rng(0).normal(0, 3, blurred.shape)
    page = normalize(rgb(np.clip(faint, 0, 255).astype(np.uint8)))
    assert_ss(page.staff_space, STAFF_SPACE_PX)
    assert page.rotation == 0


def test_heic_photo_is_read(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    rgb = np.full((120, 160, 3), 255, np.uint8)
    rgb[40:44, 10:150] = 0
    pillow_heif.register_heif_opener()
    path = tmp_path / "photo.heic"
    Image.fromarray(rgb).save(path, format="HEIF", quality=95)
    out = load_image(path)
    assert out.shape == (120, 160, 3) and out.dtype == np.uint8
    assert out[42, 80].max() < 80 and out[10, 80].min() > 200


def test_page_corner_darkened_by_uneven_light_is_restored():
    # a page on a dark table whose top-left corner falls in a darker patch (uneven
    # light): thresholding cuts that corner off; the page's sides, extended, find it
    from omr.page import page_candidates

    h, w = 900, 700
    img = np.full((h, w), 60, np.uint8)
    corners = np.array([[90, 70], [620, 50], [650, 850], [60, 820]], np.float64)
    cv2.fillConvexPoly(img, corners.astype(np.int32), 200)
    cv2.fillConvexPoly(img, np.array([[0, 0], [260, 0], [0, 300]], np.int32), 120)  # the dark patch
    quads = page_candidates(img)
    assert quads
    assert np.abs(quads[0] - corners).max() <= 0.02 * np.hypot(h, w)


def test_long_sides_quad():
    from omr.page import _long_sides_quad

    chamfered = np.array([[10, 0], [100, 0], [100, 80], [0, 80], [0, 10]], float)
    assert np.allclose(_long_sides_quad(chamfered), [[0, 0], [100, 0], [100, 80], [0, 80]])
    assert _long_sides_quad(chamfered[:3]) is None
    # an octagon: its four longest edges are not enough of its outline
    octagon = np.array([[30, 0], [70, 0], [100, 30], [100, 70], [70, 100], [30, 100], [0, 70], [0, 30]], float)
    assert _long_sides_quad(octagon) is None


def test_strong_perspective_without_a_page_outline_is_read_off_the_staves(clean):
    # the page fills the photo (no outline to rectify) and the camera was tilted:
    # the bottom of the music prints 1.8 times as large as the top
    image, symbols = clean
    h, w = image.shape
    inner = image[int(0.04 * h):int(0.96 * h), int(0.03 * w):int(0.97 * w)]
    h, w = inner.shape
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    dst = np.array([[0.22 * w, 0], [0.78 * w, 0], [w - 1, 1.25 * h], [0, 1.25 * h]], np.float32)
    hm = cv2.getPerspectiveTransform(src, dst)
    scene = cv2.warpPerspective(inner, hm, (w, int(1.25 * h)), borderValue=255)
    page = normalize(rgb(scene))
    assert page.keystone and not page.page_found
    from omr.staff import find_staves
    staves = find_staves(page.image, page.staff_space_norm)
    assert len(staves) == len(staff_lines_true(symbols))
    spaces = np.array([s.staff_space for s in staves])
    assert spaces.max() / spaces.min() < 1.15
    # a level photo of the same page is left alone
    assert not normalize(rgb(inner)).keystone


@pytest.mark.parametrize("deg", [5.0, -7.0])
def test_stems_leaning_in_a_photo_without_a_page_outline_are_set_upright(clean, deg):
    # the page fills the photo, so no outline undoes the perspective that left its
    # stems and barlines leaning (a shear: the staff lines stay level)
    from omr.page import binarize, lean
    from omr.staff import find_staves

    image, symbols = clean
    h, w = image.shape
    t = np.tan(np.radians(deg))
    pad = int(abs(t) * h) + 10
    m = np.array([[1.0, t, pad if t < 0 else 10.0], [0.0, 1.0, 0.0]], np.float32)
    scene = cv2.warpAffine(image, m, (w + pad + 10, h), borderValue=255)
    page = normalize(rgb(scene))
    assert not page.page_found
    assert abs(page.lean_deg - deg) <= 0.5
    upright = lean(binarize(page.image, page.staff_space_norm), page.staff_space_norm, page.line_thickness)
    assert abs(upright) < 0.5
    assert_ss(page.staff_space, STAFF_SPACE_PX)
    # a point of the page, normalized -> original, lands where the shear put it
    staves = find_staves(page.image, page.staff_space_norm)
    truth = staff_lines_true(symbols)
    assert len(staves) == len(truth)
    s = staves[-1]
    lines, (x0, _, x1, _) = truth[-1]
    xm = 0.5 * (x0 + x1)
    photo_pt = m[:, :2] @ np.array([xm, lines[0]]) + m[:, 2]
    xs = np.linspace(s.x0, s.x1, 400)
    d = np.linalg.norm(page.points_to_original(np.column_stack([xs, s.y_top(xs)])) - photo_pt, axis=1)
    assert d.min() < 0.3 * page.staff_space
    assert abs(xs[np.argmin(d)] - 0.5 * (s.x0 + s.x1)) < 1.0 * page.staff_space_norm
    # a photo whose stems stand upright is not sheared
    assert normalize(rgb(image)).lean_deg == 0.0


def test_a_shading_edge_across_a_page_that_fills_the_frame_is_no_page_outline():
    import cv2

    from omr.page import find_page

    # paper overruns the frame on three sides; a darker band (the shade of the
    # neighbouring page) is cut off by a slanted line on the left
    shade = np.full((400, 300), 200, np.uint8)
    cv2.fillConvexPoly(shade, np.array([[0, 0], [10, 0], [80, 399], [0, 399]], np.int32), 90)
    assert find_page(shade) is None
    # a page that overruns the frame at its top-left but shows its right and
    # bottom sides is a page outline
    photo = np.full((400, 300), 40, np.uint8)
    cv2.fillConvexPoly(photo, np.array([[0, 0], [250, 0], [280, 370], [0, 350]], np.int32), 210)
    quad = find_page(photo)
    assert quad is not None
    assert np.abs(quad[2] - [280, 370]).max() < 12


def test_faint_lines_settle_the_way_up_when_the_threshold_lost_them():
    """A dark, blurred photo whose threshold kept the stems and barlines but lost the
    staff lines: neither way up has clearly more combs, or only a few, and the long
    runs are the vertical ones; the grey page's periodicity still shows lines across."""
    from omr.page import RunStats, _quarter_turn, flatten_illumination

    flat = np.full((600, 500), 235, np.uint8)
    for top in (80, 240, 400):
        for k in range(5):
            flat[top + 12 * k, 30:470] = 205  # faint lines, 12 px apart
    binary = np.zeros(flat.shape, bool)
    xs = 40 + np.cumsum(np.random.default_rng(0).integers(15, 60, 14))
    for x in xs[xs < 470]:  # stems and barlines at uneven gaps, the only ink left
        for top in (80, 240, 400):
            binary[top - 10:top + 60, x:x + 2] = True
            flat[top - 10:top + 60, x:x + 2] = 40
    flat = flatten_illumination(flat, 12.0)
    blank = np.full(flat.shape, 255, np.uint8)
    as_is, turned = RunStats(13.0, 6.0, 14, 400), RunStats(27.9, 5.0, 22, 300)
    assert _quarter_turn(binary, as_is, turned, blank) == (True, False)  # the level runs: a guess
    assert _quarter_turn(binary, as_is, turned, flat) == (False, True)
    # a few combs of noise one way up are no evidence against the grey page
    few, noise = RunStats(9.0, 2.0, 4, 100), RunStats(6.5, 2.0, 13, 200)
    assert _quarter_turn(binary, few, noise, flat) == (False, True)
    assert _quarter_turn(binary, few, noise, blank) == (True, False)
    # many combs one way up are
    assert _quarter_turn(binary, few, RunStats(9.0, 2.0, 400, 900), flat) == (True, True)


def test_a_sure_grey_periodicity_one_way_up_only_settles_the_way_up():
    """Small staves on much grainy paper (a dim photo of a whole page): the grain's
    runs make combs either way up (180 and 123 here), its correlation a periodicity
    either way; the staff lines lift one way's grey score to a sure one, though not
    ``GREY_ORIENTATION_RATIO`` times the other's. That way is up (unsure)."""
    from omr.page import GREY_ORIENTATION_RATIO, GREY_SURE_SCORE, RunStats, _quarter_turn

    binary = np.zeros((600, 500), bool)  # the ink shows no long runs either way
    flat = np.full(binary.shape, 200, np.uint8)
    as_is, turned = RunStats(5.0, 2.0, 180, 900), RunStats(5.0, 2.0, 123, 800)
    grain, lines = GREY_SURE_SCORE - 0.1, GREY_SURE_SCORE + 0.1
    assert lines < GREY_ORIENTATION_RATIO * grain
    assert _quarter_turn(binary, as_is, turned, flat, {0: (9.5, grain), 1: (9.0, lines)}) == (True, False)
    assert _quarter_turn(binary, as_is, turned, flat, {0: (9.0, lines), 1: (9.5, grain)}) == (False, False)
    # both sure, or neither: no evidence either way, the level runs guess (as is)
    assert _quarter_turn(binary, as_is, turned, flat, {0: (9.5, lines), 1: (9.0, lines + 0.2)}) == (False, False)
    assert _quarter_turn(binary, as_is, turned, flat, {0: (9.5, grain - 0.1), 1: (9.0, grain)}) == (False, False)


@pytest.fixture(scope="module")
def faint_lines(clean):
    """The clean page with its staff lines printed light grey (232 of 255) where no
    symbol crosses them, as in a dim or soft photo: the ink threshold loses them and
    keeps only the symbols."""
    image, symbols = clean
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    out = gray.copy()
    for ys, (x0, _, x1, _) in staff_lines_true(symbols):
        cols = slice(int(x0), int(x1))
        for y in ys:
            for r in range(int(np.floor(y - 1)), int(np.ceil(y + 1)) + 1):
                lone = (gray[r - 3, cols] > 128) & (gray[r + 3, cols] > 128)
                row = out[r, cols]
                row[lone & (row < 250)] = 232
    noise = np.random.default_rng(0).normal(0, 2, out.shape)
    return np.clip(out + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("quarter", [0, 1])
def test_staff_lines_the_threshold_lost_still_give_the_way_up_and_the_staff_space(faint_lines, quarter):
    page = normalize(rgb(np.ascontiguousarray(np.rot90(faint_lines, quarter))))
    assert page.rotation in ((0, 180) if quarter == 0 else (90, 270))
    assert_ss(page.staff_space, STAFF_SPACE_PX)


def test_a_page_outline_that_cuts_off_faint_staves_is_refused(faint_lines):
    """A quadrilateral around the top third of the page (the lit part of a page in a
    hard shadow) leaves most of the staves outside, though the threshold sees no
    lines in them."""
    from omr.page import _music_page

    h, w = faint_lines.shape
    top = np.array([[0, 0], [w - 1, 0], [w - 1, h / 3], [0, h / 3]], np.float64)
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    assert _music_page(faint_lines, [top]) is None
    assert _music_page(faint_lines, [whole]) is whole


def test_a_page_outline_that_cuts_through_the_staves_starts_is_refused(clean):
    """A page that fills the photo: its lighting can pass for an edge a little way in
    from the side, leaving the clefs and the staves' first measures out. Few combs
    lie outside such an outline, but a page's real edge leaves none."""
    from omr.page import _music_page

    image, symbols = clean
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    x0 = min(s.box[0] for s in symbols if s.cls == "staff")
    x1 = max(s.box[2] for s in symbols if s.cls == "staff")
    cut = x0 + 0.15 * (x1 - x0)  # an eighth of most staves outside
    inner = np.array([[cut, 0], [w - 1, 0], [w - 1, h - 1], [cut, h - 1]], np.float64)
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    assert _music_page(gray, [inner]) is None
    assert _music_page(gray, [whole]) is whole


def test_a_page_outline_whose_top_edge_runs_under_the_first_staff_is_refused(clean):
    """Lighting can pass for the page's top edge too: one running along the first
    staff, a staff space under it, leaves that whole staff out. A page's real top
    edge lies above its first staff."""
    from omr.page import _music_page

    image, symbols = clean
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    first = min((s.box for s in symbols if s.cls == "staff"), key=lambda b: b[1])
    cut = first[3] + 0.25 * (first[3] - first[1])  # a staff space under its bottom line
    lower = np.array([[0, cut], [w - 1, cut], [w - 1, h - 1], [0, h - 1]], np.float64)
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    assert _music_page(gray, [lower]) is None
    assert _music_page(gray, [whole]) is whole


def test_a_page_outline_whose_top_edge_cuts_across_a_staff_in_darker_paper_is_refused(clean, faint_lines):
    """A page that fills the photo, lit unevenly: the lit part's top edge slants down
    across the first staff, and beyond it the paper is darker, so the ink threshold
    breaks that staff's lines into dashes and sees no combs outside the outline
    (here: the lines printed light grey beyond the edge, which the threshold loses).
    The faint lines (:func:`omr.page.with_faint_lines`) show them: the outline leaves
    music out."""
    from omr.page import _music_page

    image, symbols = clean
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    first = min((s.box for s in symbols if s.cls == "staff"), key=lambda b: b[1])
    space = (first[3] - first[1]) / 4
    left, right = first[1] - 2 * space, first[3] + 2 * space  # above it at the left, under it at the right
    edge = np.array([[0, left], [w - 1, right], [w - 1, h - 1], [0, h - 1]], np.float64)
    outside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(outside, np.round(np.array([[0, 0], [w - 1, 0], [w - 1, right], [0, left]])).astype(np.int32), 1)
    photo = np.where(outside > 0, faint_lines, gray).astype(np.uint8)
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    assert _music_page(photo, [edge]) is None
    assert _music_page(photo, [whole]) is whole


def dim_and_grainy(image, seed, *, paper=90.0, depth=40.0, sigma=18.0, blur_px=0.8, scale=0.75):
    """A page photographed in low light: paper at grey ``paper``, ink only ``depth``
    darker, grain of ``sigma`` grey levels about ``blur_px`` px across, shrunk by
    ``scale`` and sent on as JPEG 80 (like the photos a messaging app passes on)."""
    g = paper - (255.0 - image.astype(np.float32)) / 255.0 * depth
    grain = np.random.default_rng(seed).normal(0, sigma, g.shape).astype(np.float32)
    g = np.clip(g + cv2.GaussianBlur(grain, (0, 0), blur_px), 0, 255).astype(np.uint8)
    g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return rgb(cv2.imdecode(cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], 0))


@pytest.mark.parametrize("seed, paper, depth, sigma, blur_px", [
    (0, 90.0, 40.0, 18.0, 0.8), (1, 90.0, 30.0, 18.0, 1.0),
    # darker still, the lines 20-25 grey levels under the paper, coarser grain: the
    # ink holds too few combs at any spacing to check the grey periodicity against
    (0, 60.0, 20.0, 20.0, 1.2), (0, 70.0, 25.0, 25.0, 1.0)])
def test_the_grain_of_a_dim_photo_is_not_taken_for_the_staff_lines(clean, seed, paper, depth, sigma, blur_px):
    """In a dim photo the grain's black runs space about half a staff space apart,
    and they outnumber the faint lines' runs, more of them across than along: the
    grey page's periodicity (and, where it is weak, the five-line combs at its
    spacing) keep the page the way up it is, at its staff space."""
    image, _ = clean
    page = normalize(dim_and_grainy(image, seed, paper=paper, depth=depth, sigma=sigma, blur_px=blur_px))
    assert page.rotation == 0
    assert_ss(page.staff_space, 0.75 * STAFF_SPACE_PX)
