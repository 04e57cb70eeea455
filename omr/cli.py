"""The ``omr`` command.

Each sub-command is a thin layer over a library function: it checks its
arguments, prints a clear message and exits non-zero on bad input, and never shows
a traceback for a user's mistake.

Commands: ``transcribe`` (photos → MusicXML, MIDI, JSON), ``detect`` (page
analysis + the shipped symbol detector), ``separate`` (vocals / accompaniment),
``align`` (score notes → onsets in a recording), ``batch`` (whole folders, locally or
on Ray), ``bench`` (the benchmark suite, in a source checkout) and ``train detector``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omr.errors import OmrError
from omr.page import IMAGE_SUFFIXES

#: Exit codes. 2 is argparse's own code for bad arguments.
EXIT_OK = 0
EXIT_BAD_INPUT = 2
#: A bug in omr (an exception no check foresaw): one line, the traceback in a file.
EXIT_INTERNAL = 3


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
    import json

    images = [_check_image(path) for path in args.images]
    out = _check_output(args.output, (".musicxml", ".xml"), args.force)
    midi = _check_output(args.midi, (".mid", ".midi"), args.force) if args.midi else None
    out_json = _check_output(args.json, (".json",), args.force) if args.json else None
    from omr.detect.infer import load_model
    from omr.pipeline import transcribe

    def progress(step: str, fraction: float) -> None:
        print(f"[{fraction * 100:3.0f}%] {step}", file=sys.stderr, flush=True)

    model = load_model(threads=args.threads, device=args.device)
    result = transcribe([str(p) for p in images], model=model, ocr=not args.no_ocr, progress=progress)
    from omr import export

    try:
        export.write_musicxml(result.score, out)
    except export.ExportError as err:
        # keep the user's work: write it unvalidated beside, and say so
        export.write_musicxml(result.score, out, validate=False)
        result.report.warn("invalid_musicxml", f"the MusicXML does not validate: {err}")
    written = [str(out)]
    if midi is not None:
        export.write_midi(result.score, midi)
        written.append(str(midi))
    if out_json is not None:
        out_json.write_text(json.dumps(result.to_dict(), indent=1))
        written.append(str(out_json))
    from omr.eval.notes import notes_from_score

    n_notes = len(notes_from_score(result.score))
    n_measures = len(result.score.parts[0].getElementsByClass("Measure")) if result.score.parts else 0
    print(f"{len(images)} page(s): {len(result.score.parts)} staves, {n_measures} measures, "
          f"{n_notes} notes -> {', '.join(written)}")
    lines = result.report.lines()
    if lines:
        shown = lines[: args.report_lines]
        print("\n".join(shown) + (f"\n... and {len(lines) - len(shown)} more (see --json)"
                                   if len(lines) > len(shown) else ""))
    return EXIT_OK


def _check_output(path: str, suffixes: tuple[str, ...], force: bool) -> Path:
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise CliError(f"{path}: the output must end in {' or '.join(suffixes)}")
    if p.exists() and not force:
        raise CliError(f"{path} already exists; pass --force to overwrite it")
    if not p.parent.exists():
        raise CliError(f"{path}: the folder {p.parent} does not exist")
    return p


def cmd_detect(args: argparse.Namespace) -> int:
    import json

    image = _check_image(args.image)
    out_json = _check_output(args.json, (".json",), args.force)
    overlay = _check_output(args.overlay, (".png", ".jpg", ".jpeg"), args.force) \
        if args.overlay else None
    import time

    from omr import page
    from omr.detect.infer import detect, load_model

    model = load_model(args.checkpoint, threads=args.threads, device=args.device)
    start = time.perf_counter()
    rgb = page.load_image(image)  # read once: for the detector and for the overlay
    result = detect(rgb, model=model, threshold=args.threshold)
    secs = time.perf_counter() - start
    out_json.write_text(json.dumps(result.to_dict(), indent=1))
    if overlay is not None:
        import cv2

        from omr.detect.overlay import draw_detections

        drawn = draw_detections(rgb, result.detections)
        cv2.imwrite(str(overlay), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    n = len([d for d in result.detections if d.score >= 0.5])
    print(f"{image.name}: {len(result.detections)} detections ({n} with score >= 0.5), "
          f"staff space {result.staff_space:.1f} px, {secs:.2f} s -> {out_json}"
          + (f", {overlay}" if overlay else ""))
    return EXIT_OK


def cmd_separate(args: argparse.Namespace) -> int:
    audio = Path(args.audio)
    if not audio.is_file():
        raise CliError(f"no such file: {args.audio}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CliError(f"-o {args.output}: exists and is not a folder")
    existing = [out / f"{stem}.wav" for stem in ("vocals", "accompaniment") if (out / f"{stem}.wav").exists()]
    if existing and not args.force:
        raise CliError(f"{existing[0]} already exists; pass --force to overwrite it")
    from omr.audio.separate import separate_file

    print(f"separating {audio.name} (about a quarter of its length on 2 cores) ...", file=sys.stderr, flush=True)
    written = separate_file(audio, out)
    print(", ".join(str(p) for p in written.values()))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """``omr bench ...`` = ``python -m bench ...`` in the source checkout."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "__main__.py").is_file():
        raise CliError("the benchmark suite lives in the source checkout (bench/), which this "
                       "installation does not have; clone the repository and run `python -m bench` there")
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.call([sys.executable, "-m", "bench", *args.rest], cwd=root, env=env)


