"""``omr batch --ray``: the batch's pieces on a Ray cluster.

A pool of actors (:class:`PieceWorker`), each loading the detector once, with
``threads`` torch threads and as many Ray CPUs. The driver (:func:`omr.batch.run_batch`)
sends each piece's input files as bytes, so the workers need no shared file system,
only the same ``omr`` installed; they send back the MusicXML, MIDI and JSON bytes
and the driver writes them. At most ``IN_FLIGHT_PER_WORKER`` pieces wait per actor.
An actor that dies (out of memory, a lost node) fails the pieces it held and is
replaced, at most ``MAX_RESTARTS`` times per actor on average.

Ray is optional (``pip install "ray==2.60.0"``); only this module imports it.
"""

from __future__ import annotations

from collections.abc import Iterator

from omr.batch import (
    IN_FLIGHT_PER_WORKER,
    MAX_RESTARTS,
    BatchError,
    Piece,
    _failed,
    start_worker,
    transcribe_task,
)

#: Torch threads (and Ray CPUs) per actor when not given: one thread per process is
#: the most pages per second per core for this small network.
DEFAULT_THREADS = 1


class PieceWorker:
    """A Ray actor (wrapped with ``ray.remote`` at run time): the detector loaded once."""

    def __init__(self, threads: int, ocr: bool):
        from omr.batch import _WORKER

        self._info = start_worker(threads, ocr)
        self._worker = _WORKER

    def info(self) -> dict:
        return self._info

    def run(self, task: dict) -> dict:
        result = transcribe_task(task, self._worker["model"], ocr=self._worker["ocr"])
        result["worker"] = self._info
        return result


def connect(address: str | None):
    """``ray.init`` for an address (``local``: a new instance for this run); returns
    True when this call started Ray (so the caller shuts it down)."""
    try:
        import ray
    except ImportError:
        raise BatchError("--ray needs the ray package: pip install \"ray==2.60.0\"") from None
    if ray.is_initialized():
        return False
    kwargs = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": False}
    try:
        if address in (None, "", "local"):
            ray.init(**kwargs)
        else:
            ray.init(address=address, **kwargs)
    except ConnectionError as err:
        hint = ("start one with `ray start --head`, or use --ray local" if address == "auto" else
                "is the head's address right and reachable? A cluster with token authentication "
                "also needs RAY_AUTH_MODE=token and the head's token here (docs/batch.md)")
        raise BatchError(f"--ray {address}: cannot connect to a Ray cluster ({err}); {hint}") from None
    return True


def run_ray(tasks: Iterator[tuple[Piece, dict]], *, address: str | None = "local",
            workers: int | None = None, threads: int | None = None,
            ocr: bool = True) -> Iterator[tuple[Piece, dict]]:
    """Run the tasks (``(piece, task)`` pairs of :func:`omr.batch.make_task`, inline
    bytes) on Ray actors; yields ``(piece, result)`` as pieces finish."""
    started = connect(address)
    import ray

    actors: list = []
    try:
        threads = threads or DEFAULT_THREADS
        cpus = int(ray.cluster_resources().get("CPU", 1))
        most = max(1, cpus // threads)
        n = min(workers or most, most)
        Actor = ray.remote(num_cpus=threads, max_restarts=0)(PieceWorker)
        actors = [Actor.remote(threads, ocr) for _ in range(n)]
        slots = [a for a in actors for _ in range(IN_FLIGHT_PER_WORKER)]
        pending: dict = {}
        restarts = 0
        tasks = iter(tasks)
        while True:
            while slots:
                nxt = next(tasks, None)
                if nxt is None:
                    break
                actor = slots.pop(0)
                pending[actor.run.remote(nxt[1])] = (nxt[0], actor)
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                piece, actor = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except ray.exceptions.RayActorError as err:
                    res = _failed(piece, f"the Ray worker died: {_short(err)}")
                    if actor in actors:  # replace it once, for all of its slots
                        restarts += 1
                        actors.remove(actor)
                        slots[:] = [s for s in slots if s is not actor]
                        if restarts <= MAX_RESTARTS * n:
                            actors.append(Actor.remote(threads, ocr))
                            slots.extend([actors[-1]] * IN_FLIGHT_PER_WORKER)
                    if not actors:
                        yield piece, res
                        for other, _a in list(pending.values()):
                            yield other, _failed(other, "not run: the Ray workers kept dying")
                        for other, _task in tasks:
                            yield other, _failed(other, "not run: the Ray workers kept dying")
                        return
                    yield piece, res
                    continue
                except ray.exceptions.RayError as err:
                    res = _failed(piece, f"Ray error: {_short(err)}")
                if actor in actors:
                    slots.append(actor)
                yield piece, res
    finally:
        for a in actors:
            try:
                ray.kill(a)
            except Exception:  # already gone
                pass
        if started:
            ray.shutdown()


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1][:300] if text else type(err).__name__
