"""The ``omr`` command.

Each sub-command is a thin layer over a library function: it checks its
arguments, prints a clear message and exits non-zero on bad input, and never shows
a traceback for a user's mistake.

Built so far: ``transcribe`` checks its input and says honestly that the symbol
detector is not shipped yet (the detector is issue #3, the parser issue #4).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: Exit codes. 2 is argparse's own code for bad arguments.
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NOT_BUILT = 3

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".heic")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code attached."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def _check_image(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CliError(f"no such file: {path}")
    if not p.is_file():
        raise CliError(f"not a file: {path}")
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise CliError(f"{path}: not an image file (expected one of {', '.join(IMAGE_SUFFIXES)})")
    import cv2

    if p.suffix.lower() != ".heic" and cv2.imread(str(p), cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
        raise CliError(f"{path}: the image cannot be decoded (corrupt or not an image)")
    return p


def cmd_transcribe(args: argparse.Namespace) -> int:
    images = [_check_image(path) for path in args.images]
    out = Path(args.output)
    if out.suffix.lower() not in (".musicxml", ".xml", ".mxl"):
        raise CliError(f"-o {args.output}: the output must end in .musicxml, .xml or .mxl")
    pages = ", ".join(p.name for p in images)
    raise CliError(
        f"read {len(images)} page(s) ({pages}), but transcription needs the symbol "
        "detector, which is not built yet (issue #3; the parser is issue #4). "
        f"Nothing was written to {out}.",
        code=EXIT_NOT_BUILT,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omr", description="Optical music recognition for photos of printed sheet music.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("transcribe", help="photo(s) of one piece -> MusicXML (and MIDI, JSON)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="pages of one piece, in order")
    p.add_argument("-o", "--output", required=True, metavar="OUT.musicxml")
    p.add_argument("--midi", metavar="OUT.mid")
    p.add_argument("--json", metavar="OUT.json")
    p.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as err:
        print(f"omr {args.command}: {err}", file=sys.stderr)
        return err.code


if __name__ == "__main__":
    sys.exit(main())
