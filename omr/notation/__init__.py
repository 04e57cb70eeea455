"""Reading the staff graph as music: pitch, rhythm, voices, implied notation, repeats.

Each module is a set of plain functions over plain data (see ``docs/architecture.md``):
:mod:`omr.notation.repeats` holds the repeat structure of a score (repeat barlines,
endings, segno/coda/Fine, D.C./D.S.) and the playing order that unfolds it.
"""
