"""Implied notation: what the engraver left out and a musician infers.

Every function here changes the events of one voice of one measure so that the voice
adds up to the measure's length, and returns what it inferred, in words, for the
transcription's report. Inferred events are marked (``Event.inferred``) so the
output can show them.

- :func:`implied_tuplets`: a tuplet printed only on the first group applies to later
  groups of the same shape when the voice overfills its measure.
- :func:`place_by_columns`: a voice with notes missing (rests left out, children's
  music) takes its onsets from the columns of the other voices and staves.
- :func:`fill_with_rests`: gaps and a short end are filled with rests.
- :func:`trim_overfull`: the last resort when nothing explains an overfull voice.
- :func:`reread`: before all these, a rest or a note the detector also read as
  another rest or notehead takes that reading when it makes the voice fill its
  measure exactly.

Examples
--------
>>> from fractions import Fraction as F
>>> from omr.notation.rhythm import Event
>>> eighths = [Event(x=i, heads=[i], base=F(1, 2), beamed=True, beam_group=i // 3) for i in range(6)]
>>> eighths[0].tuplet = eighths[1].tuplet = eighths[2].tuplet = (3, 2)
>>> eighths[0].tuplet_printed = True
>>> implied_tuplets(eighths, bar=F(2), shapes=[((F(1, 2), 0),) * 3 + ((3, 2),)])
['a 3:2 tuplet printed earlier applies to 1 more group']
>>> sum(e.duration for e in eighths)
Fraction(2, 1)
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from fractions import Fraction

from omr.notation.rhythm import Event, dotted
from omr.notation.voices import set_onsets, total

#: Onsets of events within this many staff spaces of a column of another voice take
#: that column's onset.
COLUMN_MATCH_SS = 0.8


def tuplet_shape(group: list[Event]) -> tuple:
    """What identifies a tuplet group: its events' (base, dots), then the ratio."""
    return tuple((e.base, e.dots) for e in group) + (group[0].tuplet,)


def _groups(events: list[Event]) -> list[list[Event]]:
    """Consecutive events sharing a beam, or standing alone."""
    out: list[list[Event]] = []
    for e in events:
        if out and e.beam_group is not None and out[-1][-1].beam_group == e.beam_group:
            out[-1].append(e)
        else:
            out.append([e])
    return out


def _unbeamed_runs(events: list[Event], body: tuple, span: Fraction) -> Iterator[list[Event]]:
    """Runs of consecutive unbeamed events, not tuplets yet, whose (base, dots) are
    ``body`` and that start on a beat of ``span`` (the tuplet's sounding length)
    counted from the voice's start, left to right. The caller makes each run it is
    given a tuplet before asking for the next, which is sought after it."""
    n = len(body)
    i, t = 0, Fraction(0)
    while i + n <= len(events):
        run = events[i:i + n]
        if t % span == 0 and all(e.beam_group is None and not e.tuplet and not e.grace for e in run) \
                and tuple((e.base, e.dots) for e in run) == body:
            yield run
            t += sum((e.duration for e in run), Fraction(0))  # as a tuplet now
            i += n
        else:
            t += events[i].duration
            i += 1


#: Beamed groups of three equal eighths or sixteenths: tried as triplets after the
#: printed shapes (the number over a group is easily missed, and printed once).
PLAIN_TRIPLETS = (((Fraction(1, 2), 0),) * 3 + ((3, 2),), ((Fraction(1, 4), 0),) * 3 + ((3, 2),))


