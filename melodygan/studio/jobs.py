"""Long work off the event loop: a job runs in a thread pool and reports its stage, so the page
can show progress, a client can poll or cancel it, and other requests are served meanwhile.

A job's function takes a :class:`Progress` and returns a JSON-ready dict. Cancelling a queued job
drops it; a running one is told through :meth:`Progress.check`, which the job calls between its
stages (a model call under way finishes first, and its result is thrown away).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from melodygan.errors import MelodyganError

KEEP_FINISHED = 200  # finished jobs remembered (their results hold clip ids, not music)


class Cancelled(Exception):
    """Raised inside a job by :meth:`Progress.check` once the job was cancelled."""


@dataclass
class Progress:
    """What a running job says about itself: a stage name and a fraction of the work done."""

    stage: str = "queued"
    fraction: float = 0.0
    cancelled: threading.Event = field(default_factory=threading.Event)
    notes: list[str] = field(default_factory=list)

    def step(self, stage: str, fraction: float) -> None:
        """Enter a new stage (``fraction`` of the whole job done before it); raises :class:`Cancelled`
        when the job was cancelled meanwhile."""
        self.check()
        self.stage, self.fraction = stage, max(self.fraction, min(fraction, 1.0))

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled


@dataclass
class Job:
    id: str
    kind: str
    progress: Progress
    created: float
    expected_s: float | None
    status: str = "queued"  # queued, running, done, error, cancelled
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    future: Future | None = None
    done_event: threading.Event = field(default_factory=threading.Event)

    def to_json(self) -> dict[str, Any]:
        now = time.monotonic()
        end = self.finished or now
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "status": self.status, "stage": self.progress.stage,
            "progress": 1.0 if self.status == "done" else round(self.progress.fraction, 3),
            "elapsed_s": round(end - (self.started or self.created), 3) if self.started else 0.0,
            "expected_s": None if self.expected_s is None else round(self.expected_s, 2),
            "notes": list(self.progress.notes),
        }
        if self.status == "done":
            out["result"] = self.result
        if self.status == "error":
            out["error"] = self.error
        return out


class _ThreadNotes(logging.Handler):
    """Collects the library's ``melodygan`` log lines (the readers' choices and repairs) of one thread."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.INFO)
        self.thread = threading.get_ident()
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.notes.append(record.getMessage())


class JobRunner:
    """A thread pool for model work plus the table of jobs, by id."""

    def __init__(self, workers: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="melodygan-studio")
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.durations: dict[str, float] = {}  # kind -> seconds of the last finished job
        log = logging.getLogger("melodygan")
        if log.getEffectiveLevel() > logging.INFO:  # the readers say what they chose at INFO
            log.setLevel(logging.INFO)

    def submit(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], kind=kind, progress=Progress(), created=time.monotonic(),
                  expected_s=self.durations.get(kind))
        with self.lock:
            self.jobs[job.id] = job
            self._forget_old()
        job.future = self.pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Progress], dict[str, Any]]) -> None:
        if job.status == "cancelled":
            return
        job.status, job.started = "running", time.monotonic()
        job.progress.stage = ""  # until the job names its first stage (the page shows its own label)
        log = logging.getLogger("melodygan")
        handler = _ThreadNotes(job.progress.notes)
        log.addHandler(handler)
        try:
            result = work(job.progress)
            job.progress.check()
        except Cancelled:
            job.status = "cancelled"
        except MelodyganError as e:
            job.status, job.error = "error", str(e)
        except Exception as e:  # a failure the library did not foresee: say what, keep serving
            logging.getLogger(__name__).exception("studio job %s (%s) failed", job.id, job.kind)
            job.status, job.error = "error", f"{type(e).__name__}: {e}"
        else:
            if job.status != "cancelled":
                job.status, job.result = "done", result
                self.durations[job.kind] = time.monotonic() - job.started
        finally:
            log.removeHandler(handler)
            job.finished = time.monotonic()
            job.done_event.set()

    def cancel(self, job: Job) -> None:
        if job.status in ("done", "error", "cancelled"):
            return
        job.progress.cancelled.set()
        if job.future is not None and job.future.cancel():
            job.finished = time.monotonic()
            job.done_event.set()
        job.status = "cancelled"
        job.progress.stage = "cancelled"

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.done_event.is_set()]
        for j in sorted(finished, key=lambda j: j.created)[:max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[j.id]

    def shutdown(self, wait: bool = False) -> None:
        """Cancel every job; with ``wait``, until the running ones have returned."""
        for job in list(self.jobs.values()):
            self.cancel(job)
        self.pool.shutdown(wait=wait, cancel_futures=True)
