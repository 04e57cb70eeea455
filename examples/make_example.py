"""Remake the bundled example photo: a Bach chorale from the music21 corpus (public
domain), engraved by verovio and photographed by synth.camera.

    .venv/bin/python examples/make_example.py

Writes examples/example_photo.jpg (the photo) and examples/example_photo.musicxml
(the score it shows, for checking a transcription by eye or by metric).
"""

from pathlib import Path

import cv2
import numpy as np

from synth import camera, engrave, sources

PIECE = "bach/bwv66.6.mxl"
SEED = 20261121
HERE = Path(__file__).parent


def main() -> None:
    musicxml = sources.read_musicxml(sources.corpus_root() / PIECE)
    rng = np.random.default_rng(SEED)
    options = engrave.EngraveOptions(font="Leipzig")
    page = engrave.Engraver(musicxml, options).render_page(1)
    boxes = np.array([s.box for s in page.symbols], dtype=np.float32)
    photo = camera.photograph(page.image, boxes, rng, difficulty=0.4,
                              staff_space_px=page.staff_space_px)
    cv2.imwrite(str(HERE / "example_photo.jpg"), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    (HERE / "example_photo.musicxml").write_text(musicxml, encoding="utf-8")
    print(f"wrote {HERE / 'example_photo.jpg'} {photo.image.shape[1]}x{photo.image.shape[0]}")


if __name__ == "__main__":
    main()
