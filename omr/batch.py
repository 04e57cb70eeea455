"""Whole libraries: ``omr batch INPUT_DIR -o OUT_DIR``.

Every image (JPEG, PNG, TIFF, BMP, WebP, HEIC) and every PDF page (rendered at
``PDF_DPI`` with pypdfium2, when it is installed) under ``INPUT_DIR`` is
transcribed; each *piece* gets ``NAME.musicxml``, ``NAME.mid`` and ``NAME.json``
in ``OUT_DIR``, in the same sub-folder as its input. ``OUT_DIR/summary.csv`` has one
row per piece: ``file, status, seconds, notes, warnings`` (then ``piece, pages,
error``); status is ``ok``, ``skipped`` (up to date) or ``failed``.

Pieces
    ``--group-by pages`` (the default): the pages of one piece are files named like
    ``name-p1.jpg``, ``name_page2.png``, ``name p3.jpg`` or ``name (3).jpg`` in one
    folder; they become the piece ``name``, ordered by page number. A file without
    a page number is a piece of its own, and a PDF's pages are one piece.
    ``--group-by none``: every file is a piece. ``--group-by folder``: every folder's
    files are one piece, named after the folder. Any other RULE is a regular
    expression with the groups ``(?P<name>...)`` and ``(?P<page>...)``, matched
    against the whole file name without its suffix.
    ``--manifest FILE``: JSON (``{"piece": ["p1.jpg", "p2.jpg"]}``, or a list of
    ``{"piece": ..., "files": [...]}``) or CSV (``piece,file`` rows in page order, a
    ``page`` column optional) says which files (relative to INPUT_DIR; ``book.pdf#2``
    is one page of a PDF) make which piece; a piece name may hold sub-folders.

Resumable
    A piece whose three outputs exist and are newer than all its inputs is skipped
    (``--force`` redoes it). Outputs are written to a temporary file beside the
    target and renamed, the JSON last, so a stopped run leaves no half-written file
    and the next run picks up where it stopped. A piece that fails is recorded with
    its error and the run goes on.

Where the work runs
    ``workers=1``: in this process. ``workers=N``: N processes (spawn), each loading
    the detector once, with ``max(1, cores // N)`` torch threads each. ``ray=ADDRESS``
    (``auto``, ``local`` or ``HOST:6379``): a pool of Ray actors, each loading the
    detector once; the driver sends the input files' bytes (no shared file system
    needed) and writes the results (see ``docs/batch.md``).

:func:`run_batch` is the library entry point; :func:`add_commands` registers the
``batch`` command on the ``omr`` parser.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from omr.errors import OmrError
from omr.page import IMAGE_SUFFIXES

PDF_SUFFIXES = (".pdf",)
#: Output kind → file suffix.
OUTPUTS = {"musicxml": ".musicxml", "midi": ".mid", "json": ".json"}
SUMMARY_NAME = "summary.csv"
SUMMARY_COLUMNS = ("file", "status", "seconds", "notes", "warnings", "piece", "pages", "error")
#: PDF pages are rendered at this resolution (dots per inch) ...
PDF_DPI = 300
#: ... but never larger than this many pixels on the long side.
PDF_MAX_SIDE_PX = 7000
#: Temporary files are named ``.<target name>.<pid>`` + this; leftovers of a stopped
#: run are removed when the next run starts.
PARTIAL_SUFFIX = ".omr-partial"
#: The default naming rule: ``name-p1``, ``name_page2``, ``name pg 3``, ``name (4)``.
PAGE_PATTERN = re.compile(
    r"(?P<name>.+?)(?:[ _-]+(?:p|pg|page)[ ._-]?(?P<page>\d+)|\s*\((?P<page2>\d+)\))", re.IGNORECASE)
GROUP_RULES = ("pages", "none", "folder")
#: The summary CSV is rewritten at most this often during a run (and at its end).
SUMMARY_EVERY_S = 10.0
#: Pieces in flight per worker (one running, one queued).
IN_FLIGHT_PER_WORKER = 2
#: A pool whose workers die is rebuilt at most this many times per run.
MAX_RESTARTS = 3

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class BatchError(OmrError):
    """Bad arguments to a batch run: no such folder, an unreadable manifest, a bad rule."""


# ------------------------------------------------------------------- planning


@dataclass
class Page:
    """One page of a piece: an image file, or page ``pdf_page`` (0-based) of a PDF."""

    file: Path
    pdf_page: int | None = None

    def label(self, root: Path) -> str:
        rel = _rel(self.file, root)
        return rel if self.pdf_page is None else f"{rel}#{self.pdf_page + 1}"


@dataclass
class Piece:
    """What becomes one MusicXML: its name (output path relative to OUT_DIR, no
    suffix, ``/``-separated), its input files and its pages in order. ``error`` is
    set when the piece cannot be run at all (a missing file, an unreadable PDF)."""

    name: str
    files: list[Path]
    pages: list[Page] = field(default_factory=list)
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    def outputs(self, out_dir: Path) -> dict[str, Path]:
        """Output kind → path."""
        base = Path(out_dir, *self.name.split("/"))
        return {kind: base.with_name(base.name + suffix) for kind, suffix in OUTPUTS.items()}

    def file_label(self, root: Path) -> str:
        return "; ".join(_rel(f, root) for f in self.files)


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _natural_key(text: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text) if t]


def pdf_available() -> bool:
    """Whether PDF pages can be read (the pypdfium2 package)."""
    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        return False
    return True


def pdf_page_count(source) -> int:
    """Pages of a PDF (path or bytes); :class:`BatchError` if it cannot be read."""
    if not pdf_available():
        raise BatchError("PDF pages cannot be read: the pypdfium2 package is not installed "
                         "(pip install pypdfium2)")
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except Exception as err:  # pdfium raises its own PdfiumError and OS errors
        raise BatchError(f"the PDF cannot be read ({err})") from None
    try:
        return len(pdf)
    finally:
        pdf.close()


def render_pdf_page(source, index: int, *, dpi: int = PDF_DPI):
    """Page ``index`` (0-based) of a PDF (path or bytes) as an RGB ``uint8`` array,
    rendered at ``dpi`` (less for a page that would exceed ``PDF_MAX_SIDE_PX``)."""
    import numpy as np
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except Exception as err:
        raise BatchError(f"the PDF cannot be read ({err})") from None
    try:
        if not 0 <= index < len(pdf):
            raise BatchError(f"the PDF has {len(pdf)} page(s), not a page {index + 1}")
        page = pdf[index]
        w_pt, h_pt = page.get_size()
        scale = min(dpi / 72.0, PDF_MAX_SIDE_PX / max(w_pt, h_pt, 1.0))
        image = page.render(scale=scale).to_pil().convert("RGB")
        return np.asarray(image)
    finally:
        pdf.close()


def scan(input_dir: Path, out_dir: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Image and PDF files under ``input_dir`` (sorted naturally), and the other
    files (ignored). Hidden files and folders, and ``out_dir`` when it lies inside
    ``input_dir``, are left out."""
    input_dir = Path(input_dir).resolve()
    skip = Path(out_dir).resolve() if out_dir is not None else None
    if skip == input_dir:
        skip = None
    found, ignored = [], []
    for folder, dirs, files in os.walk(input_dir):
        here = Path(folder)
        dirs[:] = sorted((d for d in dirs if not d.startswith(".") and (skip is None or here / d != skip)),
                         key=_natural_key)
        for name in sorted(files, key=_natural_key):
            if name.startswith(".") or name == SUMMARY_NAME:
                continue
            suffix = Path(name).suffix.lower()
            (found if suffix in IMAGE_SUFFIXES + PDF_SUFFIXES else ignored).append(here / name)
    return found, ignored


