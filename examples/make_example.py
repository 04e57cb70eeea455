"""Remake the bundled example photo: page 1 of Scott Joplin's Maple Leaf Rag (1899,
public domain; from the music21 corpus), engraved by verovio and photographed by
synth.camera.

    .venv/bin/python examples/make_example.py

Writes examples/example_photo.jpg (the photo) and examples/example_photo.musicxml
(the whole score, so a transcription of page 1 can be checked against it).
The camera seed is the first one from SEED on whose photo keeps the whole page in
the frame at a useful resolution, so the example is hard but fair.
"""

from pathlib import Path

import cv2
import numpy as np

from synth import camera, engrave, sources

PIECE = "joplin/maple_leaf_rag.mxl"
SEED = 20261121
#: The photo's long side must reach this, pixels (phone photos are larger still).
MIN_LONG_SIDE_PX = 2200
CAMERA_DIFFICULTY = 0.5
HERE = Path(__file__).parent


def main() -> None:
    musicxml = sources.read_musicxml(sources.corpus_root() / PIECE)
    options = engrave.EngraveOptions(font="Leipzig")
    page = engrave.Engraver(musicxml, options).render_page(1)
    boxes = np.array([s.box for s in page.symbols], dtype=np.float32)
    for seed in range(SEED, SEED + 1000):
        photo = camera.photograph(page.image, boxes, np.random.default_rng(seed),
                                  difficulty=CAMERA_DIFFICULTY, staff_space_px=page.staff_space_px)
        if photo.visible.all() and max(photo.image.shape[:2]) >= MIN_LONG_SIDE_PX:
            break
    else:
        raise SystemExit("no camera seed kept the whole page in the frame")
    cv2.imwrite(str(HERE / "example_photo.jpg"), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    (HERE / "example_photo.musicxml").write_text(musicxml, encoding="utf-8")
    h, w = photo.image.shape[:2]
    print(f"wrote {HERE / 'example_photo.jpg'} ({w}x{h}, camera seed {seed})")


if __name__ == "__main__":
    main()
