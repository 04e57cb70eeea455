"""Train the symbol detector on synth/ camera pages.

    python -m omr.detect.train --train DATA/train --val DATA/val --cache DATA/prepared \\
        --steps 4000 --out omr/models/detector.pt

(``omr train detector`` runs the same.) The run is reproducible for a fixed seed and
data set, logs losses and validation metrics as JSON lines next to the checkpoint,
writes a checkpoint every ``--save-every`` steps, and ``--resume`` continues from it,
so a stop loses little.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from omr import vocab
from omr.detect import data
from omr.detect.infer import decode, resolve_device
from omr.detect.model import Detector, ModelConfig, count_parameters

#: Weights of the three losses (heatmap focal loss, log-size L1, offset L1).
LOSS_WEIGHTS = {"heatmap": 1.0, "size": 1.0, "offset": 1.0}


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per positive."""
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.ge(0.999).float()
    neg = 1.0 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * (1 - target) ** 4 * neg
    n = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def losses(out: dict, target: dict) -> dict[str, torch.Tensor]:
    mask = target["mask"].unsqueeze(1)
    n = mask.sum().clamp(min=1.0)
    return {
        "heatmap": focal_loss(out["heatmap"], target["heatmap"]),
        "size": (F.l1_loss(out["size"], target["size"], reduction="none") * mask).sum() / n,
        "offset": (F.l1_loss(out["offset"], target["offset"], reduction="none") * mask).sum() / n,
    }


def save_checkpoint(path: Path, model: Detector, *, step: int, meta: dict,
                    optimizer=None) -> None:
    """The shipped form: config + half-precision weights + metadata (no optimizer).
    With ``optimizer`` a ``.resume`` file with full state is written beside it."""
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    payload = {"format": "omr-detector-1", "config": model.config.to_dict(),
               "classes": list(vocab.DETECTED_NAMES), "state_dict": state,
               "step": step, "meta": meta}
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    if optimizer is not None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "meta": meta}, path.with_suffix(".resume.tmp"))
        path.with_suffix(".resume.tmp").replace(path.with_suffix(".resume"))


