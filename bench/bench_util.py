"""Small helpers shared by the benchmark scripts (run as ``python bench/NAME.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import math


def json_safe(x):
    """``x`` with every NaN replaced by None (JSON has no NaN), through dicts and lists."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [json_safe(v) for v in x]
    return x
