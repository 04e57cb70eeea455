"""Pages per second of `synth build`, clean and camera, on one CPU core.

    python bench/synth_speed.py [--pages 40] [--repeats 3] [--json bench/out/synth_speed.json]

Runs the real build (sources, generator, verovio, resvg, camera, writing files) into a
temporary folder, pinned to one core with one thread for OpenCV and BLAS. Each
configuration is run ``--repeats`` times with different seeds; the median rate is
reported, because timings on a shared machine are noisy.
"""

from __future__ import annotations

import os

# One core, one thread: set before numpy/OpenCV load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2

from synth.build import BuildConfig, build

TARGETS = {"clean": 1.0, "camera": 0.5}  # pages per second, from issue #2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default="bench/out/synth_speed.json")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    results = {}
    for variant in ("clean", "camera"):
        rates = []
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                config = BuildConfig(pages=args.pages, seed=1000 + repeat, split="train",
                                     variants=(variant,))
                start = time.perf_counter()
                report = build(Path(tmp) / "ds", config, progress=False)
                seconds = time.perf_counter() - start
            rates.append(report.pages / seconds)
            print(f"{variant:6s} run {repeat + 1}: {report.pages} pages in {seconds:.1f}s "
                  f"= {rates[-1]:.2f} pages/s ({len(report.failed_jobs)} pieces skipped)")
        median = statistics.median(rates)
        results[variant] = {"pages_per_s_median": round(median, 3),
                            "runs": [round(r, 3) for r in rates],
                            "target": TARGETS[variant], "meets_target": median >= TARGETS[variant]}

    results["machine"] = {"cpu": platform.processor() or platform.machine(), "cores_used": 1,
                          "python": platform.python_version(),
                          "date": time.strftime("%Y-%m-%d")}
    results["pages_per_run"] = args.pages
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print()
    print("| variant | pages/s (median, 1 core) | target |")
    print("|---|---|---|")
    for variant in ("clean", "camera"):
        r = results[variant]
        print(f"| {variant} | {r['pages_per_s_median']:.2f} | >= {r['target']} |")


if __name__ == "__main__":
    main()
