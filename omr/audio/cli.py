"""The ``omr align`` command.

``omr align SCORE AUDIO [--stem vocals|accompaniment|mix] -o ALIGN.csv [--force]``

SCORE is MIDI (its own timeline), MusicXML (unfolded, at the nominal tempo of the
MIDI that ``omr transcribe --midi`` writes) or a photo (transcribed first). AUDIO is
WAV, FLAC, OGG or MP3. With ``--stem vocals`` or ``accompaniment`` the recording is
first separated (``omr.audio.separate``) and the score aligned to that stem. The CSV
has one row per note of the unfolded score (``part, measure, score_qn, score_sec,
pitch, onset_sec``; ``onset_sec`` empty for notes the recording does not play); a
summary (confidence, transposition, repeats taken, covered part) is printed.

:func:`add_commands` registers the command on the ``omr`` parser's sub-parsers;
:func:`cmd_align` runs it and returns the exit code. Bad input raises
:class:`omr.errors.OmrError` subclasses, which ``omr``'s ``main`` prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omr.errors import OmrError
from omr.page import IMAGE_SUFFIXES

EXIT_OK = 0

SCORE_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl")
STEMS = ("mix", "vocals", "accompaniment")


class CommandError(OmrError):
    """A command-line argument names a file that cannot be used."""


def add_commands(subparsers) -> None:
    """Register ``align`` on an ``argparse`` sub-parsers object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "align", help="score + recording -> onset of every note in the recording (CSV)",
        description="Align every note of a score (MusicXML, MIDI or a photo) to a recording.")
    p.add_argument("score", metavar="SCORE", help="MusicXML, MIDI or a photo of the score")
    p.add_argument("audio", metavar="AUDIO", help="the recording: WAV, FLAC, OGG or MP3")
    p.add_argument("--stem", choices=STEMS, default="mix",
                   help="align to the separated vocals or accompaniment (default: the mix)")
    p.add_argument("-o", "--output", required=True, metavar="ALIGN.csv")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(func=cmd_align)


def cmd_align(args: argparse.Namespace) -> int:
    """Run ``omr align``; returns the exit code."""
    from omr.audio.align import SAMPLE_RATE, align, write_csv
    from omr.audio.io import AUDIO_SUFFIXES, load_audio

    out = Path(args.output)
    if out.suffix.lower() != ".csv":
        raise CommandError(f"-o {args.output}: the output must end in .csv")
    if out.exists() and not args.force:
        raise CommandError(f"{out} already exists; pass --force to overwrite it")
    if not out.parent.exists():
        raise CommandError(f"{out}: the folder {out.parent} does not exist")
    audio_path = Path(args.audio)
    if not audio_path.is_file():
        raise CommandError(f"no such file: {audio_path}")
    if audio_path.suffix.lower() not in AUDIO_SUFFIXES:
        raise CommandError(f"{audio_path}: not an audio file (expected one of "
                           f"{', '.join(AUDIO_SUFFIXES)})")

    notes = read_score(args.score)
    stem = getattr(args, "stem", "mix") or "mix"
    if stem == "mix":
        y = load_audio(audio_path, sample_rate=SAMPLE_RATE)
    else:
        y = separated_stem(audio_path, stem)
    result = align(notes, y, SAMPLE_RATE)
    write_csv(out, result)
    played = int(sum(1 for t in result.onset_sec if t == t))
    print(f"{audio_path.name}: {played} of {len(result.notes)} notes aligned, confidence "
          f"{result.confidence:.2f}, transposition {result.transposition:+d} semitones, "
          f"score {result.score_range[0]:.1f}-{result.score_range[1]:.1f} s -> {out}")
    for j in result.repeats:
        state = {True: "taken", False: "not taken", None: "not in the recording"}[j.taken]
        print(f"  repeat from measure {j.from_measure} back to {j.to_measure}: {state}")
    if result.confidence < 0.5:
        print("  low confidence: the recording may not be this piece")
    return EXIT_OK


def read_score(path_text: str):
    """The unfolded note list of SCORE (MIDI, MusicXML, or a photo transcribed)."""
    from omr.audio.align import notes_from_music21, score_notes

    p = Path(path_text)
    if not p.is_file():
        raise CommandError(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix in SCORE_SUFFIXES:
        return score_notes(p)
    if suffix in IMAGE_SUFFIXES:
        from omr.pipeline import transcribe

        return notes_from_music21(transcribe([str(p)]).score)
    raise CommandError(f"{p}: a score must be MusicXML ({', '.join(SCORE_SUFFIXES[2:])}), "
                       f"MIDI (.mid) or a photo ({', '.join(IMAGE_SUFFIXES)})")


def separated_stem(audio_path: Path, stem: str):
    """One separated stem of a recording, mono at the alignment's sample rate."""
    from omr.audio.align import SAMPLE_RATE
    from omr.audio.io import load_audio, resample

    import importlib

    try:
        separation = importlib.import_module("omr.audio.separate")
    except ImportError as err:
        raise CommandError(f"--stem {stem} needs source separation (omr.audio.separate), "
                           f"which cannot be loaded here ({err}); use --stem mix") from None
    if not hasattr(separation, "separate"):
        raise CommandError(f"--stem {stem}: omr.audio.separate has no separate(); "
                           "use --stem mix")
    sr = 44100  # the separation network's rate
    y = load_audio(audio_path, sample_rate=sr, mono=False)
    stems = separation.separate(y, sr)
    if stem not in stems:
        raise CommandError(f"--stem {stem}: the separation gave {', '.join(stems)}")
    out = stems[stem]
    if out.ndim == 2:
        out = out.mean(axis=0) if out.shape[0] <= 2 else out.mean(axis=1)
    return resample(out, sr, SAMPLE_RATE)
