"""Build a data set of engraved pages and their phone-photo versions.

A data set is a folder::

    DIR/manifest.json           how it was built (config), so a rerun can resume
    DIR/index.jsonl             one line per finished page: id, shard, job, record path
    DIR/shard-0000/
        000012.musicxml         the source score of job 12 (UTF-8)
        000012.notes.json       its notes in unfolded playing order (ground truth onsets)
        000012-p1.json          page 1 of job 12: engraving options, symbols, camera params
        000012-p1.png           the clean engraved page (grayscale)
        000012-p1.jpg           the same page as a simulated phone photo

Work is split into *jobs*. Job ``j`` draws everything it needs from
``numpy.random.default_rng([seed, split_number, j])``: which source piece (corpus
or generated), the engraving options, which pages, the camera. So a data set is
reproducible page for page, jobs can run in any order or in parallel, and an
interrupted build resumes at the first unfinished job.

Examples
--------
>>> from synth.build import BuildConfig, build            # doctest: +SKIP
>>> build("data/train", BuildConfig(pages=100, seed=0, split="train"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from synth import camera, engrave, generate, sources
from synth.svg_boxes import metronome_note_labels

#: Format version of the folder layout above.
DATASET_FORMAT = 1
#: Pages per shard folder (keeps folders listable).
SHARD_SIZE = 500
#: JPEG quality of the saved camera photos (the camera itself adds its own JPEG
#: artefacts; this only stores the result).
PHOTO_JPEG_QUALITY = 92
VARIANTS = ("clean", "camera")
#: A build stops when this many jobs failed: something is wrong beyond one odd piece.
MAX_FAILED_JOBS = 50


class BuildError(ValueError):
    """A build that cannot start (bad config, a folder that holds something else)."""


class JobError(RuntimeError):
    """A source piece that could not be engraved or photographed."""

    def __init__(self, key: str, cause: Exception):
        super().__init__(f"{key}: {type(cause).__name__}: {cause}")
        self.key = key


@dataclass(frozen=True)
class BuildConfig:
    """What to build. Everything that changes the output is here (and in the manifest)."""

    pages: int
    seed: int = 0
    split: str = "train"
    #: Share of jobs (source pieces) that engrave a generated score rather than a
    #: corpus piece. Generated scores are short (mostly one page), so their share of
    #: pages is lower: about 37% of pages at the default 0.5.
    generated_fraction: float = 0.5
    #: At most this many pages are taken from one source piece.
    max_pages_per_piece: int = 2
    variants: tuple[str, ...] = VARIANTS
    #: Camera difficulty, 0 (mild) to 1 (hard); each photo draws around it.
    difficulty: float = 0.5
    #: Generated scores also draw the decorations (flags, arpeggios, fingering:
    #: ``synth.generate.DECORATIONS``). Off by default, so that the data sets built
    #: before they existed come out page for page the same.
    extras: bool = False
    #: ``(feature, chance)`` pairs that generated scores draw with in place of
    #: ``synth.generate.FEATURE_PROBABILITY``'s (and the opt-in features, such as
    #: ``rest_rhythms``, only when named). Empty by default, for the same reason.
    feature_chance: tuple[tuple[str, float], ...] = ()

    def validate(self) -> None:
        if self.pages < 1:
            raise BuildError(f"--pages must be at least 1, got {self.pages}")
        if self.split not in sources.SPLITS:
            raise BuildError(f"--split must be one of {', '.join(sources.SPLITS)}, got {self.split!r}")
        if not 0.0 <= self.generated_fraction <= 1.0:
            raise BuildError("generated_fraction must lie in [0, 1]")
        if self.max_pages_per_piece < 1:
            raise BuildError("max_pages_per_piece must be at least 1")
        unknown = set(self.variants) - set(VARIANTS)
        if unknown or not self.variants:
            raise BuildError(f"variants must be a non-empty subset of {VARIANTS}")
        if not 0.0 <= self.difficulty <= 1.0:
            raise BuildError("difficulty must lie in [0, 1]")
        try:
            generate.check_feature_chance(dict(self.feature_chance))
        except ValueError as err:
            raise BuildError(str(err)) from None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["variants"] = list(self.variants)
        if not self.extras:
            del d["extras"]  # so the manifests written before it existed still match
        if self.feature_chance:
            d["feature_chance"] = dict(self.feature_chance)
        else:
            del d["feature_chance"]  # (likewise)
        return d


@dataclass
class PageRecord:
    """One finished page, as written to index.jsonl."""

    id: str
    shard: str
    job: int
    record: str  # path of the page's JSON, relative to the data set folder


@dataclass
class BuildReport:
    pages: int = 0
    jobs: int = 0
    resumed_from_pages: int = 0
    failed_jobs: list[dict] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- jobs


def job_rng(config: BuildConfig, job: int) -> np.random.Generator:
    """The random stream of one job: depends on seed, split and job number only."""
    return np.random.default_rng([config.seed, sources.SPLITS.index(config.split), job])


def choose_source(config: BuildConfig, rng: np.random.Generator,
                  corpus: list[sources.CorpusPiece]) -> tuple[str, str, dict]:
    """Pick the job's source piece: ``(key, musicxml_text, info)``."""
    if not corpus or rng.random() < config.generated_fraction:
        number = int(rng.integers(0, 2**31))
        key = sources.generated_key(config.split, number)
        score = generate.generate_score(sources.generated_seed(key), extras=config.extras,
                                        feature_chance=dict(config.feature_chance))
        return key, score.musicxml, {"features": sorted(score.features), "title": score.title}
    piece = corpus[int(rng.integers(len(corpus)))]
    try:
        musicxml = sources.read_musicxml(piece.path)
    except sources.SourceError as err:
        raise JobError(piece.key, err) from err
    musicxml, added = sources.show_accidentals(musicxml)  # (the page must show what the truth says)
    return piece.key, musicxml, {"accidentals_shown": added} if added else {}


