"""Voices on one staff, and the onset of every event in its voice.

Engraved music shows two voices on one staff by stem direction: the upper voice's
stems point up, the lower voice's down, and simultaneous notes stand in one column.
A measure of one staff is read as two voices when two events with stems in opposite
directions stand in one column, or when reading everything as one voice overfills
the measure and both stem directions occur, or a stemless note (a whole note) stands
in one column with a stemmed one (it is held under or over it). Rests go to the
voice on their side of the middle line; the notes of one beam stay in one voice.

Examples
--------
>>> from fractions import Fraction
>>> from omr.notation.rhythm import Event
>>> up = Event(x=10, heads=[0], direction="up", base=Fraction(2), y=40)
>>> down = Event(x=10, heads=[1], direction="down", base=Fraction(2), y=70)
>>> voices = split_voices([up, down], bar=Fraction(2), staff_space=10, middle_y=60)
>>> sorted(voices), voices[1][0] is up
([1, 2], True)
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from omr.notation.rhythm import Event

#: Events whose x lie within this many staff spaces stand in one column.
COLUMN_SS = 0.6
#: A stemless note at least this long (quarter notes: a whole note) in one column
#: with a stemmed note is held under or over it, in a voice of its own.
HELD_MIN_QUARTERS = 4


def columns_conflict(events: list[Event], staff_space: float) -> bool:
    stemmed = sorted((e for e in events if e.direction and not e.grace and not e.is_rest),
                     key=lambda e: e.x)
    for i, a in enumerate(stemmed):
        for b in stemmed[i + 1:]:
            if b.x - a.x > 2.0 * staff_space:
                break
            if a.direction != b.direction and abs(a.x - b.x) < COLUMN_SS * staff_space:
                return True
    return False


def total(events: list[Event]) -> Fraction:
    """Summed duration of ``events`` (quarter notes)."""
    return sum((e.duration for e in events), Fraction(0))


def held_notes(events: list[Event], staff_space: float) -> dict[int, Event]:
    """Stemless notes (whole notes) that stand in one column with a stemmed note:
    index in ``events`` → that stemmed note. A whole note held under four quarters
    is a voice of its own."""
    stemmed = [e for e in events if e.direction and not e.grace and not e.is_rest]
    held = {}
    for i, e in enumerate(events):
        if e.is_rest or e.direction or e.grace or not e.heads or e.base < HELD_MIN_QUARTERS:
            continue  # (a loose black notehead is a chord's, its stem link missed)
        partner = min(stemmed, key=lambda s: abs(s.x - e.x), default=None)
        if partner is not None and abs(partner.x - e.x) < COLUMN_SS * staff_space:
            held[i] = partner
    return held


def voice_lengths(events: list[Event], staff_space: float) -> list[Fraction]:
    """How long the voices of a measure's ``events`` are, before any are split off
    (:func:`split_voices` as it would split them: stems in one column pointing two
    ways, or a whole note held in a stemmed note's column; rests and other stemless
    events count with both voices)."""
    held = held_notes(events, staff_space)
    if not held and not columns_conflict(events, staff_space):
        return [total(events)]
    ups = [e for i, e in enumerate(events) if e.direction != "down" and not (i in held and held[i].direction == "up")]
    downs = [e for i, e in enumerate(events) if e.direction != "up" and not (i in held and held[i].direction == "down")]
    return [total(ups), total(downs)]


def split_voices(events: list[Event], *, bar: Fraction, staff_space: float,
                 middle_y: float) -> dict[int, list[Event]]:
    """Voice number → its events in reading order (sets ``Event.voice``)."""
    directions = {e.direction for e in events if e.direction and not e.grace}
    held = held_notes(events, staff_space)
    two = (len(directions) == 2 and (columns_conflict(events, staff_space) or total(events) > bar)) or bool(held)
    voices: dict[int, list[Event]] = {}
    if not two:
        for e in events:
            e.voice = 1
        voices[1] = list(events)
        return voices
    for i, e in enumerate(events):
        if e.direction == "up":
            e.voice = 1
        elif e.direction == "down":
            e.voice = 2
        elif i in held:  # a note held under (over) a stemmed one: the other voice
            e.voice = 2 if held[i].direction == "up" else 1
        else:  # rests and stemless notes: by side of the middle line
            e.voice = 1 if e.y < middle_y else 2
    # one beam joins notes of one voice, even where its stems turn (an arpeggio
    # across the staff): the group goes to the voice most of its notes point to
    groups: dict[int, list[Event]] = {}
    for e in events:
        if e.beam_group is not None and not e.grace:
            groups.setdefault(e.beam_group, []).append(e)
    for members in groups.values():
        voice = Counter(m.voice for m in members).most_common(1)[0][0]  # ties: the first
        for m in members:
            m.voice = voice
    for e in events:
        voices.setdefault(e.voice, []).append(e)
    # a grace note goes with the voice of the note it leads to
    for v in voices.values():
        v.sort(key=lambda e: e.x)
    return dict(sorted(voices.items()))


def set_onsets(events: list[Event], start: Fraction = Fraction(0)) -> Fraction:
    """Onsets one after another from ``start``; returns where the voice ends."""
    t = start
    for e in events:
        e.onset = t
        t += e.duration
    return t
