"""The vocabulary table is consistent and covers what the issues ask for."""

import pytest

from omr import vocab


REQUIRED = [
    # noteheads (black, half, whole, cue size)
    "notehead_black", "notehead_half", "notehead_whole", "notehead_black_cue",
    "stem", "beam", "flag_8th", "flag_16th", "flag_32nd", "flag_64th",
    "rest_whole", "rest_half", "rest_quarter", "rest_8th", "rest_16th", "rest_32nd",
    "rest_64th", "rest_multi",
    "accidental_sharp", "accidental_flat", "accidental_natural",
    "accidental_double_sharp", "accidental_double_flat",
    "augmentation_dot",
    "clef_g", "clef_f", "clef_c", "clef_g_8vb", "clef_g_8va", "clef_f_8vb",
    "key_sharp", "key_flat", "key_natural",
    "time_4", "time_common", "time_cut",
    "barline_single", "barline_double", "barline_final",
    "barline_repeat_start", "barline_repeat_end",
    "volta_bracket", "volta_number", "segno", "coda",
    "text_dacapo", "text_dalsegno", "text_fine", "text_tocoda",
    "tuplet_number", "tuplet_bracket", "tie", "slur", "fermata",
    "dynamic_p", "dynamic_f", "hairpin_crescendo", "hairpin_diminuendo",
    "artic_staccato", "artic_accent", "ledger_line", "lyric_syllable", "tempo_text",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_class_present(name):
    row = vocab.CLASSES[name]
    assert row.role in vocab.ROLES
    assert row.element


def test_index_and_names_agree():
    for i, name in enumerate(vocab.NAMES):
        assert vocab.index(name) == i
    assert vocab.DETECTED_NAMES == vocab.NAMES[: vocab.NUM_DETECTED]
    assert "staff" not in vocab.DETECTED_NAMES


def test_glyph_lookup_distinguishes_cue_noteheads():
    assert vocab.class_for_glyph("note", "e0a4") == "notehead_black"
    assert vocab.class_for_glyph("note", "E0A4", cue=True) == "notehead_black_cue"
    assert vocab.class_for_glyph("keyAccid", "E260") == "key_flat"
    assert vocab.class_for_glyph("accid", "E260") == "accidental_flat"


def test_unknown_names_raise_clear_errors():
    with pytest.raises(vocab.VocabError, match="unknown symbol class"):
        vocab.index("notehead_purple")
    with pytest.raises(vocab.VocabError, match="no class for glyph"):
        vocab.class_for_glyph("note", "FFFF")
    with pytest.raises(vocab.VocabError, match="unknown role"):
        vocab.names_with_role("decoration")
