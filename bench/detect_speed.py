"""End-to-end time of ``omr.detect.infer.detect`` on a 12-megapixel phone photo.

    python bench/detect_speed.py [--repeats 5] [--threads 2] [--size 3000x4000]
        [--seed 0] [--image PHOTO] [--keep PHOTO.jpg] [--checkpoint PATH]
        [--device cpu|cuda|auto] [--json OUT]

The photo: page 1 of a generated score (``synth.generate.generate_score``), engraved
with ``synth.engrave`` (random layout from ``sample_options``), photographed by
``synth.camera.photograph`` at mild difficulty, then resized with OpenCV to
``--size`` (width x height; default 3000x4000, a 12 MP phone photo held upright
like the page). The camera simulation itself makes photos of at most about 2000 px
a side (10-20 px per staff space), so the resize is an upscale: the pixel count,
which sets the time of loading and page analysis, is that of a real 12 MP photo,
and the staff space (printed, as the detector measures it) is in the range of real
ones (about 15-40 px). The photo is saved
as a JPEG (quality 92) in a temporary folder and ``detect(path)`` is timed from the
path, as the ``omr detect`` command would run it. ``--image`` times a photo of
your own instead. ``--device cuda`` runs the network on a GPU (page analysis and
decoding stay on the CPU).

One warm-up run is excluded; the median of ``--repeats`` runs is reported, in total
and per stage (``result.timings``), with the machine (CPU model, cores, threads)
and the torch version.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must be WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError("--size is too small")
    return w, h


def make_photo(seed: int, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A synthetic phone photo (RGB uint8) of ``size`` (w, h) and how it was made."""
    from synth import camera, engrave, generate

    rng = np.random.default_rng(seed)
    score = generate.generate_score(seed)
    options = engrave.sample_options(rng)
    page = engrave.Engraver(score.musicxml, options).render_page(1)
    boxes = np.array([s.box for s in page.symbols], np.float32).reshape(-1, 4)
    photo = camera.photograph(page.image, boxes, rng, difficulty=0.3,
                              staff_space_px=page.staff_space_px)
    ph, pw = photo.image.shape[:2]
    w, h = size
    resized = cv2.resize(photo.image, (w, h),
                         interpolation=cv2.INTER_CUBIC if w * h > pw * ph else cv2.INTER_AREA)
    how = (f"generated score (seed {seed}), font {options.font}, engraved {page.image.shape[1]}x"
           f"{page.image.shape[0]} px, photographed by synth.camera to {pw}x{ph} px, "
           f"resized with cv2 to {w}x{h} px ({w * h / 1e6:.1f} MP)")
    return resized, how


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: int, device: str = "cpu") -> dict:
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": usable,
            "torch_threads": threads, "torch": torch.__version__, "device": device,
            "gpu": gpu, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch (and OpenCV) threads")
    parser.add_argument("--size", type=parse_size, default=(3000, 4000), help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=0, help="which generated score and photo")
    parser.add_argument("--image", type=Path, default=None, help="time this photo instead")
    parser.add_argument("--keep", type=Path, default=None, help="also save the synthetic photo here")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--device", default="cpu", help="where the network runs: cpu, cuda, auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    import torch

    from omr.detect.infer import detect, load_model

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        if args.image:
            path, how = args.image, f"photo {args.image}"
        else:
            print("making the photo ...", file=sys.stderr)
            rgb, how = make_photo(args.seed, args.size)
            path = Path(tmp) / "photo.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            if args.keep:
                args.keep.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(args.keep), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 92])

        t = time.perf_counter()
        model = load_model(args.checkpoint, device=args.device)
        load_seconds = time.perf_counter() - t

        totals, stages, n_detections = [], [], 0
        for k in range(args.repeats + 1):
            print(f"\r{'warm-up' if k == 0 else f'run {k}/{args.repeats}'}   ",
                  end="", file=sys.stderr, flush=True)
            t = time.perf_counter()
            result = detect(str(path), model=model)
            seconds = time.perf_counter() - t
            if k == 0:
                continue  # warm-up
            totals.append(seconds)
            stages.append(dict(result.timings))
            n_detections = len(result.detections)
        print(file=sys.stderr)
        width, height = result.image_size
        staff_space = float(result.staff_space)

    names = list(dict.fromkeys(name for s in stages for name in s))
    per_stage = {name: statistics.median(s.get(name, 0.0) for s in stages) for name in names}
    info = machine(args.threads, str(model.device))
    median = statistics.median(totals)

    print(f"# detect() end to end: {how}\n")
    print(f"machine: {info['cpu']}, {info['cores_usable']} of {info['cores']} cores usable, "
          f"{args.threads} torch threads, torch {info['torch']}, python {info['python']}, "
          f"network on {info['gpu'] or 'the CPU'}")
    print(f"image {width}x{height} px, staff space {staff_space:.1f} px, {n_detections} detections; "
          f"load_model() {load_seconds:.2f} s (once, not in the table)\n")
    print(f"| stage | median s ({args.repeats} runs, warm-up excluded) |")
    print("|---|---:|")
    for name, value in per_stage.items():
        print(f"| {name} | {value:.3f} |")
    other = median - sum(per_stage.values())
    print(f"| (outside the stages) | {other:.3f} |")
    print(f"| **total** | **{median:.3f}** |")
    print(f"\nruns: {', '.join(f'{s:.2f}' for s in totals)} s")

    if args.json:
        out = {"photo": how, "image_size": [width, height], "staff_space_px": staff_space,
               "detections": n_detections, "repeats": args.repeats, "threads": args.threads,
               "median_s": median, "runs_s": totals, "stages_median_s": per_stage,
               "load_model_s": load_seconds, "machine": info}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