def implied_tuplets(events: list[Event], *, bar: Fraction, shapes: list[tuple]) -> list[str]:
    """Make later groups tuplets like an earlier printed one while the voice
    overfills ``bar``. ``shapes`` are :func:`tuplet_shape` of printed tuplet groups
    seen so far (most recent last). A group is a beam group, or, for a printed shape,
    a run of as many unbeamed notes and rests starting on one of the tuplet's beats
    (triplets of flagged eighths under a bracket, as in vocal music, print the
    bracket only over the first). After the printed shapes (or without any), beamed
    groups of three equal eighths or sixteenths are tried as triplets
    (``PLAIN_TRIPLETS``). A doubtful dot (``Event.doubtful_dot``) that gives a
    group another shape is none.

    Before all these, a group under a doubtful tuplet number (``Event.doubtful_tuplet``:
    seen, too faintly to read) is made the tuplet it gives."""
    if total(events) <= bar:
        return []
    lines = _faint_tuplets(events, bar=bar)
    if total(events) <= bar:
        return lines
    plain = [s for s in PLAIN_TRIPLETS if s not in shapes]
    candidates = list(reversed(shapes)) + plain
    done = 0
    ratio = None
    for shape in candidates:
        body, r = shape[:-1], shape[-1]
        if r[0] <= r[1]:
            continue  # a duplet (2:3) lengthens its notes: it fills no overfull measure
        beamed = [g for g in _groups(events) if g[0].beam_group is not None]
        span = sum((dotted(b, d) for b, d in body), Fraction(0)) * Fraction(r[1], r[0])
        unbeamed = _unbeamed_runs(events, body, span) if shape in shapes and len(body) > 1 else []
        for group in itertools.chain(beamed, unbeamed):
            if total(events) <= bar:
                break
            if any(e.tuplet for e in group) or len(group) != len(body):
                continue
            if tuple((e.base, e.dots) for e in group) != body \
                    and tuple((e.base, e.dots - e.doubtful_dot) for e in group) != body:
                continue
            for e, (_, dots) in zip(group, body):
                e.dots = dots  # a doubtful dot that gave the group another shape is none
                e.tuplet = r
                e.inferred = e.inferred or "implied tuplet"
            done += 1
            ratio = r
        if total(events) <= bar:
            break
    if not done:
        return lines
    return lines + [f"a {ratio[0]}:{ratio[1]} tuplet printed earlier applies to {done} more group"
                    + ("s" if done > 1 else "")]


def _faint_tuplets(events: list[Event], *, bar: Fraction) -> list[str]:
    """Make each group under a doubtful tuplet number (``Event.doubtful_tuplet``)
    that tuplet, left to right, while the voice overfills ``bar`` (marked
    ``inferred='implied tuplet'``); what was done, in words."""
    lines = []
    for number in dict.fromkeys(e.doubtful_tuplet for e in events if e.doubtful_tuplet):
        if total(events) <= bar:
            break
        group = [e for e in events if e.doubtful_tuplet == number]
        if any(e.tuplet for e in group):
            continue
        for e in group:
            e.tuplet = number[1]
            e.tuplet_printed = True
            e.inferred = e.inferred or "implied tuplet"
        lines.append(f"a faintly seen {number[1][0]}:{number[1][1]} tuplet number applies to its group")
    return lines


def place_by_columns(events: list[Event], columns: dict[float, Fraction], staff_space: float) -> bool:
    """Give each event the onset of the column (x → onset, from complete voices) it
    stands in; True if every event found a column in increasing time order."""
    if not columns or not events:
        return False
    xs = sorted(columns)
    onsets = []
    for e in events:
        x = min(xs, key=lambda c: abs(c - e.x))
        if abs(x - e.x) > COLUMN_MATCH_SS * staff_space:
            return False
        onsets.append(columns[x])
    if any(b < a + ev.duration for a, b, ev in zip(onsets, onsets[1:], events)):
        return False
    for e, t in zip(events, onsets):
        e.onset = t
    return True


#: Horizontal space an engraver gives a note grows about like its duration to this
#: power (verovio's default spacing); used to find where rests were left out.
SPACING_EXPONENT = 0.6
#: Space before the first note of a measure, staff spaces.
LEAD_SPACE_SS = 1.5