def cmd_train(args: argparse.Namespace) -> int:
    from omr.detect import train

    return train.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omr", description="Optical music recognition for photos of printed sheet music.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("transcribe", help="photo(s) of one piece -> MusicXML (and MIDI, JSON)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="pages of one piece, in order")
    p.add_argument("-o", "--output", required=True, metavar="OUT.musicxml")
    p.add_argument("--midi", metavar="OUT.mid")
    p.add_argument("--json", metavar="OUT.json", help="detections, staff graph and report")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--no-ocr", action="store_true", help="do not read lyrics and words")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--device", default="cpu", help="where the network runs: cpu, cuda or auto")
    p.add_argument("--report-lines", type=int, default=12, help="report lines printed")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("detect", help="photo -> detected symbols (JSON, optional overlay)")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--json", required=True, metavar="OUT.json")
    p.add_argument("--overlay", metavar="OUT.png", help="the photo with the boxes drawn")
    p.add_argument("--threshold", type=float, default=0.25, help="lowest score kept")
    p.add_argument("--checkpoint", help="another detector checkpoint (default: shipped)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--device", default="cpu", help="where the network runs: cpu, cuda or auto")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("separate", help="recording -> vocals.wav and accompaniment.wav")
    p.add_argument("audio", metavar="AUDIO", help="WAV, FLAC, OGG or MP3")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite existing stems")
    p.set_defaults(func=cmd_separate)

    from omr.audio.cli import add_commands

    add_commands(sub)  # align

    from omr.batch import add_commands as add_batch

    add_batch(sub)  # batch

    p = sub.add_parser("bench", help="every accuracy and speed benchmark: `omr bench --help`",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train a model: `omr train detector --help`")
    p.add_argument("what", choices=["detector"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after it goes to the suite's own options
        try:
            return cmd_bench(argparse.Namespace(rest=argv[1:]))
        except CliError as err:
            print(f"omr bench: {err}", file=sys.stderr)
            return err.code
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as err:
        print(f"omr {args.command}: {err}", file=sys.stderr)
        return err.code
    except OmrError as err:
        print(f"omr {args.command}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # noqa: BLE001 - a bug: say so in one line, keep the details
        print(f"omr {args.command}: internal error ({type(err).__name__}: {err}). This is "
              f"a bug in omr, not a problem with your input. "
              f"The details are in {_save_traceback()}", file=sys.stderr)
        return EXIT_INTERNAL


def _save_traceback() -> str:
    """The current exception's traceback in a new file under the temp folder, for a
    bug report; its path."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile("w", prefix="omr-error-", suffix=".txt",
                                         delete=False) as f:
            traceback.print_exc(file=f)
    except OSError as err:  # no writable temp folder: the one line must still come
        return f"nowhere: the temp folder could not be written ({err})"
    return f.name


if __name__ == "__main__":
    sys.exit(main())