def _page_rule(rule: str) -> re.Pattern:
    if rule == "pages":
        return PAGE_PATTERN
    try:
        pattern = re.compile(rule)
    except re.error as err:
        raise BatchError(f"--group-by {rule!r}: not one of {', '.join(GROUP_RULES)} "
                         f"and not a regular expression ({err})") from None
    if not {"name", "page"} <= set(pattern.groupindex):
        raise BatchError(f"--group-by {rule!r}: a regular expression needs the groups "
                         "(?P<name>...) and (?P<page>...)")
    return pattern


def _match_page(pattern: re.Pattern, stem: str) -> tuple[str, int] | None:
    m = pattern.fullmatch(stem)
    if not m:
        return None
    page = m.groupdict().get("page") or m.groupdict().get("page2")
    name = (m.group("name") or "").strip(" _-")
    if not name or page is None or not str(page).isdigit():
        return None
    return name, int(page)


def group_files(input_dir: Path, files: Iterable[Path], rule: str = "pages") -> list[Piece]:
    """Files → pieces by a naming rule (see the module docstring); pages are not
    expanded yet (:func:`expand_pages`)."""
    input_dir = Path(input_dir).resolve()
    files = [Path(f).resolve() for f in files]
    if rule not in GROUP_RULES:
        pattern = _page_rule(rule)
    elif rule == "pages":
        pattern = PAGE_PATTERN
    else:
        pattern = None
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    pieces = []
    for folder in sorted(by_folder, key=lambda p: _natural_key(p.as_posix())):
        members = by_folder[folder]
        rel_folder = _rel(folder, input_dir)
        prefix = "" if rel_folder in (".", "") else rel_folder + "/"
        if rule == "folder":
            name = folder.name if folder != input_dir else (input_dir.name or "piece")
            parent = "" if folder == input_dir else _rel(folder.parent, input_dir)
            parent = "" if parent in (".", "") else parent + "/"

            def key(f: Path):
                m = _match_page(PAGE_PATTERN, f.stem)
                return (0, m[1], _natural_key(f.name)) if m else (1, 0, _natural_key(f.name))
            pieces.append(Piece(parent + name, sorted(members, key=key)))
            continue
        groups: dict[str, list[tuple[int, Path]]] = {}
        singles: list[Path] = []
        for f in members:
            m = _match_page(pattern, f.stem) if pattern is not None else None
            if m:
                groups.setdefault(m[0], []).append((m[1], f))
            else:
                singles.append(f)
        folder_pieces = []
        for name, pages in groups.items():
            pages.sort(key=lambda pf: (pf[0], _natural_key(pf[1].name)))
            numbers = [n for n, _ in pages]
            piece = Piece(prefix + name, [f for _, f in pages])
            dup = sorted({n for n in numbers if numbers.count(n) > 1})
            if dup:
                piece.warnings.append(f"more than one file for page(s) {', '.join(map(str, dup))}")
            folder_pieces.append(piece)
        taken = {p.name.rsplit("/", 1)[-1].lower() for p in folder_pieces}
        stems = [f.stem.lower() for f in singles]
        for f in singles:
            stem = f.stem
            # a name used twice (song.jpg + song.png, or song.jpg + song-p1.jpg): the
            # single file's outputs keep its suffix (song.jpg.musicxml)
            clash = stem.lower() in taken or stems.count(stem.lower()) > 1
            folder_pieces.append(Piece(prefix + (f.name if clash else stem), [f]))
        pieces.extend(sorted(folder_pieces, key=lambda p: _natural_key(p.name)))
    return pieces


