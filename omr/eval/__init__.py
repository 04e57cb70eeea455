"""Evaluation metrics, one module per task, in the style of ``mir_eval``.

Each module has a ``validate(reference, estimated)`` that raises
:class:`omr.errors.ParameterError` on malformed input, small metric functions, and an
``evaluate(reference, estimated, **kwargs)`` that returns an ordered dict of scores.

- :mod:`omr.eval.detection`: symbol detection (average precision per class, mAP,
  mAP per graph role of :mod:`omr.vocab`).
"""
