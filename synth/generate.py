"""Random but musical scores as MusicXML, for training and testing the OMR system.

The music21 corpus is mostly chorales and folk tunes: it has few repeat
barlines, first and second endings, D.C./D.S. forms, tuplets printed only on
their first group, omitted rests, grand staves or unusual clefs.  This module
writes short pieces (4-24 measures) that contain the phenomena asked for and
no others (plus what they bring along: a volta needs repeat barlines), so the
detector sees them and the notation stage can be tested on them.

The music is simple but plausible: a chord per measure drawn from common
progressions, mostly stepwise melodies that lean on chord tones and end on the
tonic, notes kept in a sensible range for the clef, beams grouped by beat and
measures that add up to the time signature (only a pickup measure is short).

Scores are written straight to MusicXML 4.0 (``score-partwise``) with
``xml.etree`` rather than exported from music21, so that every element the OMR
system cares about is spelled exactly as intended: tuplet numbers left off later
groups, rests hidden with ``print-object="no"``, ``<sound>`` attributes on
segno/coda/Fine/D.C./D.S. so players can unfold the form.  The output loads in
music21 and verovio and validates against the MusicXML 4.0 schema.

Example
-------
>>> from synth.generate import generate_score
>>> score = generate_score(7, features=["volta", "lyrics"])
>>> sorted(score.features & {"volta", "repeat", "lyrics"})
['lyrics', 'repeat', 'volta']
>>> '<ending number="1" type="start">' in score.musicxml
True
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from omr.notation.rhythm import beam_values

__all__ = ["FEATURES", "GeneratedScore", "generate_score"]

# ---------------------------------------------------------------------------
# Public vocabulary

FORM_FEATURES = ("repeat", "volta", "dc_al_fine", "dc_al_coda", "ds_al_fine", "ds_al_coda")
"""The repeat structures; a piece has at most one of them."""

FEATURES: tuple[str, ...] = (
    *FORM_FEATURES,
    "segno",                 # the segno sign (comes with a D.S. form)
    "coda",                  # "To Coda" and the coda sign (comes with an al Coda form)
    "fine",                  # "Fine" (comes with an al Fine form)
    "tuplets_all",           # triplets with the number printed on every group
    "tuplets_first_only",    # the number printed on the first group of a measure only
                             # (a measure with a single group looks like tuplets_all)
    "omitted_rests",         # a voice that does not fill its measure: hidden rests
    "two_voices",            # two voices on one staff, stems up and down
    "chords",
    "ties",
    "dots",                  # dotted (and double-dotted) notes and rests
    "accidentals",           # sharps, flats, naturals, double sharps and flats
    "courtesy_accidentals",  # cautionary accidentals, some in parentheses
    "key_change",
    "time_change",
    "pickup",                # an anacrusis: implicit measure number 0
    "grand_staff",           # piano: two staves in one part
    "voice_piano",           # a voice part over a piano part (three staves)
    "clefs",                 # a clef other than treble and bass (alto, tenor, 8vb, ...)
    "clef_change",           # a clef change in the middle of the piece (solo instruments
                             # change to or from a tenor or alto clef: brings "clefs")
    "lyrics",                # two verses, hyphens, melismas
    "dynamics",
    "hairpins",              # crescendo and diminuendo wedges
    "tempo",                 # tempo words with a metronome mark
    "articulations",         # staccato, accent, tenuto
    "fermata",
    "slurs",
    "grace_notes",
    "short_values",          # 32nd and 64th notes
    "rests",                 # rests of every value, whole to 64th (brings short_values)
    "multi_rest",            # a multi-measure rest
    "rest_rhythms",          # 16th and 8th rests between the notes of a beat, in the melody
                             # and the accompaniment, as pop piano arrangements print them
                             # (never drawn by default: see OPT_IN_FEATURES)
    # Decorations (DECORATIONS): drawn only when asked for or with ``extras=True``.
    "flags",                 # a melody written without beams, as in vocal music:
                             # eighths, 16ths and shorter each with their own flag
    "arpeggios",             # the wavy line of a rolled chord (brings "chords")
    "fingering",             # finger numbers 1-5 over some notes of a melody
)

DECORATIONS = frozenset({"flags", "arpeggios", "fingering"})
"""Features laid over a finished score from a random stream of their own, so a
score generated without them is the same with ``extras=True`` until they are
drawn. They came after the data sets of 2026-11 and 2026-12 were built; drawing
them by default would change those builds page for page."""
OPT_IN_FEATURES = frozenset({"rest_rhythms"})
"""Features a random mix never draws unless a build asks for them (``feature_chance``):
they came after the data sets of 2026-11 and 2026-12 were built, and drawing them
by default would change those builds page for page."""

# What each repeat structure brings with it.
FORM_IMPLIES: dict[str, frozenset[str]] = {
    "repeat": frozenset({"repeat"}),
    "volta": frozenset({"volta", "repeat"}),
    "dc_al_fine": frozenset({"dc_al_fine", "fine"}),
    "dc_al_coda": frozenset({"dc_al_coda", "coda"}),
    "ds_al_fine": frozenset({"ds_al_fine", "segno", "fine"}),
    "ds_al_coda": frozenset({"ds_al_coda", "segno", "coda"}),
}
STRUCTURE_FEATURES = frozenset().union(*FORM_IMPLIES.values())

# Chance of each feature when ``features=None``.
RANDOM_FORM_PROBABILITY = 0.6
FEATURE_PROBABILITY: dict[str, float] = {
    "tuplets_all": 0.15, "tuplets_first_only": 0.1, "omitted_rests": 0.2,
    "two_voices": 0.25, "chords": 0.35, "ties": 0.5, "dots": 0.6,
    "accidentals": 0.35, "courtesy_accidentals": 0.15, "key_change": 0.15,
    "time_change": 0.12, "pickup": 0.3, "grand_staff": 0.3, "voice_piano": 0.2,
    "clefs": 0.2, "clef_change": 0.1, "lyrics": 0.3, "dynamics": 0.6,
    "hairpins": 0.35, "tempo": 0.6, "articulations": 0.45, "fermata": 0.4,
    "slurs": 0.45, "grace_notes": 0.2, "short_values": 0.15, "rests": 0.1,
    "multi_rest": 0.08,
}
# Chance of each decoration when ``features=None`` and ``extras=True``.
EXTRA_FEATURE_PROBABILITY: dict[str, float] = {"flags": 0.3, "arpeggios": 0.3, "fingering": 0.25}
DECORATION_STREAM = 1  # the decorations' random stream: default_rng([seed, DECORATION_STREAM])


@dataclass(frozen=True)
class GeneratedScore:
    """One generated piece.

    Attributes
    ----------
    musicxml : str
        MusicXML 4.0 text (``score-partwise``), encoded as UTF-8 when written.
    features : frozenset[str]
        The names from :data:`FEATURES` that the score actually contains.
    title : str
        The title written into the score.
    seed : int
        The seed it was generated from.
    """

    musicxml: str
    features: frozenset[str]
    title: str
    seed: int


# ---------------------------------------------------------------------------
# Notation constants

DIVISIONS = 48  # per quarter note: 64th notes (3) and eighth triplets (16) are whole numbers
QUARTER = DIVISIONS
WHOLE = 4 * QUARTER
DOTTED_QUARTER = 3 * QUARTER // 2

NOTE_TYPES: dict[str, int] = {  # note type -> duration in divisions
    "whole": WHOLE, "half": WHOLE // 2, "quarter": WHOLE // 4, "eighth": WHOLE // 8,
    "16th": WHOLE // 16, "32nd": WHOLE // 32, "64th": WHOLE // 64,
}
TOKEN_TYPES = {"1": "whole", "2": "half", "4": "quarter", "8": "eighth",
               "16": "16th", "32": "32nd", "64": "64th"}
BEAM_LEVELS = {"eighth": 1, "16th": 2, "32nd": 3, "64th": 4}  # number of beams
SHORT_TYPES = frozenset({"32nd", "64th"})
TRIPLET_ACTUAL, TRIPLET_NORMAL = 3, 2

STEPS = "CDEFGAB"
OCTAVE = 7                       # diatonic steps per octave
SHARP_ORDER = (3, 0, 4, 1, 5, 2, 6)   # F C G D A E B as step indices
FLAT_ORDER = (6, 2, 5, 1, 4, 0, 3)    # B E A D G C F
ACCIDENTAL_NAMES = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}
MAX_ALTER = 2

MIN_MEASURES, MAX_MEASURES = 4, 24
FIFTHS_RANGE = 6                 # key signatures from 6 flats to 6 sharps
MIN_DOUBLE_ACCIDENTAL_FIFTHS = 2  # keys where double sharps/flats arise naturally

# Time signatures: (beats, beat-type) -> weight when picking one at random.
SIMPLE_METERS = {(4, 4): 4.0, (3, 4): 3.0, (2, 4): 2.0, (2, 2): 1.0}
COMPOUND_METERS = {(6, 8): 2.0, (3, 8): 0.5, (9, 8): 0.5, (12, 8): 0.7}
COMMON_TIME_PROBABILITY = 0.3    # 4/4 printed as C, 2/2 as cut time

# Clefs: name -> (sign, line, octave change).
CLEFS: dict[str, tuple[str, int, int]] = {
    "treble": ("G", 2, 0), "bass": ("F", 4, 0), "alto": ("C", 3, 0), "tenor": ("C", 4, 0),
    "soprano": ("C", 1, 0), "mezzo_soprano": ("C", 2, 0), "baritone_c": ("C", 5, 0),
    "baritone_f": ("F", 3, 0), "sub_bass": ("F", 5, 0), "french_violin": ("G", 1, 0),
    "treble_8vb": ("G", 2, -1), "treble_8va": ("G", 2, 1),
    "bass_8vb": ("F", 4, -1), "bass_8va": ("F", 4, 1),
}
COMMON_CLEFS = frozenset({"treble", "bass"})
CLEF_REFERENCE = {"G": 4 * OCTAVE + 4, "F": 3 * OCTAVE + 3, "C": 4 * OCTAVE}  # G4, F3, C4
MIDDLE_STAFF_LINE = 3

# Instruments: name, clef, MIDI program, the clef it may change to (or None).
SOLO_INSTRUMENTS = (
    ("Flute", "treble", 74, None), ("Violin", "treble", 41, None), ("Oboe", "treble", 69, None),
    ("Recorder", "treble", 75, None), ("Cello", "bass", 43, "tenor"),
    ("Bassoon", "bass", 71, "tenor"), ("Trombone", "bass", 58, "tenor"),
    ("Viola", "alto", 42, "treble"), ("Guitar", "treble_8vb", 25, None),
    ("Contrabass", "bass_8vb", 44, None), ("Piccolo", "treble_8va", 73, None),
    ("Tenor Trombone", "tenor", 58, "bass"), ("Violin", "french_violin", 41, None),
    ("Bass Recorder", "bass_8va", 75, None),
)
VOICE_PROGRAM = 53
SINGERS = (  # the old C and F clefs of vocal music too
    ("Soprano", "treble", VOICE_PROGRAM, None), ("Alto", "treble", VOICE_PROGRAM, None),
    ("Tenor", "treble_8vb", VOICE_PROGRAM, None), ("Bass", "bass", VOICE_PROGRAM, "tenor"),
    ("Soprano", "soprano", VOICE_PROGRAM, None), ("Mezzo-soprano", "mezzo_soprano", VOICE_PROGRAM, None),
    ("Alto", "alto", VOICE_PROGRAM, None), ("Tenor", "tenor", VOICE_PROGRAM, "bass"),
    ("Baritone", "baritone_c", VOICE_PROGRAM, None), ("Baritone", "baritone_f", VOICE_PROGRAM, None),
    ("Basso", "sub_bass", VOICE_PROGRAM, None),
)
CHORD_INSTRUMENTS = frozenset({"Violin", "Viola", "Cello", "Guitar"})
PIANO_PROGRAM = 1
PIANO_LOWER_CLEF_CHANGE = "treble"  # the left hand moves up for a few measures

# Ranges in diatonic steps around the middle staff line, per kind of line.
MELODY_RANGE = (-5, 6)
UPPER_VOICE_LOW = -1             # voice 1 stays above this when a voice 2 is below
LOWER_VOICE_RANGE = (-7, 2)
CHORD_TONE_FLOOR = -3            # accompaniment chords start at this step or above
BASS_FLOOR = -7
MELODIC_MOVES = (-1, 1, -2, 2, 0, -3, 3, -4, 4, -5, 5, -7, 7)
MELODIC_MOVE_WEIGHTS = (25, 25, 10, 10, 6, 4, 4, 3, 3, 1, 1, 0.5, 0.5)

# Chord progressions as scale degrees of the chord roots (0 = tonic).
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 1, 4, 0), (0, 3, 0, 4), (0, 5, 1, 4))
TONIC, SUBDOMINANT, DOMINANT, LEADING_TONE = 0, 3, 4, 6

# Rhythm cells: one or more beats of rhythm, written as tokens.
# A token is [r]est? [t]riplet? value (1 2 4 8 16 32 64) and dots: "r8", "t8", "4.".
# Each cell: (pattern, features it needs, weight).
SIMPLE_CELLS = (
    ("4", (), 6.0), ("8 8", (), 5.0), ("2", (), 3.0), ("1", (), 0.8), ("8 4 8", (), 0.5),
    ("16 16 16 16", (), 1.0), ("8 16 16", (), 1.2), ("16 16 8", (), 1.2), ("16 8 16", (), 0.3),
    ("r4", (), 0.5), ("r8 8", (), 0.5),
    ("4. 8", ("dots",), 2.0), ("8. 16", ("dots",), 2.0), ("2.", ("dots",), 1.0),
    ("4.. 16", ("dots",), 0.2),
    ("t8 t8 t8", ("tuplets",), 2.5), ("rt8 t8 t8", ("tuplets",), 0.4), ("t4 t4 t4", ("tuplets",), 0.8),
    ("32 32 32 32 32 32 32 32", ("short_values",), 0.4), ("16 32 32 8", ("short_values",), 0.8),
    ("8 32 32 32 32", ("short_values",), 0.6), ("64 64 64 64 16 8", ("short_values",), 0.4),
    ("8. 32 32", ("short_values", "dots"), 0.5),
    ("r16 16 8", ("rests",), 0.5), ("r32 32 16 8", ("rests", "short_values"), 0.3),
    ("r16 16 r16 16", ("rest_rhythms",), 1.5), ("r8 16 16", ("rest_rhythms",), 1.0),
    ("r16 16 16 16", ("rest_rhythms",), 1.0), ("16 r16 16 16", ("rest_rhythms",), 0.6),
    ("r16 16 8", ("rest_rhythms",), 1.0), ("8 r8", ("rest_rhythms",), 0.6),
    ("r16 8 16", ("rest_rhythms",), 0.4),
)
COMPOUND_CELLS = (
    ("4.", (), 5.0), ("4 8", (), 4.0), ("8 8 8", (), 5.0), ("2.", (), 2.0), ("1.", (), 0.5),
    ("8 4", (), 0.4), ("16 16 8 8", (), 1.2), ("8 16 16 8", (), 0.8),
    ("16 16 16 16 16 16", (), 0.6), ("8. 16 8", (), 1.5), ("r8 8 8", (), 0.5), ("r4 8", (), 0.3),
    ("32 32 32 32 8 8", ("short_values",), 0.5), ("64 64 64 64 16 8 8", ("short_values",), 0.3),
    ("r16 16 8 8", ("rests",), 0.4),
    ("r16 16 r16 16 r16 16", ("rest_rhythms",), 1.0), ("8 r16 16 8", ("rest_rhythms",), 1.0),
    ("r8 16 16 8", ("rest_rhythms",), 1.0), ("8 r8 8", ("rest_rhythms",), 0.8),
)
LOWER_VOICE_CELLS_SIMPLE = (("2", (), 4.0), ("4", (), 3.0), ("1", (), 1.5), ("8 8", (), 1.0),
                            ("2.", ("dots",), 1.0), ("4. 8", ("dots",), 0.7))
LOWER_VOICE_CELLS_COMPOUND = (("4.", (), 4.0), ("2.", (), 2.0), ("4 8", (), 1.5), ("1.", (), 0.5))
CADENCE_CELLS_SIMPLE = (("1", (), 2.0), ("2", (), 3.0), ("2.", ("dots",), 2.0), ("4", (), 0.5))
CADENCE_CELLS_COMPOUND = (("2.", (), 3.0), ("4.", (), 2.0), ("1.", (), 1.0))

# Cells that guarantee a feature in the lead melody: feature -> {meter kind: groups};
# the cells of one group go into the same measure.
REQUIRED_CELLS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "tuplets_all": {"simple": (("t8 t8 t8",),)},
    "tuplets_first_only": {"simple": (("t8 t8 t8", "t8 t8 t8"),)},
    "dots": {"simple": (("8. 16",),), "compound": (("8. 16 8",),)},
    "short_values": {"simple": (("32 32 32 32 32 32 32 32",), ("64 64 64 64 16 8",)),
                     "compound": (("32 32 32 32 8 8",), ("64 64 64 64 16 8 8",))},
    "rests": {"simple": (("r2",), ("r4",), ("r8 8",), ("r16 16 8",), ("r32 32 16 8",),
                         ("r64 64 32 16 8",))},
    "rest_rhythms": {"simple": (("r16 16 r16 16", "r8 16 16"),),
                     "compound": (("r16 16 r16 16 r16 16",),)},
}
REST_TYPES_FOR_FEATURE = frozenset({"whole", "half", "quarter", "eighth", "16th", "32nd", "64th"})

# Pickup measure rhythms by length in divisions.
PICKUP_PATTERNS = {
    QUARTER // 2: ("8",), QUARTER: ("4", "8 8"), 2 * QUARTER: ("4 4", "8 8 4", "2"),
    DOTTED_QUARTER: ("4 8", "8 8 8"),
}

# Accompaniment: one cell per beat, cycling; roles say which chord notes sound.
# Roles: bass, full (bass + chord), chord, low/mid/high (one note of the chord).
ACCOMPANIMENT_SIMPLE = {
    "block": ("4:full", "4:chord"), "oompah": ("4:bass", "4:chord"),
    "alberti": ("8:low 8:high", "8:mid 8:high"), "broken": ("8:low 8:mid", "8:high 8:mid"),
    "offbeat": ("4:bass", "r8 8:chord"), "halves": ("2:full",), "held": ("measure:full",),
    # (last, and drawn only with their feature: ACCOMPANIMENT_NEEDS)
    "offbeat16": ("r8 16:chord 16:chord", "16:full r16 r8"), "pulse16": ("16:full r16 16:chord r16",),
}
ACCOMPANIMENT_COMPOUND = {
    "oompah": ("4:bass 8:chord", "4:chord 8:chord"), "broken": ("8:low 8:mid 8:high",),
    "block": ("4.:full", "4.:chord"), "held": ("measure:full",),
    "offbeat16": ("8:bass r16 16:chord r16 16:chord",),
}
# Patterns drawn only with a feature, so that the draws without it stay as they were.
ACCOMPANIMENT_NEEDS = {"offbeat16": "rest_rhythms", "pulse16": "rest_rhythms"}
UPPER_ACCOMPANIMENT = ("block", "offbeat", "broken", "halves")  # piano right hand under a singer
LOWER_ACCOMPANIMENT_UNDER_SINGER = ("oompah", "halves", "held", "block")

# Expression vocabulary.
DYNAMICS = ("pp", "p", "mp", "mf", "f", "ff")
DYNAMICS_SOUND = {"pp": 36, "p": 54, "mp": 71, "mf": 89, "f": 107, "ff": 124}  # % of forte
ARTICULATIONS = ("staccato", "accent", "tenuto")
TEMPI = (("Largo", 50), ("Adagio", 66), ("Andante", 80), ("Moderato", 100),
         ("Allegretto", 112), ("Allegro", 132), ("Vivace", 152), ("Presto", 176))
COMPOUND_TEMPO_FACTOR = 2 / 3    # dotted-quarter beats are slower than quarter beats
#: A tempo printed as its metronome mark alone ("♩ = 100", as MuseScore writes it),
#: not after a tempo word.
METRONOME_ALONE_PROBABILITY = 0.4
SEGNO_ID, CODA_ID = "segno", "coda"

# Probabilities of the ornaments of a melody, per note or per measure.
CHORD_NOTE_PROBABILITY = 0.25
TRIAD_PROBABILITY = 0.3
CHROMATIC_PROBABILITY = 0.15
TIE_PROBABILITY = 0.1
GRACE_PROBABILITY = 0.06
ARTICULATION_PROBABILITY = 0.15
SLUR_PROBABILITY = 0.35          # per measure
HAIRPIN_PROBABILITY = 0.25       # per measure
DYNAMIC_CHANGE_PROBABILITY = 0.3  # per phrase
MELISMA_PROBABILITY = 0.12
PARENTHESES_PROBABILITY = 0.7
ARPEGGIO_PROBABILITY = 0.3       # per chord
FINGERING_PROBABILITY = 0.15     # per note of the melody
FINGERS = (1, 2, 3, 4, 5)
OMITTED_REST_SHARE = 0.3         # share of measures with an omitted rest
PHRASE_LENGTH = 4

LYRIC_WORDS = (
    "sun", "sky", "light", "sing", "day", "night", "home", "love", "sea", "wind", "rain",
    "star", "bright", "high", "go", "come", "now", "we", "all", "my", "heart", "song",
    "moon", "snow", "the", "and", "in", "to", "dream", "hear", "far", "near",
    "morn-ing", "riv-er", "gen-tle", "sum-mer", "ev-er", "wan-der", "hap-py", "gold-en",
    "si-lent", "win-ter", "flow-ers", "dan-cing", "sing-ing", "o-ver", "for-est", "shin-ing",
    "beau-ti-ful", "ev-er-more", "to-mor-row", "won-der-ful", "mel-o-dy", "har-mo-ny",
    "lul-la-by", "mer-ri-ly", "hal-le-lu-jah", "al-le-lu-ia",
)
TITLE_ADJECTIVES = ("Little", "Gentle", "Merry", "Quiet", "Happy", "Old", "Winter",
                    "Evening", "Spring", "Morning", "Lonely", "Golden")
TITLE_NOUNS = ("Waltz", "Song", "March", "Dance", "Air", "Minuet", "Lullaby", "Tune",
               "Carol", "Hymn", "Ballad", "Study")

MAX_ATTEMPTS = 8                 # redraws when a requested feature did not come out

XML_HEADER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
    '"http://www.musicxml.org/dtds/partwise.dtd">\n'
)
MUSICXML_VERSION = "4.0"
SOFTWARE = "omr synth.generate"


# ---------------------------------------------------------------------------
# Public API

def generate_score(
    seed: int,
    *,
    features: Iterable[str] | None = None,
    n_measures: int | None = None,
    extras: bool = False,
    feature_chance: Mapping[str, float] | None = None,
) -> GeneratedScore:
    """Generate a short random score as MusicXML.

    Parameters
    ----------
    seed : int
        Seed for ``numpy.random.default_rng``; the same arguments give
        byte-identical MusicXML.
    features : iterable of str or None
        Names from :data:`FEATURES` that the score must contain; only these
        (and what they bring with them: ``"volta"`` brings ``"repeat"``,
        ``"courtesy_accidentals"`` brings ``"accidentals"``, ``"clefs"`` with
        ``"grand_staff"`` gives the unusual clef to a singer over the piano)
        are used.  ``None`` picks a random plausible mix.  The repeat
        structures (``repeat``, ``volta``, ``dc_al_fine``, ``dc_al_coda``,
        ``ds_al_fine``, ``ds_al_coda``) are exclusive; ``segno``, ``coda`` and
        ``fine`` pick a structure that has them.
    n_measures : int or None
        Number of full measures, 4 to 24 (a pickup measure comes on top).
        ``None`` picks one.
    extras : bool
        With ``features=None``, also draw the :data:`DECORATIONS` (flags,
        arpeggios, fingering; :data:`EXTRA_FEATURE_PROBABILITY`). They are laid
        over the score from a random stream of their own, so the music is the
        same as without them. Decorations named in ``features`` are always made.
    feature_chance : mapping of str to float, or None
        With ``features=None``, the chance of these features in place of
        :data:`FEATURE_PROBABILITY`'s (the :data:`OPT_IN_FEATURES` are drawn only
        when named here): ``{"rest_rhythms": 0.7}`` writes many short rests.

    Returns
    -------
    GeneratedScore

    Raises
    ------
    ValueError
        Unknown feature names, features that cannot be combined, or a
        measure count outside 4..24 or too small for the features.

    Examples
    --------
    >>> score = generate_score(3, features=["tuplets_first_only"], n_measures=8)
    >>> "tuplets_first_only" in score.features
    True
    >>> score.musicxml == generate_score(3, features=["tuplets_first_only"], n_measures=8).musicxml
    True
    """
    requested = None if features is None else _check_features(features)
    chances = check_feature_chance(feature_chance)
    base = None if requested is None else _base_features(requested)
    if n_measures is not None and not MIN_MEASURES <= n_measures <= MAX_MEASURES:
        raise ValueError(f"n_measures must be between {MIN_MEASURES} and {MAX_MEASURES}")
    rng = np.random.default_rng(seed)
    decoration_rng = np.random.default_rng([seed, DECORATION_STREAM])
    problem = ""
    for _ in range(MAX_ATTEMPTS):
        enabled, form = _choose_features(rng, base, chances)
        try:
            score = _compose(rng, enabled, form, n_measures)
        except _NoRoom as error:
            problem = str(error)
            continue
        _decorate(decoration_rng, score, _choose_decorations(decoration_rng, requested, extras))
        present = _present_features(score)
        if requested is None or requested <= present:
            break
        problem = f"could not generate {', '.join(sorted(requested - present))}"
    else:
        raise ValueError(f"{problem} (seed {seed}, n_measures {n_measures})")
    return GeneratedScore(musicxml=_to_musicxml(score), features=present,
                          title=score.title, seed=seed)


class _NoRoom(ValueError):
    """The features chosen do not fit into the measures chosen."""


def _check_features(features: Iterable[str]) -> frozenset[str]:
    if isinstance(features, str):
        features = [features]
    requested = frozenset(features)
    unknown = sorted(requested - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown features: {', '.join(unknown)}")
    if not _forms_for(requested):
        raise ValueError(f"these features need different repeat structures: "
                         f"{', '.join(sorted(requested & STRUCTURE_FEATURES))}")
    return requested


def check_feature_chance(feature_chance: Mapping[str, float] | None) -> dict[str, float]:
    """:data:`FEATURE_PROBABILITY` with ``feature_chance`` laid over it (new names last,
    so the draws of a build that names none are the same as before).

    Raises ``ValueError`` for a name that is no feature of a random mix (the repeat
    structures and decorations have chances of their own) or a chance outside [0, 1].

    >>> check_feature_chance({"rest_rhythms": 0.7})["rest_rhythms"]
    0.7
    """
    chances = dict(FEATURE_PROBABILITY)
    for name, p in (feature_chance or {}).items():
        if name not in FEATURES or name in DECORATIONS or name in FORM_FEATURES:
            raise ValueError(f"feature_chance: {name!r} is not a feature a random mix draws")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"feature_chance: the chance of {name!r} must lie in [0, 1], not {p}")
        chances[name] = float(p)
    return chances


def _base_features(requested: frozenset[str]) -> frozenset[str]:
    """The features the score is composed with; the decorations come after."""
    base = requested - DECORATIONS
    if "arpeggios" in requested:
        base |= {"chords"}
    return base


def _choose_decorations(rng, requested: frozenset[str] | None, extras: bool) -> frozenset[str]:
    if requested is not None:
        return requested & DECORATIONS
    if not extras:
        return frozenset()
    return frozenset(name for name, p in EXTRA_FEATURE_PROBABILITY.items() if rng.random() < p)


def _forms_for(requested: frozenset[str]) -> list[str | None]:
    """The smallest repeat structures that provide every structural feature requested."""
    wanted = requested & STRUCTURE_FEATURES
    if not wanted:
        return [None]
    forms = [form for form, implied in FORM_IMPLIES.items() if wanted <= implied]
    smallest = min((len(FORM_IMPLIES[f]) for f in forms), default=0)
    return [f for f in forms if len(FORM_IMPLIES[f]) == smallest]


def _choose_features(rng, requested: frozenset[str] | None, chances: Mapping[str, float]
                     ) -> tuple[frozenset[str], str | None]:
    """The features to use and the repeat structure (or None); ``chances``: each
    feature's chance in a random mix."""
    if requested is None:
        enabled = {name for name, p in chances.items() if rng.random() < p}
        if {"tuplets_all", "tuplets_first_only"} <= enabled:
            enabled.discard(_pick(rng, ("tuplets_all", "tuplets_first_only")))
        if enabled & {"grand_staff", "voice_piano"}:
            enabled.discard("multi_rest")  # multi-measure rests belong to single parts
        form = _pick(rng, FORM_FEATURES) if rng.random() < RANDOM_FORM_PROBABILITY else None
    else:
        enabled = set(requested)
        form = _pick(rng, _forms_for(requested))
    if form is not None:
        enabled |= FORM_IMPLIES[form]
    if "voice_piano" in enabled:
        enabled.add("grand_staff")
    if "courtesy_accidentals" in enabled:
        enabled.add("accidentals")
    if {"clefs", "grand_staff"} <= enabled:
        enabled.add("voice_piano")  # the unusual clef goes to the singer
    if enabled & {"tuplets_all", "tuplets_first_only"}:
        enabled.add("tuplets")   # internal: triplet cells allowed
    return frozenset(enabled), form