def _check_piece_name(name: str, where: str) -> str:
    name = str(name).strip().replace("\\", "/").strip("/")
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts) or Path(name).is_absolute() or ":" in parts[0]:
        raise BatchError(f"{where}: bad piece name {name!r} (a relative name; sub-folders with '/')")
    return name


def read_manifest(path: Path, input_dir: Path) -> list[Piece]:
    """A manifest (JSON or CSV, see the module docstring) → pieces. Files are
    relative to ``input_dir``; ``file.pdf#N`` is page N (1-based) of a PDF."""
    path = Path(path)
    input_dir = Path(input_dir).resolve()
    if not path.is_file():
        raise BatchError(f"no such manifest: {path}")
    text = path.read_text(encoding="utf-8-sig")
    entries: dict[str, list[tuple[float, int, str]]] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise BatchError(f"{path}: not valid JSON ({err})") from None
        if isinstance(data, dict) and isinstance(data.get("pieces"), list):
            data = data["pieces"]
        if isinstance(data, dict):
            items = list(data.items())
        elif isinstance(data, list) and all(isinstance(d, dict) for d in data):
            items = [(d.get("piece", d.get("name")), d.get("files", d.get("pages"))) for d in data]
        else:
            raise BatchError(f"{path}: expected {{\"piece\": [files]}} or a list of "
                             "{\"piece\": ..., \"files\": [...]}")
        for name, files in items:
            if name is None or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise BatchError(f"{path}: piece {name!r} needs a list of file names")
            name = _check_piece_name(name, str(path))
            entries.setdefault(name, []).extend((i, i, f) for i, f in enumerate(files))
    elif path.suffix.lower() == ".csv":
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
        header = [c.strip().lower() for c in rows[0]] if rows else []
        if "piece" in header and "file" in header:
            ip, i_f = header.index("piece"), header.index("file")
            ipage = header.index("page") if "page" in header else None
            rows = rows[1:]
        else:
            ip, i_f, ipage = 0, 1, None
        for n, r in enumerate(rows):
            if len(r) <= max(ip, i_f):
                raise BatchError(f"{path}: row {n + 1} needs a piece and a file")
            name = _check_piece_name(r[ip], str(path))
            order = n
            if ipage is not None and ipage < len(r) and r[ipage].strip():
                try:
                    order = float(r[ipage])
                except ValueError:
                    raise BatchError(f"{path}: row {n + 1}: page {r[ipage]!r} is not a number") from None
            entries.setdefault(name, []).append((order, n, r[i_f].strip()))
    else:
        raise BatchError(f"{path}: a manifest is a .json or .csv file")
    pieces = []
    for name, files in entries.items():
        files.sort(key=lambda e: (e[0], e[1]))
        piece = Piece(name, [])
        for _, _, spec in files:
            file, _, page = spec.partition("#")
            p = Path(file)
            p = (p if p.is_absolute() else input_dir / p).resolve()
            if page:
                if not page.isdigit() or int(page) < 1:
                    piece.error = piece.error or f"{spec}: a PDF page is written file.pdf#N, N from 1"
                    continue
                if p.suffix.lower() not in PDF_SUFFIXES:
                    piece.error = piece.error or f"{spec}: '#N' picks a page of a PDF only"
                    continue
                piece.pages.append(Page(p, int(page) - 1))
            if p not in piece.files:
                piece.files.append(p)
            if not page:
                piece.pages.append(Page(p, -1))  # all pages of the file: expanded later
        if not piece.files and not piece.error:
            piece.error = "the manifest lists no file for this piece"
        pieces.append(piece)
    return pieces


