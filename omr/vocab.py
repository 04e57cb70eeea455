"""The symbol vocabulary: one table, used by synth/, the detector and the staff graph.

Every symbol the program knows has exactly one row here. A row says

- ``name``: the class name used everywhere (JSON files, the detector's output
  channels, the staff graph's node labels);
- ``element``: the verovio (MEI) element whose SVG group the synthetic ground truth
  comes from;
- ``glyphs``: the SMuFL code points (as ``"E0A4"`` strings) that, drawn inside that
  element, mean this class. Empty when the element itself decides (a stem is a
  stem whatever it is drawn with);
- ``role``: what the symbol is to the staff graph (see :data:`ROLES`);
- ``detected``: whether the detector learns it. Staves and systems are found by page
  analysis (``omr/staff.py``), not by the network, but synth/ still writes their
  boxes as ground truth for that analysis.

Examples
--------
>>> from omr import vocab
>>> vocab.index("notehead_black")
0
>>> vocab.CLASSES["accidental_sharp"].role
'accidental'
>>> vocab.class_for_glyph("note", "E0A3")
'notehead_half'
>>> len(vocab.DETECTED_NAMES) == vocab.NUM_DETECTED
True
"""

from __future__ import annotations

from dataclasses import dataclass


class VocabError(KeyError):
    """An unknown class name, or a glyph that no class claims."""


#: Roles a symbol plays in the staff graph, with what the graph does with it.
ROLES: dict[str, str] = {
    "notehead": "a note's pitch carrier; edges to stem, accidental, dot, tie, slur, lyric",
    "stem": "joins noteheads to beams and flags",
    "beam": "shortens the duration of the stems it joins",
    "flag": "shortens the duration of the stem it hangs from",
    "rest": "a silence of its own duration; edge to dot",
    "accidental": "alters the pitch of the notehead to its right",
    "dot": "augments the duration of a notehead or rest to its left",
    "key": "an accidental of a key signature, right of a clef",
    "clef": "fixes pitch of staff positions from here on",
    "time": "a time signature glyph (digit, common, cut)",
    "barline": "ends a measure; repeat barlines also shape the playing order",
    "volta": "first/second ending bracket and its number, over measures",
    "navigation": "segno, coda, D.C./D.S./Fine/To Coda: shapes the playing order",
    "tuplet": "tuplet number or bracket over a group of notes",
    "curve": "tie or slur between two noteheads",
    "expression": "articulation, ornament or fermata attached to a notehead",
    "dynamic": "dynamic mark or hairpin, attached to the measure/notes below it",
    "ledger": "a ledger line; extends the staff for pitch",
    "text": "lyrics, tempo and other words, read by OCR and attached to notes/measures",
    "structure": "staff, system and grouping symbols (found by page analysis)",
}


@dataclass(frozen=True)
class SymbolClass:
    """One row of the vocabulary."""

    name: str
    element: str
    glyphs: tuple[str, ...]
    role: str
    detected: bool = True
    description: str = ""


def _row(name, element, glyphs=(), role="", detected=True, description=""):
    return SymbolClass(name, element, tuple(glyphs), role, detected, description)