# ---------------------------------------------------------------------------
# Small helpers

def _pick(rng, items: Sequence, weights: Sequence[float] | None = None):
    """One item of a sequence, optionally weighted."""
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def _choose_some(rng, candidates: Sequence, probability: float, force: bool) -> list:
    """Each candidate with some probability; at least one when forced."""
    chosen = [c for c in candidates if rng.random() < probability]
    if force and not chosen and candidates:
        chosen = [_pick(rng, candidates)]
    return chosen


def _key_alter(step: int, fifths: int) -> int:
    """The alteration the key signature gives a step (0 = C ... 6 = B)."""
    if fifths > 0 and step in SHARP_ORDER[:fifths]:
        return 1
    if fifths < 0 and step in FLAT_ORDER[:-fifths]:
        return -1
    return 0


def _tonic_step(fifths: int, mode: str) -> int:
    major_tonic = (4 * fifths) % OCTAVE  # a fifth is four diatonic steps
    return (major_tonic + 5) % OCTAVE if mode == "minor" else major_tonic


def _clef_middle(clef: str) -> int:
    """Diatonic index (octave * 7 + step) of the middle staff line."""
    sign, line, octave_change = CLEFS[clef]
    return CLEF_REFERENCE[sign] + 2 * (MIDDLE_STAFF_LINE - line) + OCTAVE * octave_change


