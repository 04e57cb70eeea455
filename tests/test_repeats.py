"""omr.notation.repeats: the playing order of repeats, endings, D.C./D.S./Coda/Fine, from
music21 scores (the objects music21 makes when it reads MusicXML) and from plain marks.

synth.unfold reads the same marks from the MusicXML text and unfolds them with the same
:func:`playing_order`; the generated scores of synth.generate must come out the same
both ways.
"""

from __future__ import annotations

import functools

import music21
import pytest
from music21 import bar, expressions, meter, note, repeat, spanner, stream
from music21.musicxml.m21ToXml import GeneralObjectExporter

from omr.notation.repeats import (
    DEFAULT_REPEAT_TIMES,
    MeasureMarks,
    marks_from_score,
    playing_order,
    read_words,
    unfold_measures,
)
from synth import unfold
from synth.generate import FORM_FEATURES, generate_score

FORM_SEEDS = range(3)     # seeds per repeat structure
RANDOM_SEEDS = range(6)   # random feature mixes (some have a form, some none)


# ------------------------------------------------------------------ helpers


def _score(n_measures: int, parts: int = 1) -> tuple[stream.Score, list[list[stream.Measure]]]:
    """A score of whole notes, ``n_measures`` measures in each of ``parts`` parts."""
    score = stream.Score()
    measures = []
    for pi in range(parts):
        part = stream.Part()
        ms = []
        for i in range(n_measures):
            m = stream.Measure(number=i + 1)
            if i == 0:
                m.append(meter.TimeSignature("4/4"))
            m.append(note.Note(60 + i + 12 * pi, quarterLength=4))
            part.append(m)
            ms.append(m)
        score.insert(0, part)
        measures.append(ms)
    return score, measures


def _volta(part: stream.Part, measures: list[stream.Measure], number) -> None:
    part.insert(0, spanner.RepeatBracket(measures, number=number))


def _round_trip(score: stream.Score) -> stream.Score:
    """The score written as MusicXML by music21 and read back."""
    xml = GeneralObjectExporter(score).parse().decode("utf-8")
    return music21.converter.parse(xml, format="musicxml")


@functools.cache
def _generated(feature: str | None, seed: int) -> str:
    return generate_score(seed, features=None if feature is None else [feature]).musicxml


# ------------------------------------------------- generated scores, both ways

GENERATED = ([(f, s) for f in FORM_FEATURES for s in FORM_SEEDS]
             + [(None, s) for s in RANDOM_SEEDS])


@pytest.mark.parametrize(("feature", "seed"), GENERATED,
                         ids=[f"{f or 'random'}-{s}" for f, s in GENERATED])
def test_generated_scores_unfold_as_synth_does(feature, seed):
    xml = _generated(feature, seed)
    expected = unfold.playing_order(unfold._read_musicxml_score(xml).measures)
    score = music21.converter.parse(xml, format="musicxml")
    assert playing_order(marks_from_score(score)) == expected
    assert unfold_measures(score) == expected
    if feature is not None:
        assert len(expected) > len(score.parts[0].getElementsByClass(stream.Measure))


def test_one_implementation():
    assert unfold.playing_order is playing_order
    assert issubclass(unfold._XmlMeasure, MeasureMarks)


# ------------------------------------------------------- hand-made music21 scores


def test_repeat_with_first_and_second_endings():
    score, (ms,) = _score(5)
    ms[1].leftBarline = bar.Repeat(direction="start")
    ms[2].rightBarline = bar.Repeat(direction="end")
    part = score.parts[0]
    _volta(part, [ms[2]], 1)
    _volta(part, [ms[3]], 2)
    marks = marks_from_score(score)
    assert marks[1].repeat_start and marks[2].repeat_end
    assert (marks[2].endings, marks[3].endings) == ((1,), (2,))
    assert marks[2].ending_first and marks[2].ending_last
    assert unfold_measures(score) == [0, 1, 2, 1, 3, 4]
    assert unfold_measures(_round_trip(score)) == [0, 1, 2, 1, 3, 4]


def test_two_measure_first_ending_and_shared_number_list():
    score, (ms,) = _score(6)
    ms[3].rightBarline = bar.Repeat(direction="end", times=3)
    part = score.parts[0]
    _volta(part, [ms[2], ms[3]], "1, 2")
    _volta(part, [ms[4]], 3)
    marks = marks_from_score(score)
    assert marks[2].endings == marks[3].endings == (1, 2)
    assert marks[2].ending_first and not marks[2].ending_last and marks[3].ending_last
    assert marks[3].times == 3
    assert unfold_measures(score) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 4, 5]
    assert unfold_measures(_round_trip(score)) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 4, 5]


def test_repeat_three_times():
    score, (ms,) = _score(3)
    ms[0].leftBarline = bar.Repeat(direction="start")
    ms[1].rightBarline = bar.Repeat(direction="end", times=3)
    assert marks_from_score(score)[1].times == 3
    assert unfold_measures(score) == [0, 1, 0, 1, 0, 1, 2]
    assert unfold_measures(_round_trip(score)) == [0, 1, 0, 1, 0, 1, 2]


def test_end_repeat_without_start_goes_back_after_previous_end_repeat():
    score, (ms,) = _score(4)
    ms[0].rightBarline = bar.Repeat(direction="end")
    ms[2].rightBarline = bar.Repeat(direction="end")
    assert unfold_measures(score) == [0, 0, 1, 2, 1, 2, 3]