def run_job(config: BuildConfig, job: int, corpus: list[sources.CorpusPiece]) -> dict:
    """Engrave (and photograph) the pages of one job, in memory.

    Returns ``{"key", "musicxml", "notes", "pages": [(page_record, images)]}``; nothing
    is written here, so a job can run in a worker process.
    """
    rng = job_rng(config, job)
    key, musicxml, info = choose_source(config, rng, corpus)
    try:
        return _engrave_job(config, job, rng, key, musicxml, info)
    except Exception as err:
        raise JobError(key, err) from err


def _engrave_job(config, job, rng, key, musicxml, info) -> dict:
    options = engrave.sample_options(rng)
    engraver = engrave.Engraver(musicxml, options)
    count = engraver.page_count
    chosen = sorted(rng.choice(count, size=min(count, config.max_pages_per_piece),
                               replace=False) + 1)
    pages = []
    for page_number in chosen:
        page = engraver.render_page(int(page_number))
        record = {
            "source": key,
            "split": config.split,
            "job": job,
            "page": int(page_number),
            "page_count": count,
            "engrave": options.to_dict(),
            "staff_space_px": page.staff_space_px,
            **info,
        }
        images = {}
        if "clean" in config.variants:
            h, w = page.image.shape[:2]
            record["clean"] = {"size": [w, h], "symbols": [_symbol_json(s) for s in page.symbols]}
            images["clean"] = page.image
        if "camera" in config.variants:
            record["camera"], images["camera"] = _photograph(page, rng, config.difficulty)
        pages.append((record, images))
    notes = [asdict(n) for n in engraver.notes]
    return {"key": key, "musicxml": musicxml, "notes": notes, "pages": pages}