def _duration(note_type: str, dots: int = 0, triplet: bool = False) -> int:
    base = NOTE_TYPES[note_type]
    value = base * (2 ** (dots + 1) - 1) // 2 ** dots
    return value * TRIPLET_NORMAL // TRIPLET_ACTUAL if triplet else value


# ---------------------------------------------------------------------------
# The score model

@dataclass(frozen=True)
class _Meter:
    beats: int
    beat_type: int

    @property
    def length(self) -> int:
        return self.beats * WHOLE // self.beat_type

    @property
    def compound(self) -> bool:
        return self.beat_type == 8 and self.beats % 3 == 0

    @property
    def kind(self) -> str:
        return "compound" if self.compound else "simple"

    @property
    def cell_length(self) -> int:
        """Rhythm cells (and beams) span this much: a quarter or a dotted quarter."""
        return DOTTED_QUARTER if self.compound else QUARTER

    @property
    def cell_beats(self) -> int:
        return self.length // self.cell_length


@dataclass(frozen=True)
class _Token:
    note_type: str
    dots: int
    rest: bool
    triplet: bool

    @property
    def duration(self) -> int:
        return _duration(self.note_type, self.dots, self.triplet)


@dataclass(frozen=True)
class _Cell:
    pattern: str
    tokens: tuple[_Token, ...]
    needs: tuple[str, ...]
    weight: float
    duration: int               # in divisions


def _parse_token(text: str) -> _Token:
    rest = text.startswith("r")
    text = text.removeprefix("r")
    triplet = text.startswith("t")
    text = text.removeprefix("t")
    value = text.rstrip(".")
    return _Token(TOKEN_TYPES[value], len(text) - len(value), rest, triplet)


def _cell(pattern: str, needs: tuple[str, ...] = (), weight: float = 1.0) -> _Cell:
    tokens = tuple(_parse_token(t) for t in pattern.split())
    return _Cell(pattern, tokens, needs, weight, sum(t.duration for t in tokens))


def _cells(table) -> tuple[_Cell, ...]:
    return tuple(_cell(*row) for row in table)


CELL_TABLES = {
    ("melody", "simple"): _cells(SIMPLE_CELLS), ("melody", "compound"): _cells(COMPOUND_CELLS),
    ("lower", "simple"): _cells(LOWER_VOICE_CELLS_SIMPLE),
    ("lower", "compound"): _cells(LOWER_VOICE_CELLS_COMPOUND),
    ("cadence", "simple"): _cells(CADENCE_CELLS_SIMPLE),
    ("cadence", "compound"): _cells(CADENCE_CELLS_COMPOUND),
}


@dataclass
class _Pitch:
    degree: int                      # diatonic index: octave * 7 + step, C4 = 28
    alter: int = 0
    accidental: str | None = None    # the printed accidental, if any
    cautionary: bool = False
    parentheses: bool = False

    @property
    def step(self) -> int:
        return self.degree % OCTAVE

    @property
    def octave(self) -> int:
        return self.degree // OCTAVE


@dataclass
class _Direction:
    """A <direction>: its direction-types, e.g. ("words", "Fine"), ("dynamics", "p").

    Words at the end of a measure are aligned right (``halign``), so that they end
    at the barline instead of starting there.
    """
    types: tuple[tuple, ...]
    placement: str = "above"
    sound: tuple[tuple[str, str], ...] = ()
    halign: str | None = None


@dataclass
class _Event:
    """A note, chord or rest of one voice."""
    offset: int
    duration: int
    note_type: str | None            # None: a whole-measure rest
    dots: int = 0
    pitches: list[_Pitch] = field(default_factory=list)  # empty: a rest
    hidden: bool = False
    cell: int = 0                    # rhythm cell id: beams never cross cells
    triplet: bool = False
    tuplet_start: bool = False
    tuplet_stop: bool = False
    tuplet_printed: bool = True
    tuplet_bracket: bool = False
    beams: list[str] = field(default_factory=list)
    tie_start: bool = False
    tie_stop: bool = False
    graces: list[_Pitch] = field(default_factory=list)
    articulations: list[str] = field(default_factory=list)
    fermata: bool = False
    slur_start: bool = False
    slur_stop: bool = False
    lyrics: list[tuple[int, str, str, bool]] = field(default_factory=list)  # verse, syllabic, text, extend
    directions: list[_Direction] = field(default_factory=list)
    role: str = ""                   # accompaniment role of the notes (bass, chord, ...)
    unbeamed: bool = False           # "flags": beams of its cell left off
    arpeggio: bool = False
    fingering: int | None = None

    @property
    def is_rest(self) -> bool:
        return not self.pitches


@dataclass
class _Measure:
    number: int
    meter: _Meter
    fifths: int
    mode: str
    chord: int = TONIC
    pickup_length: int = 0           # > 0: a pickup measure this long
    show_time: bool = False
    time_symbol: str | None = None
    show_key: bool = False
    forward_repeat: bool = False
    backward_repeat: bool = False
    right_style: str | None = None   # bar-style of the right barline
    ending_start: str | None = None  # ending number starting here
    ending_stop: tuple[str, str] | None = None  # (number, "stop" | "discontinue")
    start_directions: list[_Direction] = field(default_factory=list)
    end_directions: list[_Direction] = field(default_factory=list)
    multi_rest: int = 0              # first measure of a multi-measure rest this long
    resting: bool = False            # inside a multi-measure rest
    cadence: bool = False
    whole_rest: bool = False         # the lead melody rests
    required: list[tuple[_Cell, ...]] = field(default_factory=list)
    tuplet_mode: str = "all"         # "all" or "first_only"
    two_voices: bool = False
    omit_rests: str | None = None    # the kind of voice that leaves its rests out here

    @property
    def length(self) -> int:
        return self.pickup_length or self.meter.length

    @property
    def key(self) -> tuple[int, str]:
        return self.fifths, self.mode


@dataclass
class _Voice:
    number: int
    kind: str                        # "melody", "lower" or "accompaniment"
    measures: list[list[_Event] | None]
    lead: bool = False               # the main melody: lyrics and guaranteed features


@dataclass
class _Staff:
    clefs: dict[int, str]            # measure index -> clef from there on
    voices: list[_Voice] = field(default_factory=list)

    def clef_at(self, index: int) -> str:
        return self.clefs[max(i for i in self.clefs if i <= index)]


@dataclass
class _Part:
    id: str
    name: str
    midi_program: int
    staves: list[_Staff]
    singer: bool = False


@dataclass
class _Score:
    title: str
    measures: list[_Measure]
    parts: list[_Part]
    enabled: frozenset[str]
    seams: list[bool] = field(default_factory=list)  # seams[i]: ties may cross into i + 1

    def voices(self):
        for part in self.parts:
            for staff_number, staff in enumerate(part.staves, 1):
                for voice in staff.voices:
                    yield part, staff_number, staff, voice


# ---------------------------------------------------------------------------
# Planning the measures: meter, key, form

def _compose(rng, enabled: frozenset[str], form: str | None, n_measures: int | None) -> _Score:
    n = n_measures if n_measures is not None else _choose_measure_count(rng, enabled)
    measures = _plan_measures(rng, enabled, form, n)
    parts = _plan_parts(rng, enabled, measures)
    score = _Score(title=f"{_pick(rng, TITLE_ADJECTIVES)} {_pick(rng, TITLE_NOUNS)}",
                   measures=measures, parts=parts, enabled=enabled)
    score.seams = _seams(score)
    _write_music(rng, score)
    _add_expression(rng, score)
    return score


def _choose_measure_count(rng, enabled: frozenset[str]) -> int:
    low, high = _pick(rng, ((MIN_MEASURES, 8), (8, 17), (17, MAX_MEASURES + 1)), (0.15, 0.7, 0.15))
    n = int(rng.integers(low, high))
    busy = len(enabled & {"multi_rest", "key_change", "time_change", "clef_change", "rests",
                          "short_values", "omitted_rests", "tuplets_first_only"})
    return min(MAX_MEASURES, max(n, 6 + busy))


