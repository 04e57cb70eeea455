"""``python -m synth``: build a synthetic data set, or look at one.

    python -m synth build --out DIR --pages N --seed S --split {train,val,test} [--clean]
    python -m synth show DIR [--limit K] [--out OVERLAY_DIR]
"""

from __future__ import annotations

import argparse
import sys

from synth import sources


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synth",
                                     description="Synthetic score photos for training and tests.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="engrave and photograph N pages into DIR")
    b.add_argument("--out", required=True, metavar="DIR")
    b.add_argument("--pages", required=True, type=_positive_int, metavar="N")
    b.add_argument("--seed", type=int, default=0, metavar="S")
    b.add_argument("--split", choices=sources.SPLITS, default="train")
    b.add_argument("--clean", action="store_true",
                   help="delete an existing data set in DIR first (otherwise a build "
                        "with the same settings resumes, and other settings are refused)")
    b.add_argument("--generated", type=_fraction, default=0.5, metavar="FRACTION",
                   help="share of source pieces that are generated scores (the rest: music21 "
                        "corpus pieces, which give up to --max-pages-per-piece pages each)")
    b.add_argument("--max-pages-per-piece", type=_positive_int, default=2, metavar="K")
    b.add_argument("--variants", default="clean,camera",
                   help="comma-separated: clean, camera (default both)")
    b.add_argument("--difficulty", type=_fraction, default=0.5,
                   help="camera difficulty, 0 mild to 1 hard (default 0.5)")
    b.add_argument("--extras", action="store_true",
                   help="generated scores also draw flags, arpeggios and fingering "
                        "(off by default: earlier builds come out the same)")
    b.add_argument("--feature-chance", default="", metavar="NAME=P,...",
                   help="generated scores draw these features (synth.generate.FEATURES) with "
                        "these chances, e.g. rest_rhythms=0.7 for many short rests (default: "
                        "the usual mix, and no opt-in features)")
    b.add_argument("--workers", type=_positive_int, default=1, metavar="W",
                   help="processes (default 1)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("show", help="draw the boxes over a data set's images")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--limit", type=_positive_int, default=10, metavar="K")
    s.add_argument("--out", metavar="OVERLAY_DIR", help="default: DIR/show")
    return parser


def _feature_chances(text: str) -> tuple[tuple[str, float], ...]:
    """``"rest_rhythms=0.7,rests=0.5"`` → ``(("rest_rhythms", 0.7), ("rests", 0.5))``."""
    pairs = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        name, sep, value = item.partition("=")
        try:
            chance = float(value)
        except ValueError:
            chance = None
        if not sep or chance is None:
            raise ValueError(f"{item!r} is not NAME=CHANCE")
        pairs.append((name.strip(), chance))
    return tuple(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "build":
        from synth.build import BuildConfig, BuildError, build

        variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
        try:
            chances = _feature_chances(args.feature_chance)
        except ValueError as err:
            parser.exit(2, f"python -m synth build: --feature-chance: {err}\n")
        config = BuildConfig(pages=args.pages, seed=args.seed, split=args.split,
                             generated_fraction=args.generated,
                             max_pages_per_piece=args.max_pages_per_piece,
                             variants=variants, difficulty=args.difficulty,
                             extras=args.extras, feature_chance=chances)
        try:
            report = build(args.out, config, clean=args.clean, workers=args.workers,
                           progress=not args.quiet)
        except BuildError as err:
            parser.exit(2, f"python -m synth build: {err}\n")
        resumed = f" (resumed after {report.resumed_from_pages})" if report.resumed_from_pages else ""
        rate = report.pages / report.seconds if report.seconds else 0.0
        print(f"wrote {report.pages} pages{resumed} to {args.out} in {report.seconds:.1f}s "
              f"({rate:.2f} pages/s); {len(report.failed_jobs)} source pieces skipped")
        return 0
    if args.command == "show":
        from synth.show import show

        try:
            paths = show(args.dir, out=args.out, limit=args.limit)
        except FileNotFoundError as err:
            parser.exit(2, f"python -m synth show: {err}\n")
        print(f"wrote {len(paths)} overlays to {paths[0].parent}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