def _photograph(page, rng: np.random.Generator, difficulty: float) -> tuple[dict, np.ndarray]:
    """The camera variant of a page: its record (symbols moved into the photo, only
    those still visible; the page corners; the camera parameters) and the photo."""
    boxes = np.array([s.box for s in page.symbols], dtype=np.float32).reshape(-1, 4)
    anchors = np.array([s.box for s in _mark_anchors(page.symbols)], dtype=np.float32).reshape(-1, 4)
    photo = camera.photograph(page.image, boxes, rng, difficulty=difficulty,
                              staff_space_px=page.staff_space_px, anchor_boxes=anchors)
    moved = [_symbol_json(s, box=b)
             for s, b, visible in zip(page.symbols, photo.boxes, photo.visible) if visible]
    ph, pw = page.image.shape[:2]
    corners = camera.warp_points(np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], float),
                                 photo.params)
    h, w = photo.image.shape[:2]
    record = {"size": [w, h], "params": photo.params.to_dict(),
              "page_corners": [[round(float(v), 2) for v in c] for c in corners],
              "symbols": moved}
    return record, photo.image


def _mark_anchors(symbols) -> list:
    """The symbols at whose centres the camera may draw pencil and highlighter marks:
    all but the parts of a metronome mark's note (its notehead, stem, flag, dot),
    (``svg_boxes.metronome_note_labels``). The text is a place for a mark already,
    and a label added must not move the camera's random draws: the photos stay as
    they were before the note was labelled."""
    parts = metronome_note_labels((s.cls, s.id) for s in symbols)
    return [s for k, s in enumerate(symbols) if k not in parts]


#: Optional Symbol fields written to the page JSON when set (ground truth for the
#: staff graph: which staff and system, the note a stem/accidental/dot belongs to,
#: the printed text for OCR).
OPTIONAL_SYMBOL_FIELDS = ("staff", "system", "parent", "text")


def _symbol_json(symbol, box=None) -> dict:
    box = symbol.box if box is None else box
    d = {"cls": symbol.cls, "box": [round(float(v), 2) for v in box], "id": symbol.id}
    for name in OPTIONAL_SYMBOL_FIELDS:
        value = getattr(symbol, name)
        if value is not None:
            d[name] = value
    return d


# ------------------------------------------------------------------------ writing


def write_job(out: Path, result: dict, job: int, first_page: int) -> list[PageRecord]:
    """Write one job's files; returns the index records of its pages."""
    records = []
    stem = f"{job:06d}"
    for offset, (record, images) in enumerate(result["pages"]):
        shard = f"shard-{(first_page + offset) // SHARD_SIZE:04d}"
        folder = out / shard
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / f"{stem}.musicxml").exists():
            (folder / f"{stem}.musicxml").write_text(result["musicxml"], encoding="utf-8")
            (folder / f"{stem}.notes.json").write_text(json.dumps(result["notes"]), encoding="utf-8")
        page_id = f"{stem}-p{record['page']}"
        record = {"id": page_id, "musicxml": f"{stem}.musicxml", "notes": f"{stem}.notes.json",
                  **record}
        if "clean" in images:
            record["clean"]["image"] = f"{page_id}.png"
            _imwrite(folder / f"{page_id}.png", images["clean"])
        if "camera" in images:
            record["camera"]["image"] = f"{page_id}.jpg"
            bgr = cv2.cvtColor(images["camera"], cv2.COLOR_RGB2BGR)
            _imwrite(folder / f"{page_id}.jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, PHOTO_JPEG_QUALITY])
        (folder / f"{page_id}.json").write_text(json.dumps(record), encoding="utf-8")
        records.append(PageRecord(page_id, shard, job, f"{shard}/{page_id}.json"))
    return records


def _imwrite(path: Path, image: np.ndarray, params=None) -> None:
    if not cv2.imwrite(str(path), image, params or []):
        raise OSError(f"cannot write {path}")


# --------------------------------------------------------------------- the build


def read_index(out: Path) -> list[PageRecord]:
    index = out / "index.jsonl"
    if not index.exists():
        return []
    records = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if line.strip():
            records.append(PageRecord(**json.loads(line)))
    return records


def prepare_folder(out: Path, config: BuildConfig, *, clean: bool) -> list[PageRecord]:
    """Make ``out`` ready; returns the pages already finished (to resume from).

    An existing data set built with the same config is resumed; one built with another
    config is an error unless ``clean`` (which deletes it). A folder holding anything
    else is never touched.
    """
    manifest = out / "manifest.json"
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not manifest.exists():
            raise BuildError(f"{out} is not empty and holds no synth data set; "
                             "choose an empty or new folder")
        if clean:
            shutil.rmtree(out)
        else:
            old = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
            if old != config.to_dict():
                raise BuildError(
                    f"{out} holds a data set built with other settings ({old}); "
                    "pass --clean to replace it, or choose another folder")
            return _drop_unfinished(out, read_index(out))
    out.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"format": DATASET_FORMAT, "config": config.to_dict()},
                                   indent=2), encoding="utf-8")
    return []