def expand_pages(piece: Piece) -> Piece:
    """Fill ``piece.pages`` (every page of every file, PDFs counted); sets
    ``piece.error`` for a missing or unusable file."""
    if piece.error:
        return piece
    wanted = piece.pages or [Page(f, -1) for f in piece.files]
    pages = []
    for page in wanted:
        f = page.file
        if not f.is_file():
            piece.error = f"no such file: {f}"
            return piece
        suffix = f.suffix.lower()
        if suffix not in IMAGE_SUFFIXES + PDF_SUFFIXES:
            piece.error = f"{f.name}: not an image or PDF (expected one of {', '.join(IMAGE_SUFFIXES + PDF_SUFFIXES)})"
            return piece
        if suffix in PDF_SUFFIXES:
            if page.pdf_page is not None and page.pdf_page >= 0:
                pages.append(page)
                continue
            try:
                n = pdf_page_count(f)
            except BatchError as err:
                piece.error = f"{f.name}: {err}"
                return piece
            if n == 0:
                piece.error = f"{f.name}: the PDF has no pages"
                return piece
            pages.extend(Page(f, i) for i in range(n))
        else:
            pages.append(Page(f, None))
    piece.pages = pages
    return piece


def plan(input_dir, out_dir=None, *, group_by: str = "pages", manifest=None) -> tuple[list[Piece], list[Path]]:
    """The pieces of a run, pages expanded (``error`` set on those that cannot
    run), and the files that were ignored (not images or PDFs)."""
    input_dir = Path(input_dir)
    if not input_dir.exists():
        raise BatchError(f"no such folder: {input_dir}")
    if not input_dir.is_dir():
        raise BatchError(f"not a folder: {input_dir}")
    if manifest is not None:
        pieces, ignored = read_manifest(manifest, input_dir), []
    else:
        files, ignored = scan(input_dir, out_dir)
        pieces = group_files(input_dir, files, group_by)
    return [expand_pages(p) for p in pieces], ignored