def lr_at(step: int, total: int, peak: float, warmup: int = 200, *,
          time_fraction: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine down to 2% of ``peak``.

    The cosine runs over ``total`` steps, or over the time budget when
    ``time_fraction`` (elapsed / allowed, see ``--max-minutes``) is further along:
    a run bounded by time still ends with a low learning rate.

    >>> lr_at(0, 100, 1.0, warmup=10), lr_at(100, 100, 1.0, warmup=10)
    (0.1, 0.02)
    >>> round(lr_at(20, 1000, 1.0, warmup=10, time_fraction=1.0), 2)
    0.02
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    t = max((step - warmup) / max(1, total - warmup), time_fraction)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


@torch.no_grad()
def validate(model: Detector, loader, device: torch.device = torch.device("cpu")) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    tp = fp = fn = 0
    notehead = {vocab.index(c) for c in vocab.names_with_role("notehead")
                if c in vocab.DETECTED_NAMES}
    for x, t in loader:
        out = model(x.to(device))
        for k, v in losses(out, {k: v.to(device) for k, v in t.items()}).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(x)
        n += len(x)
        # a quick notehead centre check: a detection counts if a true centre is
        # within one cell
        heat = t["heatmap"]
        for b in range(len(x)):
            dets = decode({k: v[b:b + 1] for k, v in out.items()}, threshold=0.4)
            pc = np.array([[(d[1][0] + d[1][2]) / 2, (d[1][1] + d[1][3]) / 2]
                           for d in dets if d[0] in notehead]).reshape(-1, 2)
            true = np.argwhere(heat[b, sorted(notehead)].amax(0).numpy() >= 0.999)[:, ::-1]
            true = (true + 0.5) * 4
            used = set()
            for p in pc:
                if len(true):
                    dist = np.abs(true - p).max(1)
                    j = int(dist.argmin())
                    if dist[j] <= 6 and j not in used:
                        used.add(j)
                        tp += 1
                        continue
                fp += 1
            fn += len(true) - len(used)
    model.train()
    res = {f"val_{k}": v / max(n, 1) for k, v in sums.items()}
    res["val_notehead_precision"] = tp / max(tp + fp, 1)
    res["val_notehead_recall"] = tp / max(tp + fn, 1)
    return res


def parse_focus(text: str) -> dict[str, float]:
    """``'accidental_flat=3,rest_whole=2'`` → ``{'accidental_flat': 3.0, ...}``.

    >>> parse_focus("accidental_flat=3")
    {'accidental_flat': 3.0}
    """
    focus: dict[str, float] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, factor = item.partition("=")
        if name not in vocab.DETECTED_NAMES:
            raise SystemExit(f"--focus: {name!r} is not a detected class")
        focus[name] = float(factor or 2.0)
    return focus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m omr.detect.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="a synth build (camera pages)")
    ap.add_argument("--val", required=True, help="a synth build for validation")
    ap.add_argument("--cache", required=True, help="folder for the prepared pages")
    ap.add_argument("--out", default="omr/models/detector.pt")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loader-workers", type=int, default=1)
    ap.add_argument("--prepare-workers", type=int, default=2,
                    help="processes that prepare the pages (once, cached)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (CUDA when there is a GPU)")
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop (with a checkpoint) after this long, whatever --steps says")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="start from the weights of this checkpoint (a second "
                                   "stage: fresh optimizer and learning-rate schedule)")
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    ap.add_argument("--focus", default="",
                    help="classes chosen more often as crop centres, e.g. "
                         "'accidental_flat=3,rest_whole=3' (a fine-tuning stage)")
    ap.add_argument("--resample", type=float, default=0.0,
                    help="share of crops shrunk, compressed as JPEG and enlarged back, "
                         "like a photo with small staves (0.3 for the stage that used it)")
    args = ap.parse_args(argv)
    focus = parse_focus(args.focus)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cache = Path(args.cache)
    print("preparing pages ...", flush=True)
    train_ids = data.prepare(args.train, cache / "train", workers=args.prepare_workers)
    val_ids = data.prepare(args.val, cache / "val", workers=args.prepare_workers)
    train_pages = data.load_pages(cache / "train", train_ids)
    val_pages = data.load_pages(cache / "val", val_ids)
    print(f"{len(train_pages)} training pages, {len(val_pages)} validation pages", flush=True)

    model = Detector(ModelConfig())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".log.jsonl")
    step = 0
    elapsed_before = 0.0
    if args.init:
        init = torch.load(args.init, map_location="cpu", weights_only=False)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in init["state_dict"].items()})
        print(f"initialised from {args.init} (step {init.get('step')})", flush=True)
    model = model.to(device=device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    if args.resume and out.with_suffix(".resume").exists():
        st = torch.load(out.with_suffix(".resume"), map_location=device, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        step = st["step"]
        elapsed_before = st["meta"].get("train_seconds", 0.0)
        print(f"resumed at step {step}", flush=True)

    train_set = data.CropDataset(train_pages, samples=args.batch * args.steps, seed=args.seed,
                                 focus=focus, resample=args.resample)
    val_set = data.CropDataset(val_pages, samples=192, seed=12345, augment=False)
    sampler = range(step * args.batch, args.steps * args.batch)
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=args.batch, sampler=list(sampler),
        num_workers=args.loader_workers, persistent_workers=args.loader_workers > 0,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if args.loader_workers else None)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=16)
    meta = {"command": "python -m omr.detect.train " + " ".join(argv or __import__("sys").argv[1:]),
            "train_pages": len(train_pages), "val_pages": len(val_pages),
            "parameters": count_parameters(model), "batch": args.batch, "seed": args.seed,
            "torch": torch.__version__, "init": args.init, "focus": focus, "resample": args.resample, "device": str(device)}
    start = time.time()
    running: dict[str, float] = {}
    model.train()
    budget = args.max_minutes * 60 if args.max_minutes else None
    for x, t in loader:
        fraction = (elapsed_before + time.time() - start) / budget if budget else 0.0
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, warmup=args.warmup, time_fraction=fraction)
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        t = {k: v.to(device, non_blocking=True) for k, v in t.items()}
        out_t = model(x)
        parts = losses(out_t, t)
        loss = sum(LOSS_WEIGHTS[k] * v for k, v in parts.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        step += 1
        for k, v in parts.items():
            running[k] = 0.98 * running.get(k, float(v.detach())) + 0.02 * float(v.detach())
        train_seconds = elapsed_before + time.time() - start
        if step % 20 == 0:
            print(f"step {step}/{args.steps} " + " ".join(f"{k} {v:.3f}" for k, v in running.items())
                  + f" lr {opt.param_groups[0]['lr']:.2e} {train_seconds / 60:.1f} min", flush=True)
        row = None
        if step % args.val_every == 0 or step == args.steps:
            row = {"step": step, "minutes": round(train_seconds / 60, 2),
                   **{k: round(v, 4) for k, v in running.items()}, **validate(model, val_loader, device)}
            print(json.dumps(row), flush=True)
            with open(log_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        over_time = args.max_minutes is not None and train_seconds > args.max_minutes * 60
        if step % args.save_every == 0 or step == args.steps or over_time:
            meta.update(train_seconds=round(train_seconds, 1), steps=step,
                        last_validation=row or meta.get("last_validation"))
            save_checkpoint(out, model, step=step, meta=meta, optimizer=opt)
        if over_time:
            print(f"stopping at the time limit ({args.max_minutes} min)", flush=True)
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