def test_dal_segno_al_coda():
    score, (ms,) = _score(6)
    ms[1].insert(0, repeat.Segno())
    ms[2].insert(4, repeat.Coda("To Coda"))
    ms[3].insert(4, repeat.DalSegnoAlCoda())
    ms[3].rightBarline = bar.Barline("light-light")
    ms[4].insert(0, repeat.Coda())
    marks = marks_from_score(score)
    assert marks[1].segno and marks[2].tocoda and marks[3].dalsegno and marks[4].coda
    assert not marks[2].coda
    expected = [0, 1, 2, 3, 1, 2, 4, 5]
    assert unfold_measures(score) == expected
    assert unfold_measures(_round_trip(score)) == expected


def test_second_coda_sign_is_the_jump():
    score, (ms,) = _score(5)
    ms[1].insert(0, repeat.Coda())  # the jump, printed as a coda sign
    ms[2].insert(4, repeat.DaCapoAlCoda())
    ms[3].insert(0, repeat.Coda())  # the coda
    assert unfold_measures(score) == [0, 1, 2, 0, 1, 3, 4]


def test_da_capo_al_fine():
    score, (ms,) = _score(4)
    ms[1].insert(4, repeat.Fine())
    ms[3].insert(4, repeat.DaCapoAlFine())
    assert unfold_measures(score) == [0, 1, 2, 3, 0, 1]
    assert unfold_measures(_round_trip(score)) == [0, 1, 2, 3, 0, 1]


def test_marks_as_plain_text_expressions():
    """A parser may leave navigation as words: TextExpression("D.C. al Fine")."""
    score, (ms,) = _score(4)
    ms[1].insert(4, expressions.TextExpression("Fine"))
    ms[3].insert(4, expressions.TextExpression("D.C. al Fine"))
    marks = marks_from_score(score)
    assert marks[1].fine and marks[3].dacapo
    assert unfold_measures(score) == [0, 1, 2, 3, 0, 1]


def test_after_da_capo_repeats_are_not_taken_and_last_ending_plays():
    score, (ms,) = _score(5)
    ms[0].leftBarline = bar.Repeat(direction="start")
    ms[1].rightBarline = bar.Repeat(direction="end")
    part = score.parts[0]
    _volta(part, [ms[1]], 1)
    _volta(part, [ms[2]], 2)
    ms[3].insert(4, repeat.DaCapo())
    assert unfold_measures(score) == [0, 1, 0, 2, 3, 0, 2, 3, 4]


def test_marks_in_any_part_count():
    score, (top, bottom) = _score(3, parts=2)
    top[1].insert(4, repeat.DaCapoAlFine())
    bottom[0].insert(4, repeat.Fine())
    assert unfold_measures(score) == [0, 1, 0]


def test_a_lone_part_and_a_plain_score():
    score, _ = _score(3)
    assert unfold_measures(score.parts[0]) == [0, 1, 2]
    assert marks_from_score(score) == [MeasureMarks()] * 3


# ------------------------------------------------------------------ plain marks


def test_defaults_and_words():
    assert MeasureMarks().times == DEFAULT_REPEAT_TIMES == 2
    for text, attr in [("D.C. al Fine", "dacapo"), ("Da Capo", "dacapo"),
                       ("D.S. al Coda", "dalsegno"), ("Dal Segno", "dalsegno"),
                       ("Fine", "fine"), ("To Coda", "tocoda"), ("  fine. ", "fine")]:
        m = MeasureMarks()
        read_words(text, m)
        assert getattr(m, attr), text
    m = MeasureMarks()
    read_words("dolce", m)
    assert m == MeasureMarks()


def test_three_endings():
    m = [MeasureMarks() for _ in range(5)]
    m[1].repeat_end = True
    m[1].times = 3
    m[1].endings, m[2].endings, m[3].endings = (1,), (2,), (3,)
    m[2].repeat_end = True
    for k in (1, 2, 3):
        m[k].ending_first = m[k].ending_last = True
    assert playing_order(m) == [0, 1, 0, 2, 0, 3, 4]


def test_malformed_marks_do_not_loop_forever():
    m = [MeasureMarks(repeat_end=True, times=10_000)]
    order = playing_order(m)
    assert 0 < len(order) <= 200
    assert playing_order([]) == []


def _ending(m: list[MeasureMarks], k: int, numbers: tuple) -> None:
    m[k].endings = numbers
    m[k].ending_first = m[k].ending_last = True


def test_second_volta_section_without_start_repeat():
    """Passes are counted per section: the second section's first ending is played
    (corpus: schumann_robert/opus41no1/movement2, trecento pieces)."""
    m = [MeasureMarks() for _ in range(7)]
    m[1].repeat_end = m[4].repeat_end = True
    _ending(m, 1, (1,))
    _ending(m, 2, (2,))
    _ending(m, 4, (1,))
    _ending(m, 5, (2,))
    assert playing_order(m) == [0, 1, 0, 2, 3, 4, 3, 5, 6]


def test_first_and_second_endings_both_repeat():
    m = [MeasureMarks() for _ in range(5)]
    m[1].repeat_end = m[2].repeat_end = True
    _ending(m, 1, (1,))
    _ending(m, 2, (2,))
    _ending(m, 3, (3,))
    assert playing_order(m) == [0, 1, 0, 2, 0, 3, 4]