def up_to_date(piece: Piece, out_dir: Path) -> bool:
    """All outputs exist and none is older than any input."""
    try:
        newest_input = max(f.stat().st_mtime_ns for f in piece.files)
        oldest_output = min(p.stat().st_mtime_ns for p in piece.outputs(out_dir).values())
    except (OSError, ValueError):
        return False
    return oldest_output >= newest_input


# --------------------------------------------------------------- worker side

#: Per worker process: the loaded detector and what loading it cost.
_WORKER: dict = {}


def _set_threads(threads: int | None) -> None:
    if not threads:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def start_worker(threads: int | None = None, ocr: bool = True) -> dict:
    """Load what a worker needs once (imports, the detector); returns the costs:
    ``{"pid", "threads", "import_s", "model_load_s"}``."""
    t0 = time.perf_counter()
    import torch

    import omr.export
    import omr.pipeline  # noqa: F401
    from omr.detect.infer import load_model

    _set_threads(threads)
    t1 = time.perf_counter()
    model = load_model()
    t2 = time.perf_counter()
    info = {"pid": os.getpid(), "host": os.uname().nodename, "threads": threads or torch.get_num_threads(),
            "import_s": round(t1 - t0, 4), "model_load_s": round(t2 - t1, 4)}
    _WORKER.update(model=model, ocr=ocr, info=info)
    return info


def _page_image(source):
    data, pdf_page = source
    if pdf_page is None:
        return data
    return render_pdf_page(data, pdf_page)


def transcribe_task(task: dict, model, *, ocr: bool = True) -> dict:
    """Run one piece (a task from :func:`make_task`) → a result dict: ``status``
    ``ok`` with ``musicxml``, ``midi``, ``json`` (bytes), ``notes``, ``warnings``;
    or ``failed`` with ``error``. Never raises for a bad input."""
    t0 = time.perf_counter()
    out = {"name": task["name"], "pages": len(task["pages"])}
    try:
        from omr import export
        from omr.eval.notes import notes_from_score
        from omr.pipeline import transcribe

        images = [_page_image(s) for s in task["pages"]]
        result = transcribe(images, model=model, ocr=ocr)
        try:
            xml = export.to_musicxml(result.score)
        except export.ExportError as err:
            xml = export.to_musicxml(result.score, validate=False)
            result.report.warn("invalid_musicxml", f"the MusicXML does not validate: {err}")
        buf = io.BytesIO()
        export.to_midi(result.score).save(file=buf)
        notes = len(notes_from_score(result.score))
        warnings = list(task.get("warnings", [])) + [w.detail for w in result.report.warnings]
        seconds = time.perf_counter() - t0
        data = result.to_dict()
        data["batch"] = {"piece": task["name"], "files": task.get("labels", []), "notes": notes,
                         "warnings": warnings, "seconds": round(seconds, 3)}
        out.update(status="ok", musicxml=xml, midi=buf.getvalue(),
                   json=json.dumps(data, indent=1).encode(), notes=notes, warnings=warnings)
    except OmrError as err:
        out.update(status="failed", error=str(err))
    except Exception as err:  # a bug must not stop the library: record it, go on
        out.update(status="failed", error=f"internal error: {type(err).__name__}: {err}")
    out["seconds"] = time.perf_counter() - t0
    return out


def _pool_init(threads: int | None, ocr: bool) -> None:
    start_worker(threads, ocr)


def _pool_run(task: dict) -> dict:
    result = transcribe_task(task, _WORKER["model"], ocr=_WORKER["ocr"])
    result["worker"] = _WORKER["info"]
    return result


def make_task(piece: Piece, root: Path, *, inline: bool = False) -> dict:
    """A piece as a picklable task. ``inline``: the files' bytes instead of their
    paths (for workers on other machines); each file is read once."""
    cache: dict[Path, object] = {}

    def source(f: Path):
        if not inline:
            return str(f)
        if f not in cache:
            cache[f] = f.read_bytes()
        return cache[f]

    return {"name": piece.name, "pages": [(source(p.file), p.pdf_page) for p in piece.pages],
            "labels": [p.label(root) for p in piece.pages], "warnings": list(piece.warnings)}