def _plan_measures(rng, enabled, form, n: int) -> list[_Measure]:
    meter = _choose_meter(rng, enabled, simple_only=bool(enabled & {"tuplets", "rests"}))
    fifths = _choose_fifths(rng, enabled)
    mode = "minor" if rng.random() < 0.3 else "major"
    symbol = None
    if (meter.beats, meter.beat_type) in {(4, 4), (2, 2)} and rng.random() < COMMON_TIME_PROBABILITY:
        symbol = "common" if meter.beats == 4 else "cut"
    measures = [_Measure(number=i, meter=meter, fifths=fifths, mode=mode) for i in range(1, n + 1)]
    if "pickup" in enabled:
        pickup = _Measure(number=0, meter=meter, fifths=fifths, mode=mode,
                          pickup_length=_pick(rng, _pickup_lengths(meter)), chord=DOMINANT)
        measures.insert(0, pickup)
    measures[0].show_time = measures[0].show_key = True
    measures[0].time_symbol = symbol
    first = 1 if "pickup" in enabled else 0   # index of measure number 1
    _place_form(rng, form, measures, first)
    measures[-1].cadence = True
    if measures[-1].right_style is None and not measures[-1].backward_repeat:
        measures[-1].right_style = "light-heavy"
    if "key_change" in enabled:
        _place_change(rng, measures, first, "key")
    if "time_change" in enabled:
        _place_change(rng, measures, first, "time", enabled=enabled)
    _place_harmony(rng, measures, first)
    return measures


def _choose_meter(rng, enabled, simple_only: bool, exclude: _Meter | None = None) -> _Meter:
    table = dict(SIMPLE_METERS)
    if "dots" in enabled and not simple_only:
        table.update(COMPOUND_METERS)
    if exclude is not None:
        table.pop((exclude.beats, exclude.beat_type), None)
    choices = list(table)
    return _Meter(*_pick(rng, choices, [table[c] for c in choices]))


def _choose_fifths(rng, enabled) -> int:
    if "accidentals" in enabled:  # keys where double sharps and flats come naturally
        size = int(rng.integers(MIN_DOUBLE_ACCIDENTAL_FIFTHS, FIFTHS_RANGE))
        return size if rng.random() < 0.5 else -size
    magnitude = _pick(rng, (0, 1, 2, 3, 4, 5), (3, 4, 3, 2, 1, 0.5))
    return magnitude if rng.random() < 0.5 else -magnitude


