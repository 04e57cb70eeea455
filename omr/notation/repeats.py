"""Repeat structure and playing order of a score.

A score's form is read, measure by measure, into :class:`MeasureMarks` (repeat
barlines with ``times``, first/second endings, segno, coda, "To Coda", Fine,
D.C., D.S.); :func:`playing_order` unfolds a list of them into the order the
measures are played. The marks come either from a music21 score
(:func:`marks_from_score`, reading the objects music21 itself makes when it parses
MusicXML) or from MusicXML read directly (``synth.unfold``, which uses the same
:func:`playing_order`, so there is one unfolding in the project).

Conventions (the usual ones):

- an end repeat goes back to the nearest start repeat before it, or, when there is
  none, to just after the previous end repeat or the previous set of endings (or
  to the first measure); 1st and 2nd endings that both end with a repeat go back
  to the same place;
- an end repeat is taken ``times - 1`` times (``times`` = 2 unless marked);
- endings are played on the passes their numbers say, passes counted from the
  start of their section (a start repeat, or the end of the previous repeat or
  set of endings); an ending with no number is not an ending;
- after a D.C. or D.S. jump, repeats are not taken again and only the last ending
  of each set of endings is played; the music stops at Fine, and jumps from a
  "To Coda" mark to the coda;
- "To Coda" may be written as a second coda sign: with no "To Coda" mark, every
  coda sign but the last is a jump and the last is the target.

Examples
--------
A repeat with first and second endings (measure indices from 0):

>>> from omr.notation.repeats import MeasureMarks, playing_order
>>> marks = [MeasureMarks(), MeasureMarks(repeat_start=True),
...          MeasureMarks(repeat_end=True, endings=(1,), ending_first=True, ending_last=True),
...          MeasureMarks(endings=(2,), ending_first=True, ending_last=True)]
>>> playing_order(marks)
[0, 1, 2, 1, 3]

From a score parsed by music21:

>>> import music21
>>> from omr.notation.repeats import unfold_measures
>>> unfold_measures(music21.converter.parse("tinyNotation: 4/4 c1 d1"))
[0, 1]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_REPEAT_TIMES", "MeasureMarks", "marks_from_score", "playing_order",
           "read_words", "unfold_measures"]

#: How many times a repeated section is played when the end repeat marks no ``times``.
DEFAULT_REPEAT_TIMES = 2

#: At most this many measures are played per notated measure (plus
#: :data:`_ORDER_SLACK`): a guard against malformed marks that would loop forever.
_MAX_PLAYS_PER_MEASURE = 20
_ORDER_SLACK = 100

# Printed words of navigation marks (``synth.unfold`` reads MusicXML words with them too).
_WORD_DACAPO = re.compile(r"^\W*(d\.\s*c\.|da\s*capo)", re.IGNORECASE)
_WORD_DALSEGNO = re.compile(r"^\W*(d\.\s*s\.|dal\s*segno)", re.IGNORECASE)
_WORD_FINE = re.compile(r"^\W*fine\W*$", re.IGNORECASE)
_WORD_TOCODA = re.compile(r"\bto\s*coda\b|\ba\s*la\s*coda\b", re.IGNORECASE)


@dataclass
class MeasureMarks:
    """The repeat and navigation marks of one measure (all parts together).

    Attributes
    ----------
    repeat_start : bool
        A start (forward) repeat barline at the measure's beginning.
    repeat_end : bool
        An end (backward) repeat barline at the measure's end.
    times : int
        How many times the section ending here is played (with ``repeat_end``).
    endings : tuple of int
        The numbers of the ending (volta bracket) the measure is in, ``()`` if none.
    ending_first, ending_last : bool
        The measure is the first / last measure of its ending.
    segno : bool
        A segno sign (the target of D.S.).
    coda : bool
        A coda sign (the last one is the target of "To Coda").
    tocoda : bool
        A "To Coda" mark: after a D.C./D.S. jump, the music goes on at the coda.
    fine : bool
        "Fine": after a D.C./D.S. jump, the music ends with this measure.
    dacapo : bool
        D.C. (any "al ..."): at the measure's end, back to the beginning.
    dalsegno : bool
        D.S. (any "al ..."): at the measure's end, back to the segno.
    """

    repeat_start: bool = False
    repeat_end: bool = False
    times: int = DEFAULT_REPEAT_TIMES
    endings: tuple = ()
    ending_first: bool = False
    ending_last: bool = False
    segno: bool = False
    coda: bool = False
    tocoda: bool = False
    fine: bool = False
    dacapo: bool = False
    dalsegno: bool = False


def read_words(text: str, marks: MeasureMarks) -> None:
    """Set the navigation mark that printed words name, if any.

    Parameters
    ----------
    text : str
        The words as printed ("D.C. al Fine", "Fine", "To Coda", "Dal Segno", ...).
    marks : MeasureMarks
        The measure's marks, updated in place: ``dacapo``, ``dalsegno``, ``fine``
        or ``tocoda``. Other words leave it unchanged.

    Examples
    --------
    >>> m = MeasureMarks()
    >>> read_words("D.S. al Coda", m); m.dalsegno
    True
    """
    t = (text or "").strip()
    if _WORD_DACAPO.search(t):
        marks.dacapo = True
    elif _WORD_DALSEGNO.search(t):
        marks.dalsegno = True
    elif _WORD_FINE.search(t):
        marks.fine = True
    elif _WORD_TOCODA.search(t):
        marks.tocoda = True


def playing_order(marks: Sequence[MeasureMarks]) -> list[int]:
    """Measure indices in playing order.

    Repeats (with ``times``), first/second endings, D.C./D.S. (al Fine, al Coda)
    are taken; see the module's conventions. Malformed marks cannot make it loop
    forever: the order is cut at 20 plays per measure.

    Parameters
    ----------
    marks : sequence of MeasureMarks
        One per notated measure, in score order (anything with the same
        attributes works, e.g. ``synth.unfold``'s measures).

    Returns
    -------
    list of int
        Indices into ``marks``, in the order the measures are played.

    Examples
    --------
    D.S. al Coda: segno on measure 1, "To Coda" on 2, D.S. on 3, coda on 4.

    >>> m = [MeasureMarks() for _ in range(5)]
    >>> m[1].segno = m[2].tocoda = m[3].dalsegno = m[4].coda = True
    >>> playing_order(m)
    [0, 1, 2, 3, 1, 2, 4]

    A section played three times:

    >>> playing_order([MeasureMarks(), MeasureMarks(repeat_end=True, times=3)])
    [0, 1, 0, 1, 0, 1]
    """
    measures = marks
    n = len(measures)
    segno = next((i for i, m in enumerate(measures) if m.segno), 0)
    coda_marks = [i for i, m in enumerate(measures) if m.coda]
    tocoda_marks = {i for i, m in enumerate(measures) if m.tocoda}
    coda_target = coda_marks[-1] if coda_marks else None
    if not tocoda_marks and len(coda_marks) >= 2:
        tocoda_marks = set(coda_marks[:-1])  # "⊕" at the jump and at the target
    # last ending of each set of endings (consecutive ending spans)
    spans = []
    i = 0
    while i < n:
        if measures[i].endings and measures[i].ending_first:
            j = i
            while j < n - 1 and not measures[j].ending_last:
                j += 1
            spans.append((i, j, measures[i].endings))
            i = j + 1
        else:
            i += 1
    span_at = {a: (a, b, nums) for a, b, nums in spans}
    last_of_set = set()  # first measure of the last ending of each set
    set_ends = set()  # last measure of the last ending of each set
    set_sizes: dict[int, int] = {}
    set_of: dict[int, int] = {}  # measure -> its set of endings (consecutive spans)
    set_no = 0
    for k, (a, b, nums) in enumerate(spans):
        nxt = spans[k + 1] if k + 1 < len(spans) else None
        for x in range(a, b + 1):
            set_of[x] = set_no
        set_sizes[set_no] = set_sizes.get(set_no, 0) + 1
        if nxt is None or nxt[0] != b + 1:
            last_of_set.add(a)
            set_ends.add(b)
            set_no += 1

    real_sets = {k for k, size in set_sizes.items() if size > 1}  # 1st and 2nd ending

    def section_start(j: int) -> int:
        """Where the section that the end repeat at ``j`` repeats begins."""
        for k in range(j, -1, -1):
            if measures[k].repeat_start:
                return k
            if k == j:
                continue
            # the previous section ends at an end repeat (unless it closes an earlier
            # ending of this set: 1st and 2nd endings that both repeat) or at the
            # end of the last ending of an earlier set
            if measures[k].repeat_end and not (k in set_of and set_of[k] == set_of.get(j)):
                return k + 1
            if k in set_ends and set_of[k] in real_sets and set_of[k] != set_of.get(j):
                return k + 1
        return 0

    order = []
    count: dict[int, int] = {}
    pass_no = 1
    jumped = False
    i = 0
    came_by_jump = False
    limit = _MAX_PLAYS_PER_MEASURE * n + _ORDER_SLACK
    while 0 <= i < n and len(order) < limit:
        m = measures[i]
        if m.repeat_start and not came_by_jump:
            pass_no = 1
        elif (not came_by_jump and order and i not in set_of
              and (order[-1] in set_of or measures[order[-1]].repeat_end)):
            pass_no = 1  # past a set of endings or a finished repeat: a new section
        came_by_jump = False
        span = span_at.get(i)
        if span is not None:
            a, b, nums = span
            play = (a in last_of_set) if jumped else (pass_no in nums or not nums)
            if not play:
                i = b + 1
                continue
        order.append(i)
        if jumped and m.fine:
            break
        if m.repeat_end and not jumped:
            c = count.get(i, 0)
            if c < m.times - 1:
                count[i] = c + 1
                pass_no += 1
                i = section_start(i)
                came_by_jump = True
                continue
        if jumped and i in tocoda_marks and coda_target is not None and coda_target > i:
            i = coda_target
            came_by_jump = True
            continue
        if not jumped and (m.dacapo or m.dalsegno):
            jumped = True
            i = 0 if m.dacapo else segno
            pass_no = 1
            came_by_jump = True
            continue
        i += 1
    return order


# ------------------------------------------------------------------ music21 scores


def _ending_numbers(bracket) -> tuple:
    """The numbers of a ``spanner.RepeatBracket`` ("1, 2" -> (1, 2))."""
    for attr in ("numberRange", "getNumberList"):
        value = getattr(bracket, attr, None)
        if callable(value):
            value = value()
        if value:
            return tuple(int(x) for x in value)
    return tuple(int(x) for x in re.findall(r"\d+", str(bracket.number or "")))


def _text(expression) -> str:
    """The words of a music21 RepeatExpression ("" when it has none)."""
    try:
        text = expression.getText()
    except AttributeError:  # no TextExpression inside
        return ""
    return text if isinstance(text, str) else ""


def _parts(score) -> list:
    """The parts of a score (a lone part or measure stream: itself)."""
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) else []
    return parts or [score]


def marks_from_score(score) -> list[MeasureMarks]:
    """The repeat and navigation marks of each measure of a music21 score.

    Reads the objects music21 makes when it parses MusicXML: ``bar.Repeat`` on
    left and right barlines (direction start/end, ``times``),
    ``spanner.RepeatBracket`` (endings, with their numbers), ``repeat.Segno``,
    ``repeat.Coda`` (its text "To Coda" makes a jump mark, otherwise a coda sign),
    ``repeat.Fine``, ``repeat.DaCapo*``, ``repeat.DalSegno*``, and
    ``expressions.TextExpression`` whose words are navigation ("Fine",
    "D.C. al Fine", "D.S. al Coda", "To Coda", ...). Marks in any part count; the
    measures are those of the first part, the same index in every part.

    Parameters
    ----------
    score : music21.stream.Score
        The score (a single ``Part`` works too).

    Returns
    -------
    list of MeasureMarks
        One per measure of the first part, in order.

    Examples
    --------
    >>> import music21
    >>> from music21 import bar
    >>> s = music21.converter.parse("tinyNotation: 4/4 c1 d1 e1")
    >>> ms = s.getElementsByClass("Measure")
    >>> ms[1].rightBarline = bar.Repeat(direction="end", times=3)
    >>> [m.repeat_end for m in marks_from_score(s)]
    [False, True, False]
    >>> playing_order(marks_from_score(s))
    [0, 1, 0, 1, 0, 1, 2]
    """
    from music21 import bar, expressions, repeat, spanner, stream

    parts = _parts(score)
    first = list(parts[0].getElementsByClass(stream.Measure))
    n = len(first)
    marks = [MeasureMarks() for _ in range(n)]

    def repeat_barline(b, i: int) -> None:
        # music21 makes a left repeat barline a start, a right one an end
        if not isinstance(b, bar.Repeat):
            return
        if b.direction == "start":
            marks[i].repeat_start = True
        elif b.direction == "end":
            marks[i].repeat_end = True
            if b.times:
                marks[i].times = max(int(b.times), 1)

    for part in parts:
        measures = list(part.getElementsByClass(stream.Measure))[:n]
        index = {id(m): i for i, m in enumerate(measures)}
        brackets = {}
        for i, m in enumerate(measures):
            mm = marks[i]
            repeat_barline(m.leftBarline, i)
            repeat_barline(m.rightBarline, i)
            for rb in m.getSpannerSites([spanner.RepeatBracket]):
                brackets[id(rb)] = rb
            for el in m.recurse():
                if isinstance(el, bar.Barline):
                    continue
                if isinstance(el, repeat.Segno):
                    mm.segno = True
                elif isinstance(el, repeat.Coda):
                    if _WORD_TOCODA.search(_text(el)):
                        mm.tocoda = True
                    else:
                        mm.coda = True
                elif isinstance(el, repeat.Fine):
                    mm.fine = True
                elif isinstance(el, (repeat.DaCapo, repeat.DaCapoAlFine, repeat.DaCapoAlCoda)):
                    mm.dacapo = True
                elif isinstance(el, (repeat.DalSegno, repeat.DalSegnoAlFine,
                                     repeat.DalSegnoAlCoda)):
                    mm.dalsegno = True
                elif isinstance(el, repeat.RepeatExpression):
                    read_words(_text(el), mm)
                elif isinstance(el, expressions.TextExpression):
                    read_words(el.content if isinstance(el.content, str) else "", mm)
        for rb in brackets.values():
            spanned = [index[id(m)] for m in rb.getSpannedElements() if id(m) in index]
            if not spanned:
                continue
            nums = _ending_numbers(rb)
            a, b = min(spanned), max(spanned)
            for k in range(a, b + 1):
                marks[k].endings = nums
            marks[a].ending_first = True
            marks[b].ending_last = True
    return marks


def unfold_measures(score) -> list[int]:
    """Measure indices of a music21 score in playing order.

    Shorthand for ``playing_order(marks_from_score(score))``.

    Parameters
    ----------
    score : music21.stream.Score
        The score (a single ``Part`` works too).

    Returns
    -------
    list of int
        Indices into the first part's measures (``part.getElementsByClass("Measure")``).

    Examples
    --------
    >>> import music21
    >>> from music21 import bar
    >>> s = music21.converter.parse("tinyNotation: 4/4 c1 d1")
    >>> s.getElementsByClass("Measure")[0].rightBarline = bar.Repeat(direction="end")
    >>> unfold_measures(s)
    [0, 0, 1]
    """
    return playing_order(marks_from_score(score))