# ---------------------------------------------------------------- executors


def _run_serial(tasks: Iterator[tuple[Piece, dict]], threads, ocr) -> Iterator[tuple[Piece, dict]]:
    info = start_worker(threads, ocr)
    for piece, task in tasks:
        result = transcribe_task(task, _WORKER["model"], ocr=ocr)
        result["worker"] = info
        yield piece, result


def _failed(piece: Piece, error: str) -> dict:
    return {"name": piece.name, "status": "failed", "seconds": 0.0, "error": error}


def _run_pool(tasks: Iterator[tuple[Piece, dict]], workers: int, threads, ocr) -> Iterator[tuple[Piece, dict]]:
    """Tasks on ``workers`` spawned processes, each loading the detector once. A
    pool whose process dies (out of memory, a crash in native code) is rebuilt; the
    pieces that were in it are recorded as failed."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    tasks = iter(tasks)
    backlog: list = []
    restarts = 0
    while True:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_pool_init,
                                   initargs=(threads, ocr))
        pending: dict = {}
        broken = False
        try:
            while True:
                while not broken and len(pending) < IN_FLIGHT_PER_WORKER * workers:
                    nxt = backlog.pop(0) if backlog else next(tasks, None)
                    if nxt is None:
                        break
                    try:
                        pending[pool.submit(_pool_run, nxt[1])] = nxt
                    except BrokenProcessPool:
                        backlog.insert(0, nxt)
                        broken = True
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    piece, _task = pending.pop(fut)
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        res = _failed(piece, "a worker process died while reading this piece "
                                             "(out of memory?)")
                    yield piece, res
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if not broken:
            return
        restarts += 1
        if restarts > MAX_RESTARTS:
            for piece, _task in _chain(backlog, tasks):
                yield piece, _failed(piece, "not run: worker processes kept dying")
            return


def _chain(first, rest):
    yield from first
    yield from rest


# --------------------------------------------------------------- the driver


@dataclass
class BatchResult:
    """What a run did: one summary row per piece, in piece order, and its costs."""

    rows: list[dict]
    out_dir: Path
    summary: Path
    seconds: float = 0.0
    pages_done: int = 0
    workers: list[dict] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    backend: str = "local"

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    @property
    def pages_per_s(self) -> float:
        return self.pages_done / self.seconds if self.seconds > 0 else 0.0


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _clean_partials(out_dir: Path) -> None:
    for folder, _dirs, files in os.walk(out_dir):
        for name in files:
            if name.endswith(PARTIAL_SUFFIX):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass


def read_summary(path: Path) -> dict[str, dict]:
    """An earlier run's summary CSV → rows by piece (empty when there is none)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return {r.get("piece") or r.get("file", ""): r for r in csv.DictReader(f)}
    except (OSError, csv.Error):
        return {}