def _pickup_lengths(meter: _Meter) -> tuple[int, ...]:
    if meter.compound:
        return (QUARTER // 2, QUARTER) if meter.beats == 3 else (QUARTER // 2, QUARTER, DOTTED_QUARTER)
    if meter.length >= 3 * QUARTER:
        return QUARTER // 2, QUARTER, 2 * QUARTER
    return QUARTER // 2, QUARTER


def _place_form(rng, form: str | None, measures: list[_Measure], first: int) -> None:
    """Mark repeats, endings, segno, coda, Fine and D.C./D.S. on measure numbers 1..n."""
    n = len(measures) - first

    def m(number: int) -> _Measure:
        return measures[first + number - 1]

    half = max(2, n // 2)
    if form == "repeat":
        start, end = _pick(rng, ((1, half), (half + 1, n), (1, n)))
        if start > 1 or rng.random() < 0.5:
            m(start).forward_repeat = True
        m(end).backward_repeat = True
        m(end).cadence = True
    elif form == "volta":
        first_len = 2 if n >= 8 and rng.random() < 0.3 else 1
        second_len = 2 if n >= 8 and rng.random() < 0.3 else 1
        tail = 0 if n < 8 or rng.random() < 0.6 else 2
        second_end = n - tail
        first_start = second_end - second_len - first_len + 1
        start = 1 if first_start <= 3 or rng.random() < 0.6 else int(rng.integers(2, first_start - 1))
        if start > 1 or rng.random() < 0.5:
            m(start).forward_repeat = True
        m(first_start).ending_start = "1"
        last_of_first = m(first_start + first_len - 1)
        last_of_first.ending_stop = ("1", "stop")
        last_of_first.backward_repeat = True
        last_of_first.chord = DOMINANT
        m(second_end - second_len + 1).ending_start = "2"
        m(second_end).ending_stop = ("2", _pick(rng, ("stop", "discontinue")))
        m(second_end).cadence = True
        if tail:
            m(second_end).right_style = "light-light"
    elif form in ("dc_al_fine", "ds_al_fine"):
        segno = int(rng.integers(2, half + 1)) if form == "ds_al_fine" else None
        fine = max(half, segno or 0)
        if fine >= n:
            fine = n - 1
        if segno is not None:
            segno = min(segno, fine)
            _add_segno(m(segno))
        m(fine).end_directions.append(_Direction((("words", "Fine"),), sound=(("fine", "yes"),),
                                                 halign="right"))
        m(fine).right_style = "light-heavy"
        m(fine).cadence = True
        text = "D.C. al Fine" if form == "dc_al_fine" else "D.S. al Fine"
        m(n).end_directions.append(_jump_direction(text, form))
        m(n).chord = DOMINANT
    elif form in ("dc_al_coda", "ds_al_coda"):
        coda_len = 2 if n >= 8 and rng.random() < 0.5 else 1
        jump = n - coda_len
        segno = (2 if jump > 2 else 1) if form == "ds_al_coda" else None
        low = segno or 1
        to_coda = int(rng.integers(max(low, jump // 2), jump))
        if segno is not None:
            _add_segno(m(segno))
        # The coda sign gets its own direction: verovio then draws it with the music
        # font, rather than as a glyph inside the text.
        m(to_coda).end_directions += [
            _Direction((("words", "To Coda"),), sound=(("tocoda", CODA_ID),), halign="right"),
            _Direction((("coda",),))]
        text = "D.C. al Coda" if form == "dc_al_coda" else "D.S. al Coda"
        m(jump).end_directions.append(_jump_direction(text, form))
        m(jump).right_style = "light-light"
        m(jump).chord = DOMINANT
        m(jump + 1).start_directions.append(_Direction((("coda",),), sound=(("coda", CODA_ID),)))


def _add_segno(measure: _Measure) -> None:
    measure.start_directions.append(_Direction((("segno",),), sound=(("segno", SEGNO_ID),)))


def _jump_direction(text: str, form: str) -> _Direction:
    sound = ("dacapo", "yes") if form.startswith("dc") else ("dalsegno", SEGNO_ID)
    return _Direction((("words", text),), sound=(sound,), halign="right")


def _structural(measure: _Measure) -> bool:
    """Whether a measure carries part of the repeat structure."""
    return bool(measure.forward_repeat or measure.backward_repeat or measure.ending_start
                or measure.ending_stop or measure.start_directions or measure.end_directions)


def _in_ending(measures: list[_Measure], index: int) -> bool:
    open_ending = False
    for i, measure in enumerate(measures[:index + 1]):
        if measure.ending_start:
            open_ending = True
        if i == index:
            return open_ending
        if measure.ending_stop:
            open_ending = False
    return False


def _place_change(rng, measures: list[_Measure], first: int, what: str, enabled=frozenset()) -> None:
    """A key or time change at the start of a measure, after a double barline."""
    n = len(measures)
    candidates = [i for i in range(first + 1, n - 1)
                  if not _in_ending(measures, i) and not measures[i].show_key
                  and not measures[i].show_time]
    if not candidates:
        candidates = [i for i in range(first + 1, n) if not measures[i].show_key
                      and not measures[i].show_time]
    index = _pick(rng, candidates)
    if what == "key":
        old = measures[index].fifths
        options = [f for f in (old - 3, old - 1, old + 1, old + 3) if abs(f) <= FIFTHS_RANGE]
        fifths = _pick(rng, options)
        for measure in measures[index:]:
            measure.fifths = fifths
        measures[index].show_key = True
    else:
        old = measures[index].meter
        meter = _choose_meter(rng, enabled, simple_only=bool(enabled & {"tuplets", "rests"}),
                              exclude=old)
        for measure in measures[index:]:
            measure.meter = meter
        measures[index].show_time = True
    previous = measures[index - 1]
    if previous.right_style is None and not previous.backward_repeat:
        previous.right_style = "light-light"


def _place_harmony(rng, measures: list[_Measure], first: int) -> None:
    """A chord per measure: progressions in phrases, cadences on the tonic."""
    progression = _pick(rng, PROGRESSIONS)
    for i, measure in enumerate(measures[first:]):
        if i % PHRASE_LENGTH == 0:
            progression = _pick(rng, PROGRESSIONS)
        if measure.chord == DOMINANT and (measure.end_directions or measure.backward_repeat):
            continue  # a half cadence set by the form
        measure.chord = progression[i % PHRASE_LENGTH]
    measures[-1].chord = TONIC
    if len(measures) - first > 1 and measures[-2].chord != DOMINANT and not measures[-2].pickup_length:
        measures[-2].chord = DOMINANT
    for measure in measures:
        if measure.cadence and not measure.end_directions and not measure.backward_repeat:
            measure.chord = TONIC


# ---------------------------------------------------------------------------
# Planning the parts, and what goes where

def _plan_parts(rng, enabled, measures: list[_Measure]) -> list[_Part]:
    n = len(measures)
    first = 1 if measures[0].pickup_length else 0
    change_at = None
    if "clef_change" in enabled:
        change_at = int(rng.integers(first + 1, n - 1)) if n - 1 > first + 1 else first + 1
    parts: list[_Part] = []
    if "grand_staff" in enabled:
        if "voice_piano" in enabled:
            name, clef, program, _ = _choose_solo(rng, enabled, SINGERS, may_change_clef=False)
            parts.append(_Part("P1", name, program, [_Staff({0: clef})], singer=True))
        upper = _Staff({0: "treble"})
        lower = _Staff({0: "bass"})
        if change_at is not None:
            lower.clefs[change_at] = PIANO_LOWER_CLEF_CHANGE
            if change_at + 2 < n - 1:
                lower.clefs[change_at + 2] = "bass"
        parts.append(_Part(f"P{len(parts) + 1}", "Piano", PIANO_PROGRAM, [upper, lower]))
    else:
        singer = "lyrics" in enabled
        if singer:
            table = SINGERS
        else:  # unusual clefs: an instrument, or a singer's vocalise
            table = SOLO_INSTRUMENTS + (SINGERS if "clefs" in enabled else ())
        name, clef, program, partner = _choose_solo(rng, enabled, table,
                                                    may_change_clef=change_at is not None)
        staff = _Staff({0: clef})
        if change_at is not None:
            staff.clefs[change_at] = partner
            if change_at + 2 < n - 1 and rng.random() < 0.5:
                staff.clefs[change_at + 2] = clef
        parts.append(_Part("P1", name, program, [staff], singer=singer))
    _assign_voices(enabled, parts, len(measures))
    _plan_measure_duties(rng, enabled, parts, measures)
    return parts


def _choose_solo(rng, enabled, table, may_change_clef: bool):
    """(name, clef, MIDI program, clef it may change to) of an instrument or singer."""
    options = [i for i in table if (i[1] not in COMMON_CLEFS) == ("clefs" in enabled)]
    if may_change_clef:
        options = [i for i in options if i[3] is not None]
    if "chords" in enabled:
        options = [i for i in options if i[0] in CHORD_INSTRUMENTS] or options
    return _pick(rng, options)


def _assign_voices(enabled, parts: list[_Part], n: int) -> None:
    """Voice 1 on every staff; voice 2 under the melody for two voices; 5 on the left hand."""
    empty = [None] * n
    piano = parts[-1] if parts[-1].name == "Piano" else None
    for part in parts:
        if part is piano:
            upper, lower = part.staves
            kind = "melody" if len(parts) == 1 or "two_voices" in enabled else "accompaniment"
            upper.voices.append(_Voice(1, kind, list(empty), lead=len(parts) == 1))
            lower.voices.append(_Voice(5, "accompaniment", list(empty)))
        else:
            part.staves[0].voices.append(_Voice(1, "melody", list(empty), lead=True))
    if "two_voices" in enabled:
        staff = piano.staves[0] if piano is not None else parts[0].staves[0]
        staff.voices.append(_Voice(2, "lower", list(empty)))


def _lead(parts: list[_Part]) -> _Voice:
    return next(v for p in parts for s in p.staves for v in s.voices if v.lead)


def _plan_measure_duties(rng, enabled, parts, measures: list[_Measure]) -> None:
    """Which measures hold a multi-measure rest, required cells, two voices, omitted rests."""
    n = len(measures)
    first = 1 if measures[0].pickup_length else 0
    clef_changes = {i for p in parts for s in p.staves for i in s.clefs if i > 0}

    def plain(i: int) -> bool:
        mm = measures[i]
        return not (_structural(mm) or mm.show_key or mm.show_time or mm.pickup_length
                    or i in clef_changes or mm.cadence or i == n - 1)

    if "multi_rest" in enabled:
        runs = [(start, length) for length in (4, 3, 2) for start in range(first, n)
                if start + length <= n - 1 and all(plain(i) for i in range(start, start + length))
                and not _in_ending(measures, start)]
        if not runs:
            raise _NoRoom(f"{n - first} measures are too few for a multi-measure rest "
                             f"with these features")
        longest = max(r[1] for r in runs)
        start, length = _pick(rng, [r for r in runs if r[1] == longest])
        for i in range(start, start + length):
            measures[i].resting = True
        measures[start].multi_rest = length

    free = [i for i in range(first, n) if not measures[i].resting]
    if "rests" in enabled:
        options = [i for i in free if not measures[i].cadence and i != n - 1] or free
        measures[_pick(rng, options)].whole_rest = True
    _place_required_cells(rng, enabled, measures, [i for i in free if not measures[i].whole_rest])

    if "two_voices" in enabled:
        playing = [i for i in free if not measures[i].whole_rest]
        if rng.random() < 0.5 or len(playing) < 4:
            chosen = playing
        else:
            start = int(rng.integers(0, len(playing) - 2))
            chosen = playing[start:start + int(rng.integers(2, len(playing) - start + 1))]
        for i in chosen:
            measures[i].two_voices = True

    if "omitted_rests" in enabled:
        has_lower = any(len(s.voices) > 1 for p in parts for s in p.staves)
        has_accompaniment = any(v.kind == "accompaniment" for p in parts for s in p.staves
                                for v in s.voices)
        if has_lower:
            target = "lower"
            options = [i for i in free if measures[i].two_voices]
        elif has_accompaniment:
            target = "accompaniment"
            options = [i for i in free if not measures[i].cadence]
        else:
            target = "melody"
            options = [i for i in free if not measures[i].required and not measures[i].whole_rest
                       and measures[i].meter.cell_beats > 1]
        for i in _choose_some(rng, options, OMITTED_REST_SHARE, force=True):
            measures[i].omit_rests = target


def _place_required_cells(rng, enabled, measures: list[_Measure], candidates: list[int]) -> None:
    """Put the rhythm cells that guarantee features into measures of the lead melody."""
    room = {i: measures[i].meter.cell_beats for i in candidates}  # free cell beats
    kinds_present = {measures[i].meter.kind for i in candidates}
    for feature, by_kind in REQUIRED_CELLS.items():
        if feature not in enabled:
            continue
        if feature == "dots" and "compound" in kinds_present:
            continue  # compound meters are full of dotted notes already
        kind = next((k for k in by_kind if k in kinds_present), None)
        if kind is None:
            raise _NoRoom(f"{feature!r} needs a {' or '.join(by_kind)} meter")
        for patterns in by_kind[kind]:
            group = tuple(_cell(p) for p in patterns)
            length = sum(c.duration for c in group)
            options = [i for i in candidates if measures[i].meter.kind == kind
                       and room[i] * measures[i].meter.cell_length >= length
                       and _group_fits(group, measures[i].meter)]
            if not options:
                raise _NoRoom(f"too few measures for {feature!r} with these features")
            # Prefer measures with nothing required yet and no cadence to end them.
            preferred = [i for i in options if not measures[i].required and not measures[i].cadence]
            index = _pick(rng, preferred or options)
            measures[index].required.append(group)
            room[index] -= length // measures[index].meter.cell_length
            if feature.startswith("tuplets"):
                measures[index].tuplet_mode = feature.removeprefix("tuplets_")
    if "tuplets_first_only" in enabled and "tuplets_all" not in enabled:
        for measure in measures:
            measure.tuplet_mode = "first_only"


def _group_fits(group: tuple[_Cell, ...], meter: _Meter) -> bool:
    """Cells fit a meter; a lone rest never fills a measure (that is a measure rest)."""
    return all(c.duration % meter.cell_length == 0 and c.duration <= meter.length
               and not (_lone_rest(c) and c.duration == meter.length) for c in group)


def _lone_rest(cell: _Cell) -> bool:
    return len(cell.tokens) == 1 and cell.tokens[0].rest


def _seams(score: _Score) -> list[bool]:
    """seams[i] is True when ties, slurs and hairpins may run from measure i into i + 1."""
    measures = score.measures
    clef_changes = {i for p in score.parts for s in p.staves for i in s.clefs if i > 0}
    seams = []
    for i, measure in enumerate(measures[:-1]):
        after = measures[i + 1]
        seams.append(not (measure.right_style or measure.backward_repeat or measure.ending_stop
                          or measure.end_directions or after.forward_repeat or after.ending_start
                          or after.start_directions or after.show_key or after.show_time
                          or i + 1 in clef_changes or measure.resting or after.resting))
    seams.append(False)
    return seams


# ---------------------------------------------------------------------------
# Rhythm

def _palette(kind: str, meter: _Meter, enabled) -> list[_Cell]:
    return [c for c in CELL_TABLES[(kind, meter.kind)]
            if all(need in enabled for need in c.needs) and c.duration <= meter.length
            and not (_lone_rest(c) and c.duration == meter.length)]


def _cell_may_start(cell: _Cell, beat: int, meter: _Meter) -> bool:
    """Long cells start on strong beats (a half note may start on beat 2 of 3/4)."""
    span = cell.duration // meter.cell_length
    if span <= 1:
        return True
    if beat % span == 0:
        return True
    return meter.cell_beats == 3 and span == 2 and beat == 1 and not cell.tokens[0].rest


def _fill(rng, meter: _Meter, beats: int, palette: list[_Cell],
          required: Sequence[_Cell] = (), end: _Cell | None = None) -> list[_Cell]:
    """Cells that fill ``beats`` cell beats, the required ones (and ``end`` last) included."""
    unit = meter.cell_length
    slots: list[_Cell | None] = [None] * beats
    covered = [False] * beats

    def place(cell: _Cell, start: int) -> None:
        slots[start] = cell
        for b in range(start, start + cell.duration // unit):
            covered[b] = True

    if end is not None:
        place(end, beats - end.duration // unit)
    for cell in sorted(required, key=lambda c: -c.duration):  # long cells first: they are pickier
        span = cell.duration // unit
        starts = [b for b in range(beats - span + 1)
                  if not any(covered[b:b + span]) and _cell_may_start(cell, b, meter)]
        if not starts:
            raise _NoRoom(f"no room for {cell.pattern!r} in a measure of {meter.beats}/{meter.beat_type}")
        place(cell, _pick(rng, starts))
    beat = 0
    while beat < beats:
        if slots[beat] is not None:
            beat += slots[beat].duration // unit
            continue
        gap = next((b for b in range(beat, beats) if covered[b]), beats) - beat
        options = [c for c in palette if c.duration // unit <= gap and c.duration % unit == 0
                   and _cell_may_start(c, beat, meter)]
        place(_pick(rng, options, [c.weight for c in options]), beat)
        beat += slots[beat].duration // unit
    return [c for c in slots if c is not None]


class _CellCounter:
    """Hands out rhythm cell ids, unique within a voice."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> int:
        self.next += 1
        return self.next


def _events_from_cells(cells: Sequence[_Cell], offset: int, new_cell: _CellCounter,
                       tuplet_mode: str = "all") -> list[_Event]:
    """Turn rhythm cells into events with beams and tuplet marks."""
    events: list[_Event] = []
    tuplet_groups = 0
    for cell in cells:
        cell_id = new_cell()
        cell_events = []
        for token in cell.tokens:
            event = _Event(offset=offset, duration=token.duration, note_type=token.note_type,
                           dots=token.dots, cell=cell_id, triplet=token.triplet)
            if token.rest:
                event.pitches = []
            else:
                event.pitches = [_Pitch(0)]  # a placeholder until pitches are chosen
            cell_events.append(event)
            offset += token.duration
        triplets = [e for e in cell_events if e.triplet]
        if triplets:
            tuplet_groups += 1
            printed = tuplet_mode == "all" or tuplet_groups == 1
            triplets[0].tuplet_start = triplets[-1].tuplet_stop = True
            for e in triplets:
                e.tuplet_printed = printed
                e.tuplet_bracket = triplets[0].note_type not in BEAM_LEVELS
        events.extend(cell_events)
    _beam(events)
    return events


def _beam(events: list[_Event]) -> None:
    """Beam consecutive eighths and shorter within each rhythm cell."""
    group: list[_Event] = []
    for event in [*events, None]:
        beamable = event is not None and not event.is_rest and event.note_type in BEAM_LEVELS
        if beamable and (not group or group[-1].cell == event.cell):
            group.append(event)
            continue
        if len(group) > 1:
            for member, beams in zip(group, _beam_values([e.note_type for e in group])):
                member.beams = beams
        group = [event] if beamable else []


def _beam_values(note_types: Sequence[str]) -> list[list[str]]:
    """Beam values of a beamed group, level by level: begin/continue/end, hooks."""
    return beam_values([BEAM_LEVELS[t] for t in note_types])


def _rests(offset: int, length: int, meter: _Meter, hidden: bool = False) -> list[_Event]:
    """Rests filling a gap, each aligned to its own value."""
    values = [NOTE_TYPES[t] for t in ("half", "quarter", "eighth", "16th", "32nd", "64th")]
    if meter.compound:
        values = [2 * DOTTED_QUARTER, DOTTED_QUARTER] + values[2:]
    events = []
    end = offset + length
    while offset < end:
        value = next(v for v in values if v <= end - offset and offset % v == 0)
        note_type, dots = _type_of(value)
        events.append(_Event(offset=offset, duration=value, note_type=note_type, dots=dots,
                             hidden=hidden))
        offset += value
    return events


def _type_of(duration: int) -> tuple[str, int]:
    for note_type, value in NOTE_TYPES.items():
        for dots in (0, 1):
            if _duration(note_type, dots) == duration:
                return note_type, dots
    raise ValueError(f"no single note value lasts {duration} divisions")


def _measure_rest(measure: _Measure) -> list[_Event]:
    return [_Event(offset=0, duration=measure.length, note_type=None)]


# ---------------------------------------------------------------------------
# Writing the music of every voice

def _write_music(rng, score: _Score) -> None:
    enabled = score.enabled
    for part, _, staff, voice in score.voices():
        if voice.kind == "melody":
            _melody_rhythm(rng, score, voice)
        elif voice.kind == "lower":
            _lower_rhythm(rng, score, voice)
    lead = _lead(score.parts)
    for part, _, staff, voice in score.voices():
        if voice.kind == "melody":
            _melody_pitches(rng, score, staff, voice)
            if "chords" in enabled and not part.singer:
                _add_chord_notes(rng, score, staff, voice, force=voice is lead or
                                 not any(v.kind == "accompaniment" for *_, v in score.voices()))
            if "accidentals" in enabled:
                _add_chromatic_notes(rng, score, voice, force=voice is lead)
            if "ties" in enabled:
                _add_ties(rng, score, voice, force=voice is lead)
            if "courtesy_accidentals" in enabled and voice is lead:
                _prepare_courtesy(rng, score, voice)
    for part, _, staff, voice in score.voices():
        if voice.kind == "lower":
            upper = staff.voices[0]
            _lower_pitches(rng, score, staff, voice, upper)
        elif voice.kind == "accompaniment":
            _accompaniment(rng, score, part, staff, voice)
    if "grace_notes" in enabled:
        _add_grace_notes(rng, score, lead)
    for part in score.parts:
        for staff in part.staves:
            _spell_accidentals(rng, score, staff)
    # music21 keeps parentheses but not cautionary="yes": parenthesize at least one.
    courtesy = [p for *_, v in score.voices() for events in v.measures if events
                for e in events for p in e.graces + e.pitches if p.cautionary]
    if courtesy and not any(p.parentheses for p in courtesy):
        courtesy[0].parentheses = True


def _melody_rhythm(rng, score: _Score, voice: _Voice) -> None:
    enabled = score.enabled
    new_cell = _CellCounter()
    for i, measure in enumerate(score.measures):
        meter = measure.meter
        if measure.resting or (voice.lead and measure.whole_rest):
            voice.measures[i] = _measure_rest(measure)
            continue
        if measure.pickup_length:
            pattern = _pick(rng, PICKUP_PATTERNS[measure.pickup_length])
            voice.measures[i] = _events_from_cells([_cell(pattern)], 0, new_cell)
            continue
        palette = _palette("melody", meter, enabled)
        required = [c for group in measure.required for c in group] if voice.lead else []
        beats = meter.cell_beats
        partial = voice.lead and measure.omit_rests == "melody"
        if partial:
            beats = max(1, beats // 2) if beats > 2 else beats - 1
        end = None
        if measure.cadence and not partial and not required:
            ends = [c for c in _palette("cadence", meter, enabled)
                    if _cell_may_start(c, beats - c.duration // meter.cell_length, meter)]
            end = _pick(rng, ends, [c.weight for c in ends])
        cells = _fill(rng, meter, beats, palette, required, end)
        events = _events_from_cells(cells, 0, new_cell, measure.tuplet_mode)
        if partial:
            filled = beats * meter.cell_length
            events += _rests(filled, meter.length - filled, meter, hidden=True)
        voice.measures[i] = events


def _lower_rhythm(rng, score: _Score, voice: _Voice) -> None:
    new_cell = _CellCounter()
    for i, measure in enumerate(score.measures):
        if not measure.two_voices:
            continue
        meter = measure.meter
        palette = _palette("lower", meter, score.enabled)
        if measure.omit_rests == "lower":
            beats = max(1, meter.cell_beats // 2)
            cells = _fill(rng, meter, beats, palette)
            played = beats * meter.cell_length
            if rng.random() < 0.7:   # notes first, the rest left out
                events = _events_from_cells(cells, 0, new_cell)
                events += _rests(played, meter.length - played, meter, hidden=True)
            else:                    # the voice comes in late
                events = _rests(0, meter.length - played, meter, hidden=True)
                events += _events_from_cells(cells, meter.length - played, new_cell)
        else:
            events = _events_from_cells(_fill(rng, meter, meter.cell_beats, palette), 0, new_cell)
        voice.measures[i] = events


def _range(staff: _Staff, index: int, span: tuple[int, int]) -> tuple[int, int]:
    middle = _clef_middle(staff.clef_at(index))
    return middle + span[0], middle + span[1]


def _chord_tones(measure: _Measure) -> set[int]:
    """Steps (0..6) of the notes of the measure's chord."""
    root = _tonic_step(*measure.key) + measure.chord
    return {(root + k) % OCTAVE for k in (0, 2, 4)}


def _scale_alter(degree: int, measure: _Measure, enabled) -> int:
    """Alteration from the key, raising the leading tone over a dominant in minor."""
    step = degree % OCTAVE
    alter = _key_alter(step, measure.fifths)
    leading = (_tonic_step(*measure.key) + LEADING_TONE) % OCTAVE
    if (measure.mode == "minor" and "accidentals" in enabled and step == leading
            and measure.chord in (DOMINANT, LEADING_TONE)):
        alter += 1
    return alter


def _nearest(candidates: Iterable[int], target: int) -> int:
    return min(candidates, key=lambda d: (abs(d - target), d))


def _notes(events: Iterable[_Event]) -> list[_Event]:
    return [e for e in events if not e.is_rest]


def _melody_pitches(rng, score: _Score, staff: _Staff, voice: _Voice) -> None:
    """A mostly stepwise line that leans on chord tones and ends on the tonic."""
    previous = None
    move = 0
    for i, measure in enumerate(score.measures):
        events = voice.measures[i]
        if events is None:
            continue
        low, high = _range(staff, i, MELODY_RANGE)
        if measure.two_voices and len(staff.voices) > 1:
            low = max(low, _clef_middle(staff.clef_at(i)) + UPPER_VOICE_LOW)
        chord = _chord_tones(measure)
        notes = _notes(events)
        for k, event in enumerate(notes):
            strong = event.offset % measure.meter.cell_length == 0
            if previous is None:
                degree = _nearest([d for d in range(low, high + 1) if d % OCTAVE in chord],
                                  (low + high) // 2)
            else:
                if abs(move) >= 3:   # after a leap, step back
                    move = -int(np.sign(move))
                else:
                    move = int(_pick(rng, MELODIC_MOVES, MELODIC_MOVE_WEIGHTS))
                degree = previous + move
                if strong and degree % OCTAVE not in chord:
                    degree = _nearest([d for d in (degree - 1, degree + 1) if d % OCTAVE in chord],
                                      degree + int(np.sign(move)))
            while degree < low:
                degree += OCTAVE if degree + OCTAVE <= high else 2
            while degree > high:
                degree -= OCTAVE if degree - OCTAVE >= low else 2
            if measure.cadence and k == len(notes) - 1:
                root = (_tonic_step(*measure.key) + measure.chord) % OCTAVE
                degree = _nearest([d for d in range(low, high + 1) if d % OCTAVE == root], degree)
            if previous is not None:
                move = degree - previous
            event.pitches = [_Pitch(degree, _scale_alter(degree, measure, score.enabled))]
            previous = degree


def _add_chord_notes(rng, score: _Score, staff: _Staff, voice: _Voice, force: bool) -> None:
    """Thirds, sixths or triads under melody notes (double stops, piano chords)."""
    candidates = []
    for i, measure in enumerate(score.measures):
        if voice.measures[i] is None or (measure.two_voices and len(staff.voices) > 1):
            continue
        candidates += [(i, e) for e in _notes(voice.measures[i])]
    for i, event in _choose_some(rng, candidates, CHORD_NOTE_PROBABILITY, force):
        measure = score.measures[i]
        top = event.pitches[0].degree
        chord = _chord_tones(measure)
        below = [d for d in range(top - 5, top - 1) if d % OCTAVE in chord] or [top - 2]
        added = [_nearest(below, top - 2)]
        if rng.random() < TRIAD_PROBABILITY:
            lower = [d for d in range(added[0] - 3, added[0] - 1) if d % OCTAVE in chord]
            added += lower[-1:]
        event.pitches += [_Pitch(d, _scale_alter(d, measure, score.enabled)) for d in added]


def _voice_sequence(score: _Score, voice: _Voice) -> list[tuple[int, _Event]]:
    return [(i, e) for i, events in enumerate(voice.measures) if events for e in events]


def _neighbours(score: _Score, voice: _Voice):
    """Consecutive (measure, event) pairs of a voice that are both notes, across plain seams."""
    sequence = _voice_sequence(score, voice)
    for (i, a), (j, b) in zip(sequence, sequence[1:]):
        if a.is_rest or b.is_rest or a.hidden or b.hidden:
            continue
        if i != j and (j != i + 1 or not score.seams[i]):
            continue
        yield (i, a), (j, b)


def _add_chromatic_notes(rng, score: _Score, voice: _Voice, force: bool) -> None:
    """Chromatic approach notes: raise a note that steps up, lower one that steps down."""
    candidates = []
    doubles = []
    for (i, a), (_, b) in _neighbours(score, voice):
        if len(a.pitches) != 1:
            continue
        move = b.pitches[0].degree - a.pitches[0].degree
        if abs(move) == 1:
            candidates.append((a, move))
            key_alter = _key_alter(a.pitches[0].step, score.measures[i].fifths)
            if key_alter == move:   # a sharp raised again, a flat lowered again
                doubles.append((a, move))
    chosen = _choose_some(rng, candidates, CHROMATIC_PROBABILITY, force)
    if force and doubles:
        chosen.append(_pick(rng, doubles))
    for event, move in chosen:
        pitch = event.pitches[0]
        pitch.alter = int(np.clip(pitch.alter + move, -MAX_ALTER, MAX_ALTER))


def _add_ties(rng, score: _Score, voice: _Voice, force: bool) -> None:
    """Tie notes to the next one, preferably across the barline or a beat."""
    # No ties on triplets: music21's exporter merges tied notes inside a triplet.
    candidates = [(a, b) for (i, a), (j, b) in _neighbours(score, voice)
                  if not (a.tie_start or a.tie_stop or b.tie_start or a.triplet or b.triplet)]
    across = [c for c in candidates if c[1].offset == 0]
    chosen = _choose_some(rng, across, 2 * TIE_PROBABILITY, force=False)
    chosen += _choose_some(rng, candidates, TIE_PROBABILITY, force=force and not chosen)
    for a, b in chosen:
        if a.tie_start or a.tie_stop or b.tie_start or b.tie_stop:
            continue
        a.tie_start = b.tie_stop = True
        b.pitches = copy.deepcopy(a.pitches)


def _prepare_courtesy(rng, score: _Score, voice: _Voice) -> None:
    """An altered note at the end of a measure, the plain note after the barline."""
    candidates = [(a, b) for (i, a), (j, b) in _neighbours(score, voice)
                  if j == i + 1 and len(a.pitches) == 1 and len(b.pitches) == 1
                  and not (a.tie_start or a.tie_stop or b.tie_start or b.tie_stop)
                  and b is _notes(voice.measures[j])[0]
                  and a is _notes(voice.measures[i])[-1]
                  and score.measures[i].fifths == score.measures[j].fifths]
    if not candidates:
        return
    a, b = _pick(rng, candidates)
    degree = a.pitches[0].degree
    plain = _key_alter(degree % OCTAVE, score.measures[_measure_of(score, voice, b)].fifths)
    b.pitches = [_Pitch(degree, plain)]
    a.pitches[0].alter = plain + 1 if plain < 1 else plain - 1


def _measure_of(score: _Score, voice: _Voice, event: _Event) -> int:
    return next(i for i, e in _voice_sequence(score, voice) if e is event)


def _lower_pitches(rng, score: _Score, staff: _Staff, voice: _Voice, upper: _Voice) -> None:
    """Chord tones under the upper voice, moving as little as possible."""
    previous = None
    for i, measure in enumerate(score.measures):
        events = voice.measures[i]
        if events is None:
            continue
        low, high = _range(staff, i, LOWER_VOICE_RANGE)
        chord = _chord_tones(measure)
        above = upper.measures[i] or []
        for event in _notes(events):
            end = event.offset + event.duration
            overlapping = [p.degree for u in _notes(above)
                           if u.offset < end and event.offset < u.offset + u.duration
                           for p in u.pitches]
            ceiling = min([high, *[d - 2 for d in overlapping]])
            options = [d for d in range(low, ceiling + 1) if d % OCTAVE in chord] or [min(ceiling, low)]
            degree = _nearest(options, previous if previous is not None else ceiling - 2)
            event.pitches = [_Pitch(degree, _scale_alter(degree, measure, score.enabled))]
            previous = degree


def _accompaniment(rng, score: _Score, part: _Part, staff: _Staff, voice: _Voice) -> None:
    """Block chords, oom-pah, Alberti bass or broken chords from the harmony."""
    enabled = score.enabled
    lower_staff = staff is part.staves[-1]
    under_singer = len(score.parts) > 1
    new_cell = _CellCounter()
    pattern_name = None
    for i, measure in enumerate(score.measures):
        meter = measure.meter
        if measure.resting:
            voice.measures[i] = _measure_rest(measure)
            continue
        if measure.pickup_length:
            voice.measures[i] = _rests(0, measure.length, meter)
            continue
        table = ACCOMPANIMENT_COMPOUND if meter.compound else ACCOMPANIMENT_SIMPLE
        if pattern_name is None or pattern_name not in table or i % PHRASE_LENGTH == 0:
            names = [n for n in table if n not in ACCOMPANIMENT_NEEDS or ACCOMPANIMENT_NEEDS[n] in enabled]
            if under_singer:
                allowed = LOWER_ACCOMPANIMENT_UNDER_SINGER if lower_staff else UPPER_ACCOMPANIMENT
                names = [n for n in names if n in allowed] or names
            pattern_name = _pick(rng, names)
        name = "held" if measure.cadence else pattern_name
        if name == "held" and not _single_value_exists(meter.length, enabled):
            name = "block"
        played = meter.length
        if measure.omit_rests == "accompaniment" and lower_staff:
            played = max(meter.cell_length, (meter.cell_beats // 2) * meter.cell_length)
            name = "block" if name == "held" else name
        events = _pattern_events(table[name], meter, played, new_cell)
        if played < meter.length:
            events += _rests(played, meter.length - played, meter, hidden=True)
        _pitch_roles(events, measure, staff, i, enabled, with_bass=lower_staff)
        voice.measures[i] = events


def _single_value_exists(length: int, enabled) -> bool:
    try:
        _, dots = _type_of(length)
    except ValueError:
        return False
    return dots == 0 or "dots" in enabled


def _pattern_events(pattern: tuple[str, ...], meter: _Meter, length: int,
                    new_cell: _CellCounter) -> list[_Event]:
    """Events of an accompaniment pattern, one pattern cell per beat, cycling."""
    events: list[_Event] = []
    offset = 0
    k = 0
    while offset < length:
        cell_text = pattern[k % len(pattern)]
        k += 1
        tokens = []
        for item in cell_text.split():
            value, _, role = item.partition(":")
            if value == "measure":
                note_type, dots = _type_of(length - offset)
                tokens.append((_Token(note_type, dots, False, False), role))
            else:
                tokens.append((_parse_token(value), role))
        cell_length = sum(t.duration for t, _ in tokens)
        if offset + cell_length > length:   # e.g. a half note in the last beat of 3/4
            tokens = [(_parse_token("4." if meter.compound else "4"), "chord")]
            cell_length = tokens[0][0].duration
            if offset + cell_length > length:
                tokens = [(_Token(*_type_of(length - offset), False, False), "chord")]
                cell_length = length - offset
        cell_id = new_cell()
        for token, role in tokens:
            event = _Event(offset=offset, duration=token.duration, note_type=token.note_type,
                           dots=token.dots, cell=cell_id, role=role)
            event.pitches = [] if token.rest else [_Pitch(0)]
            events.append(event)
            offset += token.duration
    _beam(events)
    return events


def _pitch_roles(events, measure: _Measure, staff: _Staff, index: int, enabled,
                 with_bass: bool) -> None:
    """Give accompaniment events the pitches their roles ask for (bass, chord, ...)."""
    middle = _clef_middle(staff.clef_at(index))
    root = (_tonic_step(*measure.key) + measure.chord) % OCTAVE
    tones = _chord_tones(measure)
    floor = middle + CHORD_TONE_FLOOR
    start = next(d for d in range(floor, floor + OCTAVE) if d % OCTAVE in tones)
    triad = [start]
    while len(triad) < 3:
        triad.append(next(d for d in range(triad[-1] + 1, triad[-1] + OCTAVE) if d % OCTAVE in tones))
    bass_note = next(d for d in range(middle + BASS_FLOOR, middle + BASS_FLOOR + OCTAVE)
                     if d % OCTAVE == root)
    if not with_bass:   # the right hand: its "bass" is the lowest note of the chord
        bass_note = triad[0]
    chords = "chords" in enabled
    roles = {
        "bass": [bass_note],
        "full": ([bass_note, *[d for d in triad if d > bass_note][-2:]] if chords else [bass_note]),
        "chord": triad if chords else [triad[1]],
        "low": [triad[0]], "mid": [triad[1]], "high": [triad[2]],
    }
    for event in events:
        if event.is_rest:
            continue
        degrees = sorted(set(roles[event.role]), reverse=True)
        event.pitches = [_Pitch(d, _scale_alter(d, measure, enabled)) for d in degrees]


def _add_grace_notes(rng, score: _Score, voice: _Voice) -> None:
    """Acciaccaturas (slashed eighths) and two-note slides (beamed sixteenths)."""
    candidates = []
    for i, events in enumerate(voice.measures):
        for event in _notes(events or []):
            if len(event.pitches) == 1 and not event.tie_stop and not event.triplet \
                    and event.duration >= NOTE_TYPES["eighth"]:
                candidates.append((i, event))
    for i, event in _choose_some(rng, candidates, GRACE_PROBABILITY, force=True):
        measure = score.measures[i]
        main = event.pitches[0].degree
        if rng.random() < 0.6:
            degrees = [main + _pick(rng, (-1, 1))]
        else:
            degrees = [main - 2, main - 1]
        event.graces = [_Pitch(d, _scale_alter(d, measure, score.enabled)) for d in degrees]


def _spell_accidentals(rng, score: _Score, staff: _Staff) -> None:
    """Print accidentals where the key and earlier notes in the measure don't imply them.

    An accidental holds for its pitch to the end of the measure; a tie carries it
    over the barline.  With courtesy accidentals on, a note after the barline that
    returns to the key's alteration gets a cautionary accidental.
    """
    courtesy = "courtesy_accidentals" in score.enabled
    carried: dict[tuple[int, int], int] = {}
    for i, measure in enumerate(score.measures):
        timeline = []
        for order, voice in enumerate(staff.voices):
            for event in voice.measures[i] or []:
                for grace in event.graces:
                    timeline.append((event.offset, order, 0, grace, False))
                for pitch in event.pitches:
                    timeline.append((event.offset, order, 1, pitch, event.tie_stop))
        timeline.sort(key=lambda item: item[:3])
        memory: dict[tuple[int, int], int] = {}
        for offset, _, _, pitch, tied_over in timeline:
            place = (pitch.step, pitch.octave)
            expected = memory.get(place, _key_alter(pitch.step, measure.fifths))
            if tied_over:
                continue
            if pitch.alter != expected:
                pitch.accidental = ACCIDENTAL_NAMES[pitch.alter]
                memory[place] = pitch.alter
            elif courtesy and place in carried and carried[place] != pitch.alter \
                    and place not in memory:
                pitch.accidental = ACCIDENTAL_NAMES[pitch.alter]
                pitch.cautionary = True
                pitch.parentheses = rng.random() < PARENTHESES_PROBABILITY
                memory[place] = pitch.alter
            else:
                memory.setdefault(place, pitch.alter)
        carried = {p: a for p, a in memory.items() if a != _key_alter(p[0], measure.fifths)}


# ---------------------------------------------------------------------------
# Decorations: flags, arpeggios, fingering (DECORATIONS)

def _decorate(rng, score: _Score, wanted: frozenset[str]) -> None:
    """Lay the decorations over a composed score (forced on the lead where asked)."""
    lead = _lead(score.parts)
    if "flags" in wanted:
        _unbeam(score, _flagged_voice(score, lead))
    if "arpeggios" in wanted:
        chords = [e for *_, v in score.voices() for events in v.measures if events
                  for e in events if len(e.pitches) > 1 and not e.hidden]
        for event in _choose_some(rng, chords, ARPEGGIO_PROBABILITY, force=True):
            event.arpeggio = True
    if "fingering" in wanted:
        notes = [e for _, e in _plain_notes(score, lead)]
        for event in _choose_some(rng, notes, FINGERING_PROBABILITY, force=True):
            event.fingering = _pick(rng, FINGERS)


def _flagged_voice(score: _Score, lead: _Voice) -> _Voice:
    """The singer's melody where there is one (vocal music is where flags are), else the lead."""
    for part, _, _, voice in score.voices():
        if part.singer and voice.kind == "melody":
            return voice
    return lead


def _unbeam(score: _Score, voice: _Voice) -> None:
    """Every note of the voice with its own flag; triplets then need a bracket."""
    for _, event in _voice_sequence(score, voice):
        if event.beams:
            event.beams = []
            event.unbeamed = True
        if event.triplet:
            event.tuplet_bracket = True


# ---------------------------------------------------------------------------
# Expression: dynamics, hairpins, articulations, slurs, fermatas, lyrics, tempo

def _add_expression(rng, score: _Score) -> None:
    enabled = score.enabled
    lead = _lead(score.parts)
    melodies = [v for *_, v in score.voices() if v.kind == "melody"]
    if "articulations" in enabled:
        for voice in melodies:
            _add_articulations(rng, score, voice, force=voice is lead)
    if "slurs" in enabled:
        for voice in melodies:
            _add_slurs(rng, score, voice, force=voice is lead)
    if "fermata" in enabled:
        _add_fermatas(score)
    if "dynamics" in enabled:
        _add_dynamics(rng, score)
    if "hairpins" in enabled:
        _add_hairpins(rng, score, lead)
    if "lyrics" in enabled:
        _add_lyrics(rng, score, lead)
    if "tempo" in enabled:
        _add_tempo(rng, score)


def _plain_notes(score: _Score, voice: _Voice) -> list[tuple[int, _Event]]:
    return [(i, e) for i, e in _voice_sequence(score, voice)
            if not e.is_rest and not e.hidden and not e.tie_stop]


def _add_articulations(rng, score: _Score, voice: _Voice, force: bool) -> None:
    notes = _plain_notes(score, voice)
    for name in ARTICULATIONS:
        fitting = [e for _, e in notes if not e.articulations and
                   (name != "staccato" or e.duration <= QUARTER)]
        for event in _choose_some(rng, fitting, ARTICULATION_PROBABILITY / len(ARTICULATIONS), force):
            event.articulations.append(name)


def _add_slurs(rng, score: _Score, voice: _Voice, force: bool) -> None:
    """Slurs over runs of two to four notes that do not overlap."""
    runs: list[list[_Event]] = [[]]
    for (i, a), (j, b) in _neighbours(score, voice):
        if runs[-1] and runs[-1][-1] is a:
            runs[-1].append(b)
        else:
            runs.append([a, b])
    spans = []
    for run in runs:
        k = 0
        while k < len(run) - 1:
            length = min(len(run) - k, 2 + int(rng.integers(3)))
            if length >= 2:
                spans.append(run[k:k + length])
            k += length + 1
    spans = [s for s in spans if not s[0].tie_stop and not s[-1].tie_start]
    for span in _choose_some(rng, spans, SLUR_PROBABILITY, force):
        span[0].slur_start = span[-1].slur_stop = True


def _add_fermatas(score: _Score) -> None:
    """On the last note or rest of every voice in the final measure and at Fine."""
    for index, measure in enumerate(score.measures):
        is_fine = any(("words", "Fine") in d.types for d in measure.end_directions)
        if index != len(score.measures) - 1 and not is_fine:
            continue
        for *_, voice in score.voices():
            events = [e for e in voice.measures[index] or [] if not e.hidden]
            if events:
                events[-1].fermata = True


def _first_note(score: _Score, voice: _Voice, start: int = 0) -> _Event | None:
    for i, event in _plain_notes(score, voice):
        if i >= start:
            return event
    return None


def _add_dynamics(rng, score: _Score) -> None:
    """A dynamic at the start of each part and at some phrase starts of the lead."""
    lead = _lead(score.parts)
    level = int(rng.integers(1, len(DYNAMICS) - 1))
    for part in score.parts:
        voice = part.staves[0].voices[0]
        event = _first_note(score, voice)
        if event is not None:
            event.directions.append(_dynamic(DYNAMICS[level]))
    for i in range(PHRASE_LENGTH, len(score.measures), PHRASE_LENGTH):
        if rng.random() < DYNAMIC_CHANGE_PROBABILITY:
            level = int(np.clip(level + _pick(rng, (-2, -1, 1, 2)), 0, len(DYNAMICS) - 1))
            event = _first_note(score, lead, i)
            if event is not None and not any(_is_dynamic(d) for d in event.directions):
                event.directions.append(_dynamic(DYNAMICS[level]))


def _dynamic(name: str) -> _Direction:
    return _Direction((("dynamics", name),), placement="below",
                      sound=(("dynamics", str(DYNAMICS_SOUND[name])),))


def _is_dynamic(direction: _Direction) -> bool:
    return any(t[0] == "dynamics" for t in direction.types)


def _add_hairpins(rng, score: _Score, voice: _Voice) -> None:
    """Wedges from one note to a later one in the same or the next measure.

    Not from or to a note with grace notes: music21 would hang the wedge on a grace note.
    """
    notes = [(i, e) for i, e in _plain_notes(score, voice) if not e.graces]
    spans = []
    k = 0
    while k < len(notes) - 2:
        i, start = notes[k]
        stop_k = k + 2 + int(rng.integers(4))
        if stop_k >= len(notes):
            break
        j, stop = notes[stop_k]
        if all(score.seams[m] for m in range(i, j)) and j - i <= 1:
            spans.append((start, stop))
            k = stop_k + 1
        else:
            k += 1
    for start, stop in _choose_some(rng, spans, HAIRPIN_PROBABILITY, force=True):
        wedge = _pick(rng, ("crescendo", "diminuendo"))
        start.directions.append(_Direction((("wedge", wedge),), placement="below"))
        stop.directions.insert(0, _Direction((("wedge", "stop"),), placement="below"))


def _add_lyrics(rng, score: _Score, voice: _Voice) -> None:
    """Two verses: words split into syllables over phrases, some melismas."""
    phrases: list[list[list[_Event]]] = [[]]   # phrase -> slots -> notes (syllable + melisma)
    previous_index = None
    for i, event in _voice_sequence(score, voice):
        if event.is_rest or event.hidden:
            phrases.append([])
            continue
        if previous_index is not None and i != previous_index and not score.seams[previous_index]:
            phrases.append([])
        previous_index = i
        slots = phrases[-1]
        if slots and (event.tie_stop or event.note_type in SHORT_TYPES):
            slots[-1].append(event)   # tied notes and fast runs carry the syllable on
        elif slots and len(slots[-1]) == 1 and rng.random() < MELISMA_PROBABILITY:
            slots[-1].append(event)
        else:
            slots.append([event])
    words = [w.split("-") for w in LYRIC_WORDS]
    for verse in (1, 2):
        for slots in phrases:
            k = 0
            while k < len(slots):
                fitting = [w for w in words if len(w) <= len(slots) - k]
                word = _pick(rng, fitting)
                if k == 0:
                    word = [word[0].capitalize(), *word[1:]]
                for s, syllable in enumerate(word):
                    notes = slots[k + s]
                    if len(word) == 1:
                        syllabic = "single"
                    else:
                        syllabic = "begin" if s == 0 else "end" if s == len(word) - 1 else "middle"
                    melisma = len(notes) > 1 and not notes[1].tie_stop
                    extend = melisma and syllabic in ("single", "end")
                    notes[0].lyrics.append((verse, syllabic, syllable, extend))
                k += len(word)


def _add_tempo(rng, score: _Score) -> None:
    word, bpm = _pick(rng, TEMPI)
    meter = score.measures[0].meter
    if meter.compound:
        bpm = int(round(bpm * COMPOUND_TEMPO_FACTOR))
        quarter_bpm = bpm * DOTTED_QUARTER // QUARTER
    else:
        quarter_bpm = bpm
    unit, dotted = ("quarter", meter.compound)
    words = () if rng.random() < METRONOME_ALONE_PROBABILITY else (("words", word, "bold"),)
    score.measures[0].start_directions.insert(0, _Direction(
        words + (("metronome", unit, dotted, bpm),), sound=(("tempo", str(quarter_bpm)),)))


# ---------------------------------------------------------------------------
# What a score contains

def _present_features(score: _Score) -> frozenset[str]:
    found: set[str] = set()
    measures = score.measures
    directions = [d for m in measures for d in m.start_directions + m.end_directions]
    events = [e for *_, v in score.voices() for ms in v.measures if ms for e in ms]
    directions += [d for e in events for d in e.directions]
    types = [t for d in directions for t in d.types]
    words = {t[1] for t in types if t[0] == "words"}
    for form, text in (("dc_al_fine", "D.C. al Fine"), ("dc_al_coda", "D.C. al Coda"),
                       ("ds_al_fine", "D.S. al Fine"), ("ds_al_coda", "D.S. al Coda")):
        if text in words:
            found.add(form)
    checks = {
        "repeat": any(m.backward_repeat for m in measures),
        "volta": any(m.ending_start for m in measures),
        "segno": any(t[0] == "segno" for t in types),
        "coda": any(t[0] == "coda" for t in types),
        "fine": "Fine" in words,
        "tuplets_all": any(m.tuplet_mode == "all" and any(e.triplet for e in _all_events(score, i))
                           for i, m in enumerate(measures)),
        "tuplets_first_only": any(e.tuplet_start and not e.tuplet_printed for e in events),
        "omitted_rests": any(e.hidden for e in events),
        "two_voices": any(sum(1 for v in s.voices if v.measures[i]) > 1 for p in score.parts
                          for s in p.staves for i in range(len(measures))),
        "chords": any(len(e.pitches) > 1 for e in events),
        "ties": any(e.tie_start for e in events),
        "dots": any(e.dots for e in events),
        "accidentals": any(p.accidental and not p.cautionary
                           for e in events for p in e.pitches + e.graces),
        "courtesy_accidentals": any(p.cautionary for e in events for p in e.pitches + e.graces),
        "key_change": any(m.show_key for m in measures[1:]),
        "time_change": any(m.show_time for m in measures[1:]),
        "pickup": bool(measures[0].pickup_length),
        "grand_staff": any(len(p.staves) > 1 for p in score.parts),
        "voice_piano": len(score.parts) > 1,
        "clefs": any(c not in COMMON_CLEFS for p in score.parts for s in p.staves
                     for c in s.clefs.values()),
        "clef_change": any(len(s.clefs) > 1 for p in score.parts for s in p.staves),
        "lyrics": any(e.lyrics for e in events),
        "dynamics": any(t[0] == "dynamics" for t in types),
        "hairpins": any(t[0] == "wedge" for t in types),
        "tempo": any(t[0] == "metronome" for t in types),
        "articulations": any(e.articulations for e in events),
        "fermata": any(e.fermata for e in events),
        "slurs": any(e.slur_start for e in events),
        "grace_notes": any(e.graces for e in events),
        "short_values": any(e.note_type in SHORT_TYPES for e in events if not e.is_rest),
        "rests": REST_TYPES_FOR_FEATURE <= {e.note_type or "whole" for e in events
                                            if e.is_rest and not e.hidden},
        "multi_rest": any(m.multi_rest for m in measures),
        "rest_rhythms": sum(e.is_rest and not e.hidden and e.note_type == "16th" for e in events) >= 2,
        "flags": any(e.unbeamed for e in events),
        "arpeggios": any(e.arpeggio for e in events),
        "fingering": any(e.fingering is not None for e in events),
    }
    found |= {name for name, present in checks.items() if present}
    return frozenset(found)


def _all_events(score: _Score, index: int) -> list[_Event]:
    return [e for *_, v in score.voices() for e in v.measures[index] or []]


# ---------------------------------------------------------------------------
# MusicXML

def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrib) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrib.items()})
    if text is not None:
        element.text = str(text)
    return element


def _to_musicxml(score: _Score) -> str:
    root = ET.Element("score-partwise", version=MUSICXML_VERSION)
    work = _sub(root, "work")
    _sub(work, "work-title", score.title)
    identification = _sub(root, "identification")
    encoding = _sub(identification, "encoding")
    _sub(encoding, "software", SOFTWARE)
    part_list = _sub(root, "part-list")
    for channel, part in enumerate(score.parts, 1):
        score_part = _sub(part_list, "score-part", id=part.id)
        _sub(score_part, "part-name", part.name)
        instrument_id = f"{part.id}-I1"
        _sub(_sub(score_part, "score-instrument", id=instrument_id), "instrument-name", part.name)
        midi = _sub(score_part, "midi-instrument", id=instrument_id)
        _sub(midi, "midi-channel", channel)
        _sub(midi, "midi-program", part.midi_program)
    for part_index, part in enumerate(score.parts):
        part_element = _sub(root, "part", id=part.id)
        for index, measure in enumerate(score.measures):
            _write_measure(part_element, score, part, index, measure, top=part_index == 0)
    ET.indent(root, space="  ")
    return XML_HEADER + ET.tostring(root, encoding="unicode") + "\n"


def _write_measure(parent, score: _Score, part: _Part, index: int, measure: _Measure, top: bool):
    attrib = {"number": str(measure.number)}
    if measure.pickup_length:
        attrib["implicit"] = "yes"
    element = _sub(parent, "measure", **attrib)
    _write_left_barline(element, measure)
    _write_attributes(element, part, index, measure)
    multi_staff = len(part.staves) > 1
    if top:
        for direction in measure.start_directions:
            _write_direction(element, direction, 1 if multi_staff else None)
    first_voice = True
    for staff_number, staff in enumerate(part.staves, 1):
        present = [v for v in staff.voices if v.measures[index] is not None]
        for order, voice in enumerate(present):
            if not first_voice:
                _sub(_sub(element, "backup"), "duration", measure.length)
            first_voice = False
            stem = ("up" if order == 0 else "down") if len(present) > 1 else None
            for event in voice.measures[index]:
                _write_event(element, event, voice.number,
                             staff_number if multi_staff else None, stem)
    if top:
        for direction in measure.end_directions:
            _write_direction(element, direction, 1 if multi_staff else None)
    _write_right_barline(element, measure)


def _write_left_barline(parent, measure: _Measure) -> None:
    if not (measure.forward_repeat or measure.ending_start):
        return
    barline = _sub(parent, "barline", location="left")
    if measure.forward_repeat:
        _sub(barline, "bar-style", "heavy-light")
    if measure.ending_start:
        _sub(barline, "ending", f"{measure.ending_start}.", number=measure.ending_start, type="start")
    if measure.forward_repeat:
        _sub(barline, "repeat", direction="forward")


def _write_right_barline(parent, measure: _Measure) -> None:
    if not (measure.backward_repeat or measure.right_style or measure.ending_stop):
        return
    barline = _sub(parent, "barline", location="right")
    style = "light-heavy" if measure.backward_repeat else measure.right_style
    if style:
        _sub(barline, "bar-style", style)
    if measure.ending_stop:
        number, kind = measure.ending_stop
        _sub(barline, "ending", number=number, type=kind)
    if measure.backward_repeat:
        _sub(barline, "repeat", direction="backward")


def _write_attributes(parent, part: _Part, index: int, measure: _Measure) -> None:
    clefs = [(n, s.clefs[index]) for n, s in enumerate(part.staves, 1) if index in s.clefs]
    if not (index == 0 or measure.show_key or measure.show_time or clefs or measure.multi_rest):
        return
    attributes = _sub(parent, "attributes")
    if index == 0:
        _sub(attributes, "divisions", DIVISIONS)
    if measure.show_key:
        key = _sub(attributes, "key")
        _sub(key, "fifths", measure.fifths)
        _sub(key, "mode", measure.mode)
    if measure.show_time:
        time = _sub(attributes, "time", **({"symbol": measure.time_symbol} if measure.time_symbol else {}))
        _sub(time, "beats", measure.meter.beats)
        _sub(time, "beat-type", measure.meter.beat_type)
    if index == 0 and len(part.staves) > 1:
        _sub(attributes, "staves", len(part.staves))
    for number, clef in clefs:
        sign, line, octave_change = CLEFS[clef]
        element = _sub(attributes, "clef", **({"number": number} if len(part.staves) > 1 else {}))
        _sub(element, "sign", sign)
        _sub(element, "line", line)
        if octave_change:
            _sub(element, "clef-octave-change", octave_change)
    if measure.multi_rest:
        _sub(_sub(attributes, "measure-style"), "multiple-rest", measure.multi_rest)


def _write_direction(parent, direction: _Direction, staff: int | None) -> None:
    element = _sub(parent, "direction", placement=direction.placement)
    for kind, *args in direction.types:
        holder = _sub(element, "direction-type")
        if kind == "words":
            text, *style = args
            attrib = {"font_weight": "bold"} if style == ["bold"] else {"font_style": "italic"}
            if direction.halign:
                attrib["halign"] = direction.halign
            _sub(holder, "words", text, **attrib)
        elif kind in ("segno", "coda"):
            _sub(holder, kind)
        elif kind == "dynamics":
            _sub(_sub(holder, "dynamics"), args[0])
        elif kind == "wedge":
            _sub(holder, "wedge", type=args[0], number=1)
        elif kind == "metronome":
            unit, dotted, bpm = args
            metronome = _sub(holder, "metronome")
            _sub(metronome, "beat-unit", unit)
            if dotted:
                _sub(metronome, "beat-unit-dot")
            _sub(metronome, "per-minute", bpm)
    if staff is not None:
        _sub(element, "staff", staff)
    if direction.sound:
        _sub(element, "sound", **dict(direction.sound))


def _write_event(parent, event: _Event, voice: int, staff: int | None, stem: str | None) -> None:
    for direction in event.directions:
        _write_direction(parent, direction, staff)
    _write_graces(parent, event, voice, staff)
    if event.is_rest:
        note = _sub(parent, "note", **({"print_object": "no"} if event.hidden else {}))
        _sub(note, "rest", **({"measure": "yes"} if event.note_type is None else {}))
        _sub(note, "duration", event.duration)
        _write_note_body(note, event, None, voice, staff, stem, first=True)
        return
    for k, pitch in enumerate(event.pitches):
        note = _sub(parent, "note")
        if k > 0:
            _sub(note, "chord")
        _write_pitch(note, pitch)
        _sub(note, "duration", event.duration)
        if event.tie_stop:
            _sub(note, "tie", type="stop")
        if event.tie_start:
            _sub(note, "tie", type="start")
        _write_note_body(note, event, pitch, voice, staff, stem, first=k == 0)


def _write_pitch(note, pitch: _Pitch) -> None:
    element = _sub(note, "pitch")
    _sub(element, "step", STEPS[pitch.step])
    if pitch.alter:
        _sub(element, "alter", pitch.alter)
    _sub(element, "octave", pitch.octave)


def _write_accidental(note, pitch: _Pitch | None) -> None:
    if pitch is None or pitch.accidental is None:
        return
    attrib = {}
    if pitch.cautionary:
        attrib["cautionary"] = "yes"
        if pitch.parentheses:
            attrib["parentheses"] = "yes"
    _sub(note, "accidental", pitch.accidental, **attrib)


def _write_note_body(note, event: _Event, pitch, voice, staff, stem, first: bool) -> None:
    """Everything of a <note> after <duration>/<tie>, in schema order."""
    _sub(note, "voice", voice)
    if event.note_type is not None:
        _sub(note, "type", event.note_type)
    for _ in range(event.dots):
        _sub(note, "dot")
    _write_accidental(note, pitch)
    if event.triplet:
        modification = _sub(note, "time-modification")
        _sub(modification, "actual-notes", TRIPLET_ACTUAL)
        _sub(modification, "normal-notes", TRIPLET_NORMAL)
    if stem is not None and first and not event.is_rest:
        _sub(note, "stem", stem)
    if staff is not None:
        _sub(note, "staff", staff)
    if first:
        for level, value in enumerate(event.beams, 1):
            _sub(note, "beam", value, number=level)
    notations = []
    if pitch is not None and event.tie_stop:
        notations.append(("tied", {"type": "stop"}))
    if pitch is not None and event.tie_start:
        notations.append(("tied", {"type": "start"}))
    if first:
        if event.slur_stop:
            notations.append(("slur", {"type": "stop", "number": "1"}))
        if event.slur_start:
            notations.append(("slur", {"type": "start", "number": "1"}))
        if event.tuplet_printed and event.tuplet_start:
            notations.append(("tuplet", {"type": "start", "number": "1",
                                         "bracket": "yes" if event.tuplet_bracket else "no"}))
        if event.tuplet_printed and event.tuplet_stop:
            notations.append(("tuplet", {"type": "stop", "number": "1"}))
    fingering = event.fingering if first else None
    if notations or event.arpeggio or fingering or (first and (event.articulations or event.fermata)):
        element = _sub(note, "notations")
        for tag, attrib in notations:
            _sub(element, tag, **attrib)
        if fingering:
            technical = _sub(element, "technical")
            _sub(technical, "fingering", fingering, placement="above")
        if event.arpeggio:  # on every note of the chord, as MusicXML has it
            _sub(element, "arpeggiate")
        if first and event.articulations:
            articulations = _sub(element, "articulations")
            for name in event.articulations:
                _sub(articulations, name)
        if first and event.fermata:
            _sub(element, "fermata", type="upright")
    if first:
        for verse, syllabic, text, extend in event.lyrics:
            lyric = _sub(note, "lyric", number=verse)
            _sub(lyric, "syllabic", syllabic)
            _sub(lyric, "text", text)
            if extend:
                _sub(lyric, "extend")


def _write_graces(parent, event: _Event, voice: int, staff: int | None) -> None:
    if not event.graces:
        return
    single = len(event.graces) == 1
    note_type = "eighth" if single else "16th"
    beams = [[]] if single else _beam_values([note_type] * len(event.graces))
    for pitch, beam in zip(event.graces, beams):
        note = _sub(parent, "note")
        _sub(note, "grace", **({"slash": "yes"} if single else {}))
        _write_pitch(note, pitch)
        _sub(note, "voice", voice)
        _sub(note, "type", note_type)
        _write_accidental(note, pitch)
        _sub(note, "stem", "up")
        if staff is not None:
            _sub(note, "staff", staff)
        for level, value in enumerate(beam, 1):
            _sub(note, "beam", value, number=level)
