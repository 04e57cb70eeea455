"""omr: sheet music from a phone photo.

The public API (imported lazily, so ``import omr`` stays light):

- :func:`omr.transcribe` (:func:`omr.pipeline.transcribe`): photos of a piece's
  pages → :class:`~omr.pipeline.Transcription` (``.score``, ``.detections``,
  ``.graph``, ``.report``);
- :class:`omr.Transcription`, :class:`omr.Report`.
"""

from __future__ import annotations

__all__ = ["transcribe", "Transcription", "Report"]


def __getattr__(name: str):
    if name in ("transcribe", "Transcription"):
        from omr import pipeline

        return getattr(pipeline, name)
    if name == "Report":
        from omr.score import Report

        return Report
    raise AttributeError(f"module 'omr' has no attribute {name!r}")