def write_summary(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    write_atomic(path, buf.getvalue().encode("utf-8"))


class _Progress:
    """tqdm when installed, else one line on stderr per finished piece."""

    def __init__(self, total: int, enabled: bool):
        self.enabled, self.total, self.n, self.bar = enabled and total > 0, total, 0, None
        if self.enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="piece", file=sys.stderr, dynamic_ncols=True,
                                desc="omr batch")
            except ImportError:
                self.bar = None

    def update(self, row: dict) -> None:
        self.n += 1
        if not self.enabled:
            return
        text = f"{row['piece']}: {row['status']}"
        if self.bar is not None:
            self.bar.set_postfix_str(text[-60:], refresh=False)
            self.bar.update(1)
        else:
            extra = f" ({row['error']})" if row["status"] == "failed" else f" ({row['seconds']} s)"
            print(f"[{self.n}/{self.total}] {text}{extra}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_batch(input_dir, out_dir, *, workers: int | None = 1, ray: str | None = None,
              group_by: str = "pages", manifest=None, force: bool = False, ocr: bool = True,
              threads: int | None = None, progress: bool = True,
              on_row: Callable[[dict], None] | None = None) -> BatchResult:
    """Transcribe every piece under ``input_dir`` into ``out_dir`` (see the module
    docstring).

    Parameters
    ----------
    input_dir, out_dir : str or Path
    workers : int
        Local processes (1: this process). With ``ray``: Ray actors (default: the
        cluster's CPUs divided by ``threads``).
    ray : str or None
        ``"auto"`` (a cluster started on this machine with ``ray start``),
        ``"local"`` (a Ray instance for this run only), ``"HOST:PORT"`` (a cluster's
        head), or None (no Ray). An already initialized Ray is used as it is.
    group_by, manifest : how files make pieces (module docstring).
    force : bool
        Redo pieces whose outputs are up to date.
    ocr : bool
        Read lyrics and words with Tesseract.
    threads : int or None
        Torch threads per worker (default: ``max(1, cores // workers)`` locally, 1 on
        Ray; in this process with ``workers=1``: torch's own default).
    progress : bool
        Show a progress bar on stderr.
    on_row : callable
        Called with each finished piece's summary row.

    Returns
    -------
    BatchResult

    Raises
    ------
    BatchError
        No such input folder, a bad rule or manifest.
    """
    input_dir = Path(input_dir).resolve()
    out_dir = Path(out_dir).resolve()
    if workers is not None and workers < 1:
        raise BatchError(f"--workers {workers}: at least 1")
    if threads is not None and threads < 1:
        raise BatchError(f"--threads {threads}: at least 1")
    if manifest is None and group_by not in GROUP_RULES:
        _page_rule(group_by)  # a bad rule is refused before any work
    pieces, ignored = plan(input_dir, out_dir, group_by=group_by, manifest=manifest)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchError(f"-o {out_dir}: exists and is not a folder")
    summary = out_dir / SUMMARY_NAME
    previous = read_summary(summary)
    rows: dict[str, dict] = {}
    todo: list[Piece] = []
    for piece in pieces:
        row = {"file": piece.file_label(input_dir), "piece": piece.name, "pages": len(piece.pages),
               "seconds": "", "notes": "", "warnings": "", "error": ""}
        if piece.error:
            rows[piece.name] = {**row, "status": "failed", "error": piece.error}
        elif not force and up_to_date(piece, out_dir):
            old = previous.get(piece.name, {})
            rows[piece.name] = {**row, "status": "skipped", "notes": old.get("notes", ""),
                                "warnings": old.get("warnings", "")}
        else:
            todo.append(piece)
    for row in rows.values():
        if on_row:
            on_row(row)

    result = BatchResult(rows=[], out_dir=out_dir, summary=summary, ignored=ignored,
                         backend="ray" if ray else "local")
    bar = _Progress(len(todo), progress)
    workers_seen: dict = {}
    last_write = time.monotonic()
    t0 = time.perf_counter()

    def ordered() -> list[dict]:
        return [rows[p.name] for p in pieces if p.name in rows]

    ray_started = False
    if ray and todo:  # connect before anything is written: a wrong address changes nothing
        from omr.batch_ray import connect

        ray_started = connect(ray)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_partials(out_dir)
    stream = None
    try:
        if todo:
            inline = bool(ray)
            tasks = ((p, make_task(p, input_dir, inline=inline)) for p in todo)
            if ray:
                from omr.batch_ray import run_ray

                stream = run_ray(tasks, address=ray, workers=workers, threads=threads, ocr=ocr)
            elif (workers or 1) == 1:
                stream = _run_serial(tasks, threads, ocr)
            else:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
                stream = _run_pool(tasks, workers, threads or max(1, (cores or 1) // workers), ocr)
            for piece, res in stream:
                row = _finish(piece, res, out_dir, input_dir)
                rows[piece.name] = row
                if row["status"] == "ok":
                    result.pages_done += len(piece.pages)
                if res.get("worker"):
                    w = res["worker"]
                    workers_seen.setdefault((w.get("host"), w.get("pid")), w)
                bar.update(row)
                if on_row:
                    on_row(row)
                if time.monotonic() - last_write > SUMMARY_EVERY_S:
                    write_summary(summary, ordered())
                    last_write = time.monotonic()
    finally:
        if stream is not None:
            stream.close()  # stops the workers (also after Ctrl-C)
        bar.close()
        if ray_started:
            import ray as ray_module

            ray_module.shutdown()
        result.seconds = time.perf_counter() - t0
        result.rows = ordered()
        result.workers = list(workers_seen.values())
        write_summary(summary, result.rows)
    return result


def _finish(piece: Piece, res: dict, out_dir: Path, input_dir: Path) -> dict:
    """Write a piece's outputs (JSON last) and make its summary row."""
    row = {"file": piece.file_label(input_dir), "piece": piece.name, "pages": len(piece.pages),
           "seconds": round(float(res.get("seconds", 0.0)), 2), "notes": "", "warnings": "", "error": ""}
    if res.get("status") == "ok":
        try:
            paths = piece.outputs(out_dir)
            for kind in ("musicxml", "midi", "json"):
                write_atomic(paths[kind], res[kind])
        except OSError as err:
            return {**row, "status": "failed", "error": f"cannot write the outputs: {err}"}
        return {**row, "status": "ok", "notes": res.get("notes", ""),
                "warnings": "; ".join(res.get("warnings", []))}
    return {**row, "status": "failed", "error": res.get("error", "unknown error")}


# ---------------------------------------------------------------- the command


def add_commands(subparsers) -> None:
    """Register ``batch`` on an ``argparse`` sub-parsers object (``omr``'s)."""
    p = subparsers.add_parser(
        "batch", help="a folder of photos and PDFs -> MusicXML, MIDI and JSON per piece",
        description="Transcribe every image and PDF under INPUT_DIR into OUT_DIR (same folder "
                    "tree), with a summary.csv. Resumable: up-to-date pieces are skipped.")
    p.add_argument("input", metavar="INPUT_DIR")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default 1); with --ray: Ray actors "
                        "(default: the cluster's CPUs / --threads)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run on Ray: HEAD:6379 (a cluster), auto (a cluster started on this "
                        "machine with `ray start`) or local (a Ray instance for this run)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: cores / workers; 1 on Ray)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--group-by", default=None, metavar="RULE",
                   help="pages (default: name-p1.jpg, name_page2.png, name (3).jpg -> piece 'name'), "
                        "none, folder, or a regex with (?P<name>...) and (?P<page>...)")
    g.add_argument("--manifest", metavar="FILE",
                   help="JSON or CSV: piece -> its files in page order (relative to INPUT_DIR)")
    p.add_argument("--force", action="store_true", help="redo pieces that are up to date")
    p.add_argument("--no-ocr", action="store_true", help="do not read lyrics and words")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)