# Ordered: detected classes first (their order is the detector's channel order),
# page-analysis structures last. Append new classes; never reorder shipped ones
# without retraining the detector.
VOCAB: tuple[SymbolClass, ...] = (
    # --- noteheads (verovio's `note` box is the notehead) ----------------------------
    _row("notehead_black", "note", ["E0A4"], "notehead", description="quarter and shorter"),
    _row("notehead_half", "note", ["E0A3"], "notehead"),
    _row("notehead_whole", "note", ["E0A2"], "notehead"),
    _row("notehead_breve", "note", ["E0A0", "E0A1"], "notehead"),
    _row("notehead_black_cue", "note", ["E0A4"], "notehead", description="grace or cue size"),
    _row("notehead_half_cue", "note", ["E0A3"], "notehead", description="grace or cue size"),
    _row("notehead_whole_cue", "note", ["E0A2"], "notehead", description="grace or cue size"),
    # --- stems, beams, flags -------------------------------------------------------
    _row("stem", "stem", [], "stem"),
    _row("beam", "beam", [], "beam", description="one beam line (verovio draws each as a polygon)"),
    _row("flag_8th", "flag", ["E240", "E241"], "flag"),
    _row("flag_16th", "flag", ["E242", "E243"], "flag"),
    _row("flag_32nd", "flag", ["E244", "E245"], "flag"),
    _row("flag_64th", "flag", ["E246", "E247"], "flag"),
    _row("grace_slash", "stem", ["E564", "E565"], "flag", description="acciaccatura slash"),
    # --- rests ----------------------------------------------------------------------
    _row("rest_whole", "rest", ["E4E3"], "rest"),
    _row("rest_half", "rest", ["E4E4"], "rest"),
    _row("rest_quarter", "rest", ["E4E5"], "rest"),
    _row("rest_8th", "rest", ["E4E6"], "rest"),
    _row("rest_16th", "rest", ["E4E7"], "rest"),
    _row("rest_32nd", "rest", ["E4E8"], "rest"),
    _row("rest_64th", "rest", ["E4E9"], "rest"),
    _row("rest_breve", "rest", ["E4E2"], "rest", description="in 4/2 and 2/1 music"),
    _row("rest_multi", "multiRest", ["E4EE", "E4EF", "E4F0"], "rest",
         description="multi-measure rest bar (H-bar)"),
    _row("rest_multi_number", "multiRest", ["E080", "E081", "E082", "E083", "E084",
                                            "E085", "E086", "E087", "E088", "E089"],
         "rest", description="the count printed over a multi-measure rest"),
    # --- accidentals (on notes) -----------------------------------------------------
    _row("accidental_sharp", "accid", ["E262"], "accidental"),
    _row("accidental_flat", "accid", ["E260"], "accidental"),
    _row("accidental_natural", "accid", ["E261"], "accidental"),
    _row("accidental_double_sharp", "accid", ["E263"], "accidental"),
    _row("accidental_double_flat", "accid", ["E264"], "accidental"),
    _row("accidental_paren", "accid", ["E26A", "E26B"], "accidental",
         description="parentheses of a courtesy accidental"),
    # --- dots ----------------------------------------------------------------------
    _row("augmentation_dot", "dots", ["E1E7"], "dot"),
    # --- key signatures (keyAccid has no box of its own: boxes come from glyphs) -----
    _row("key_sharp", "keyAccid", ["E262"], "key"),
    _row("key_flat", "keyAccid", ["E260"], "key"),
    _row("key_natural", "keyAccid", ["E261"], "key", description="cancellation naturals"),
    # --- clefs ----------------------------------------------------------------------
    _row("clef_g", "clef", ["E050", "E07A"], "clef", description="E07A: the clef-change size"),
    _row("clef_g_8vb", "clef", ["E052"], "clef"),
    _row("clef_g_8va", "clef", ["E053"], "clef"),
    _row("clef_f", "clef", ["E062", "E07C"], "clef", description="E07C: the clef-change size"),
    _row("clef_f_8vb", "clef", ["E064"], "clef"),
    _row("clef_f_8va", "clef", ["E065"], "clef"),
    _row("clef_c", "clef", ["E05C", "E07B"], "clef", description="E07B: the clef-change size"),
    _row("clef_percussion", "clef", ["E069"], "clef"),
    # --- time signatures ------------------------------------------------------------
    *(_row(f"time_{d}", "meterSig", [f"E08{d}"], "time") for d in range(10)),
    _row("time_common", "meterSig", ["E08A"], "time"),
    _row("time_cut", "meterSig", ["E08B"], "time"),
    # --- barlines -------------------------------------------------------------------
    _row("barline_single", "barLine", [], "barline", description='form="single" (or absent)'),
    _row("barline_double", "barLine", [], "barline", description='form="dbl"'),
    _row("barline_final", "barLine", [], "barline", description='form="end"'),
    _row("barline_repeat_start", "barLine", [], "barline", description='form="rptstart"'),
    _row("barline_repeat_end", "barLine", [], "barline", description='form="rptend"'),
    _row("barline_repeat_both", "barLine", [], "barline", description='form="rptboth"'),
    # --- voltas ---------------------------------------------------------------------
    _row("volta_bracket", "ending", [], "volta", description="the bracket line"),
    _row("volta_number", "ending", [], "volta", description='its label ("1.", "2.")'),
    # --- navigation -----------------------------------------------------------------
    _row("segno", "repeatMark", ["E047"], "navigation"),
    _row("coda", "repeatMark", ["E048"], "navigation"),
    _row("text_dacapo", "dir", [], "navigation", description='"D.C.", "D.C. al Fine", "D.C. al Coda"'),
    _row("text_dalsegno", "dir", [], "navigation", description='"D.S.", "D.S. al Fine", "D.S. al Coda"'),
    _row("text_fine", "dir", [], "navigation", description='"Fine"'),
    _row("text_tocoda", "dir", [], "navigation", description='"To Coda" (with or without the sign)'),
    # --- tuplets --------------------------------------------------------------------
    _row("tuplet_number", "tupletNum", ["E880", "E881", "E882", "E883", "E884",
                                        "E885", "E886", "E887", "E888", "E889"], "tuplet"),
    _row("tuplet_bracket", "tupletBracket", [], "tuplet"),
    # --- curves ---------------------------------------------------------------------
    _row("tie", "tie", [], "curve"),
    _row("slur", "slur", [], "curve"),
    # --- expressions ----------------------------------------------------------------
    _row("fermata", "fermata", ["E4C0", "E4C1"], "expression"),
    _row("artic_staccato", "artic", ["E4A2", "E4A3"], "expression"),
    _row("artic_staccatissimo", "artic", ["E4A6", "E4A7", "E4A8", "E4A9"], "expression"),
    _row("artic_accent", "artic", ["E4A0", "E4A1"], "expression"),
    _row("artic_tenuto", "artic", ["E4A4", "E4A5"], "expression"),
    _row("artic_marcato", "artic", ["E4AC", "E4AD"], "expression"),
    _row("ornament_trill", "trill", ["E566"], "expression"),
    _row("ornament_mordent", "mordent", ["E56C", "E56D"], "expression"),
    _row("ornament_turn", "turn", ["E567", "E568"], "expression"),
    _row("arpeggio", "arpeg", [], "expression"),
    # --- dynamics -------------------------------------------------------------------
    _row("dynamic_ppp", "dynam", [], "dynamic"),
    _row("dynamic_pp", "dynam", [], "dynamic"),
    _row("dynamic_p", "dynam", [], "dynamic"),
    _row("dynamic_mp", "dynam", [], "dynamic"),
    _row("dynamic_mf", "dynam", [], "dynamic"),
    _row("dynamic_f", "dynam", [], "dynamic"),
    _row("dynamic_ff", "dynam", [], "dynamic"),
    _row("dynamic_fff", "dynam", [], "dynamic"),
    _row("dynamic_sf", "dynam", [], "dynamic", description="sf, sfz, sffz, fz, rf, rfz"),
    _row("dynamic_fp", "dynam", [], "dynamic"),
    _row("dynamic_other", "dynam", [], "dynamic", description="any other dynamic word or glyph"),
    _row("hairpin_crescendo", "hairpin", [], "dynamic"),
    _row("hairpin_diminuendo", "hairpin", [], "dynamic"),
    # --- lines ----------------------------------------------------------------------
    _row("ledger_line", "ledgerLines", [], "ledger", description="one ledger line"),
    # --- text -----------------------------------------------------------------------
    _row("lyric_syllable", "syl", [], "text",
         description="one syllable; verovio gives no box, synth/ measures the text"),
    _row("lyric_hyphen", "connector", [], "text", description="hyphen or extender between syllables"),
    _row("tempo_text", "tempo", [], "text", description='"Allegro", "♩ = 120"'),
    _row("text_other", "dir", [], "text", description="other directions: cresc., dolce, rit."),
    _row("fingering", "fing", [], "text"),
    _row("measure_number", "mNum", [], "text"),
    _row("credit_text", "pgHead", [], "text", description="title, composer, page header/footer"),
    _row("pedal_mark", "pedal", ["E650", "E655"], "text", description='"Ped." and release "*"'),
    _row("octave_line", "octave", [], "text", description="8va / 8vb line and its label"),
    # --- structure (found by page analysis; ground truth only) ---------------------
    _row("brace", "grpSym", ["E000"], "structure", description="piano brace joining staves"),
    _row("bracket", "grpSym", ["E002"], "structure", description="ensemble bracket"),
    _row("staff", "staff", [], "structure", detected=False,
         description="the five-line staff, top line to bottom line"),
    _row("system", "system", [], "structure", detected=False,
         description="staves played together, joined by a system barline"),
)

