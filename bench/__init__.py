"""Accuracy and speed benchmarks (not run in CI).

Each ``bench/NAME.py`` is a script of its own (``python bench/NAME.py --help``);
``python -m bench`` runs them all as one suite (:mod:`bench.suite`) and writes
``bench/results.json`` and ``bench/results.md``.
"""