def cmd_batch(args) -> int:
    """Run ``omr batch``; exit code 0 when no piece failed, 1 otherwise, 130 when
    stopped by Ctrl-C."""
    try:
        result = run_batch(args.input, args.output, workers=args.workers, ray=args.ray,
                           group_by=args.group_by or "pages", manifest=args.manifest, force=args.force,
                           ocr=not args.no_ocr, threads=args.threads, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"omr batch: stopped. The finished pieces are in {args.output} (summary.csv); "
              "run the same command again to go on from here.", file=sys.stderr)
        return EXIT_INTERRUPTED
    ok, skipped, failed = (result.count(s) for s in ("ok", "skipped", "failed"))
    rate = f" ({result.pages_per_s:.2f} pages/s)" if result.pages_done else ""
    print(f"{len(result.rows)} piece(s): {ok} ok, {skipped} skipped (up to date), {failed} failed; "
          f"{result.pages_done} page(s) in {result.seconds:.1f} s{rate} -> {result.summary}")
    if result.ignored:
        print(f"{len(result.ignored)} file(s) that are not images or PDFs were ignored", file=sys.stderr)
    for r in [r for r in result.rows if r["status"] == "failed"][:10]:
        print(f"failed: {r['file'] or r['piece']}: {r['error']}", file=sys.stderr)
    if failed > 10:
        print(f"... and {failed - 10} more (see {result.summary})", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m omr.batch ...`` (the same as ``omr batch ...``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="omr")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except OmrError as err:
        print(f"omr batch: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