#: Class name -> row.
CLASSES: dict[str, SymbolClass] = {row.name: row for row in VOCAB}
#: Names in vocabulary order.
NAMES: tuple[str, ...] = tuple(row.name for row in VOCAB)
#: Names the detector predicts, in its channel order.
DETECTED_NAMES: tuple[str, ...] = tuple(row.name for row in VOCAB if row.detected)
NUM_DETECTED: int = len(DETECTED_NAMES)
#: Time signature digit classes -> the digit each prints (a multi-measure rest's
#: count is printed in the same digits).
TIME_DIGITS: dict[str, str] = {f"time_{d}": str(d) for d in range(10)}

_INDEX = {name: i for i, name in enumerate(NAMES)}


def _check_table() -> None:
    """Fail at import if the table contradicts itself (duplicate name, unknown role,
    a structure class before a detected one)."""
    if len(_INDEX) != len(VOCAB):
        raise ValueError("duplicate class name in omr.vocab.VOCAB")
    for row in VOCAB:
        if row.role not in ROLES:
            raise ValueError(f"class {row.name!r} has unknown role {row.role!r}")
    if NAMES[: NUM_DETECTED] != DETECTED_NAMES:
        raise ValueError("detected classes must come before page-analysis classes")


_check_table()


def index(name: str) -> int:
    """Position of ``name`` in :data:`NAMES` (the detector's channel for detected classes).

    >>> index("stem")
    7
    """
    try:
        return _INDEX[name]
    except KeyError:
        raise VocabError(f"unknown symbol class {name!r}; see omr.vocab.NAMES") from None


def names_with_role(role: str) -> tuple[str, ...]:
    """All class names with the given graph role.

    >>> names_with_role("dot")
    ('augmentation_dot',)
    """
    if role not in ROLES:
        raise VocabError(f"unknown role {role!r}; choose from {sorted(ROLES)}")
    return tuple(row.name for row in VOCAB if row.role == role)


def class_for_glyph(element: str, glyph: str, *, cue: bool = False) -> str:
    """The class of a SMuFL glyph drawn inside a verovio element.

    ``glyph`` is the code point as four hex digits (``"E0A4"``), as verovio names its
    ``<use xlink:href="#E0A4-...">`` references. ``cue`` picks the grace/cue-size
    notehead classes.

    >>> class_for_glyph("rest", "E4E6")
    'rest_8th'
    >>> class_for_glyph("note", "E0A4", cue=True)
    'notehead_black_cue'
    """
    glyph = glyph.upper()
    for row in VOCAB:
        if row.element == element and glyph in row.glyphs:
            if row.role == "notehead" and row.name.endswith("_cue") != cue:
                continue
            return row.name
    raise VocabError(f"no class for glyph {glyph} in verovio element <{element}>")