def _drop_unfinished(out: Path, records: list[PageRecord]) -> list[PageRecord]:
    """Index lines are appended per job, so the index is always whole jobs; rewrite it
    in case a crash left a partial last line."""
    with open(out / "index.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(asdict(r)) + "\n")
    return records


def build(out: str | Path, config: BuildConfig, *, clean: bool = False, workers: int = 1,
          progress: bool = True) -> BuildReport:
    """Build (or resume) a data set of ``config.pages`` pages in ``out``."""
    config.validate()
    out = Path(out)
    done = prepare_folder(out, config, clean=clean)
    report = BuildReport(resumed_from_pages=len(done))
    pages_done = len(done)
    next_job = max((r.job for r in done), default=-1) + 1
    corpus = sources.corpus_pieces(config.split)
    start = time.perf_counter()
    with open(out / "index.jsonl", "a", encoding="utf-8") as index:
        for job, result in _results(config, corpus, next_job, workers):
            report.jobs += 1
            if "error" in result:
                failure = {"job": job, "source": result["key"], "error": result["error"]}
                report.failed_jobs.append(failure)
                with open(out / "failures.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(failure) + "\n")
                if len(report.failed_jobs) > MAX_FAILED_JOBS:
                    raise BuildError(f"more than {MAX_FAILED_JOBS} jobs failed; the last: "
                                     f"{failure['error']} (all in {out / 'failures.jsonl'})")
                continue
            result["pages"] = result["pages"][: config.pages - pages_done]
            records = write_job(out, result, job, pages_done)
            for r in records:
                index.write(json.dumps(asdict(r)) + "\n")
            index.flush()
            pages_done += len(records)
            report.pages += len(records)
            if progress:
                _progress(pages_done, config.pages, start, report)
            if pages_done >= config.pages:
                break
    if progress:
        print(file=sys.stderr)
    report.seconds = time.perf_counter() - start
    return report


def _results(config, corpus, first_job, workers) -> Iterator[tuple[int, dict]]:
    """Job results in job order; in worker processes when ``workers > 1``."""
    jobs = _job_numbers(first_job)
    if workers <= 1:
        for job in jobs:
            yield job, _safe_job(config, job, corpus)
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        args = ((config, job, corpus) for job in jobs)
        for job_and_result in pool.imap(_safe_job_star, args, chunksize=1):
            yield job_and_result


def _job_numbers(first: int) -> Iterator[int]:
    job = first
    while True:
        yield job
        job += 1


def _safe_job(config, job, corpus) -> dict:
    """Run a job; a piece that fails is skipped and recorded, not fatal to the build
    (a 20k-page build must not die on one odd corpus file)."""
    try:
        return run_job(config, job, corpus)
    except JobError as err:
        return {"key": err.key, "error": str(err)}


def _safe_job_star(args):
    config, job, corpus = args
    return job, _safe_job(config, job, corpus)


def _progress(done: int, total: int, start: float, report: BuildReport) -> None:
    elapsed = time.perf_counter() - start
    rate = report.pages / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else float("inf")
    width = 30
    filled = int(width * done / total)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} pages "
          f"{rate:.2f} pages/s, eta {eta:.0f}s, {len(report.failed_jobs)} skipped",
          end="", file=sys.stderr, flush=True)