def place_by_spacing(events: list[Event], *, length: Fraction, x0: float, x1: float,
                     staff_space: float) -> None:
    """Onsets for a voice shorter than ``length`` that no other voice lines up with:
    the missing time goes where the horizontal spacing leaves the most unexplained
    room (before the first note, between two notes, or after the last)."""
    missing = length - total(events)
    if missing <= 0 or not events:
        set_onsets(events)
        return

    def width(d: Fraction) -> float:
        return float(max(d, Fraction(1, 16))) ** SPACING_EXPONENT

    pairs = [(b.x - a.x, width(a.duration)) for a, b in zip(events, events[1:]) if a.duration > 0]
    ratios = sorted(w / f for w, f in pairs if w > 0)
    unit = ratios[len(ratios) // 2] if ratios else 4.0 * staff_space
    gaps = [events[0].x - x0 - LEAD_SPACE_SS * staff_space]
    gaps += [(b.x - a.x) - unit * width(a.duration) for a, b in zip(events, events[1:])]
    gaps.append((x1 - events[-1].x) - unit * width(events[-1].duration))
    where = max(range(len(gaps)), key=lambda i: gaps[i])
    t = Fraction(0)
    for i, e in enumerate(events):
        if i == where:
            t += missing
        e.onset = t
        t += e.duration


def _alternative_lasting(e: Event, length: Fraction) -> Fraction | None:
    """The first of ``e``'s ``alternatives`` (surest first) that lasts ``length`` with
    ``e``'s dots, or None."""
    return next((alt for alt in e.alternatives if dotted(alt, e.dots) == length), None)


def reread_before_gaps(events: list[Event], *, length: Fraction) -> list[str]:
    """Where a note (its onset placed by the other voices' columns or by spacing)
    leaves time before the next event, or before the measure's ``length``, that one
    of its ``alternatives`` fills exactly, read it so (marked ``inferred='reread'``):
    a half note whose hollow blur filled, rather than a rest left out after it."""
    lines = []
    for i, e in enumerate(events):
        if e.is_rest or e.grace or e.tuplet or not e.alternatives:
            continue
        end = events[i + 1].onset if i + 1 < len(events) else length
        gap = end - (e.onset + e.duration)
        if gap <= 0:
            continue
        alt = _alternative_lasting(e, e.duration + gap)
        if alt is not None:
            lines.append(f"a note read as {e.base} quarter note(s) is one of {alt}: that fills the time after it")
            e.base, e.inferred = alt, "reread"
    return lines


def fill_with_rests(events: list[Event], *, bar: Fraction, start: Fraction = Fraction(0)) -> tuple[list[Event], list[str]]:
    """Events (with onsets set) plus rests in the gaps and up to ``bar``; the new
    list and what was restored."""
    out: list[Event] = []
    t = start
    restored = Fraction(0)
    for e in events:
        if e.onset > t:
            out.append(_rest(t, e.onset - t, e.x - 1.0, e.voice))
            restored += e.onset - t
        out.append(e)
        t = max(t, e.onset + e.duration)
    if t < bar:
        x = (events[-1].x + 1.0) if events else 0.0
        out.append(_rest(t, bar - t, x, events[0].voice if events else 1))
        restored += bar - t
    if not restored:
        return out, []
    return out, [f"restored {restored} quarter note(s) of rest left out"]


def _rest(onset: Fraction, length: Fraction, x: float, voice: int) -> Event:
    e = Event(x=x, rest=-1, base=length, voice=voice, onset=onset, inferred="restored rest")
    return e


def reread(events: list[Event], *, bar: Fraction) -> list[str]:
    """When the voice ``events`` does not fill ``bar`` but would without one doubtful
    dot (``Event.doubtful_dot``, the first such), or with one rest or note read as
    one of its ``alternatives`` (the first such, left to right, surest reading
    first), or with every note of one beam group that has an alternative read as its
    first, or with every note and rest that has one read as its first, read them so
    (marked ``inferred='reread'``)."""
    have = total(events)
    if have == bar:
        return []
    for e in events:
        # a doubtful dot (grain or a speck beside the note) that overfills the measure
        if e.doubtful_dot and e.dots and not e.grace \
                and have - e.duration + _without_a_dot(e) == bar:
            e.dots -= 1
            e.inferred = "reread"
            what = "rest" if e.is_rest else "note"
            return [f"a doubtful dot after a {what} is none: that fills the measure"]
    candidates = [e for e in events if e.alternatives and not e.tuplet and not e.grace]
    for e in candidates:
        alt = _alternative_lasting(e, bar - have + e.duration)
        if alt is not None:
            before = e.base
            e.base, e.inferred = alt, "reread"
            what = "rest" if e.is_rest else "note"
            return [f"a {what} read as {before} quarter note(s) is one of {alt}: that fills the measure"]
    groups: dict[int, list[Event]] = {}
    for e in candidates:
        if e.beam_group is not None:
            groups.setdefault(e.beam_group, []).append(e)
    for group in groups.values():
        # all of them, or those of one length that blur gave a line too few (or too
        # many): the 32nds of a 64th group whose fourth line was lost at most stems
        alike = [[e for e in group if e.base == base and (e.alternatives[0] < e.base) == shorter]
                 for base in sorted({e.base for e in group}) for shorter in (True, False)]
        for members in [group] + alike:
            if _reread_together(members, have, bar):
                return [f"{len(members)} notes of one beam read with the beam lines the detector saw, or "
                        f"its neighbours show: that fills the measure"]
    # a blurred photo fills the hollow of every half note of a measure alike
    if _reread_together(candidates, have, bar):
        return [f"{len(candidates)} notes and rests read as the detector's other readings of them: "
                f"that fills the measure"]
    return _fewest_rereads(events, have, bar)


#: At most this many rereadings (alternatives, doubtful dots) together explain a
#: measure that does not add up, of at most this many candidates.
MAX_REREADS = 3
MAX_REREAD_CANDIDATES = 16


def _fewest_rereads(events: list[Event], have: Fraction, bar: Fraction) -> list[str]:
    """The fewest (two to ``MAX_REREADS``) rereadings that make the voice, now
    ``have`` long, fill ``bar``, where only one set of that many does: a note or rest
    read as its first alternative, a doubtful dot taken as none (two flags read as
    an eighth's and grain read as a dot beside a sixteenth: three misreadings of one
    measure, each of which the detector doubted). Applied and reported; none where
    no such set is unique."""
    edits = []  # (event, the change in its length, "alternative" or "dot")
    for e in events:
        if e.grace or e.tuplet:
            continue
        if e.alternatives:
            edits.append((e, dotted(e.alternatives[0], e.dots) - e.duration, "alternative"))
        if e.doubtful_dot and e.dots:
            edits.append((e, _without_a_dot(e) - e.duration, "dot"))
    if len(edits) > MAX_REREAD_CANDIDATES:
        return []
    for k in range(2, MAX_REREADS + 1):
        found = [c for c in itertools.combinations(edits, k)
                 if len({id(e) for e, _, _ in c}) == k and have + sum(d for _, d, _ in c) == bar]
        if len(found) > 1:
            return []
        if found:
            for e, _, kind in found[0]:
                if kind == "dot":
                    e.dots -= 1
                else:
                    e.base = e.alternatives[0]
                e.inferred = "reread"
            return [f"{k} notes and rests read as the detector's other readings of them, or without a "
                    f"doubtful dot: that fills the measure"]
    return []


def _without_a_dot(e: Event) -> Fraction:
    """How long ``e`` lasts with one dot fewer."""
    return dataclasses.replace(e, dots=e.dots - 1).duration


def _reread_together(events: list[Event], have: Fraction, bar: Fraction) -> bool:
    """Read the two or more ``events`` (each with ``alternatives``) as their first
    alternatives if that makes the voice, now ``have`` long, fill ``bar``; whether so."""
    change = sum((dotted(e.alternatives[0], e.dots) - e.duration for e in events), Fraction(0))
    if len(events) < 2 or have + change != bar:
        return False
    for e in events:
        e.base, e.inferred = e.alternatives[0], "reread"
    return True


def trim_overfull(events: list[Event], *, bar: Fraction) -> list[str]:
    """Cut the voice at ``bar``: events starting at or after it are dropped (marked
    ``inferred='dropped'``), the one crossing it is shortened."""
    set_onsets(events)
    over = total(events) - bar
    if over <= 0:
        return []
    for e in events:
        if e.onset >= bar:
            e.inferred = "dropped"
        elif e.onset + e.duration > bar:
            e.base = (bar - e.onset) if not e.tuplet else (bar - e.onset) * Fraction(e.tuplet[0], e.tuplet[1])
            e.dots = 0
            e.inferred = "shortened"
    events[:] = [e for e in events if e.inferred != "dropped"]
    return [f"overfull by {over} quarter note(s); cut to fit"]
