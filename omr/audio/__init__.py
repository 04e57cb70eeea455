"""Recordings: playback (FluidSynth), loading, score-to-audio alignment, comparison.

The submodules are imported on first use (alignment pulls in synctoolbox, librosa
and numba, which take seconds to import):

- :mod:`omr.audio.io`: :func:`load_audio`, :class:`AudioError`
- :mod:`omr.audio.synth`: :func:`render`, :func:`render_to_wav`, :class:`SynthError`
- :mod:`omr.audio.align`: :func:`align`, :func:`score_notes`, :func:`write_csv`
- :mod:`omr.audio.compare`: :func:`compare`
- :mod:`omr.audio.cli`: the ``omr align`` command
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_audio": "omr.audio.io",
    "AudioError": "omr.audio.io",
    "render": "omr.audio.synth",
    "render_to_wav": "omr.audio.synth",
    "SynthError": "omr.audio.synth",
    "align": "omr.audio.align",
    "score_notes": "omr.audio.align",
    "write_csv": "omr.audio.align",
    "Alignment": "omr.audio.align",
    "ScoreNote": "omr.audio.align",
    "compare": "omr.audio.compare",
    "Comparison": "omr.audio.compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'omr.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
