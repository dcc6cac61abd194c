"""Reading an uploaded batch of scans outside the page's script run (issue 17).

A stack of a few hundred pages reads for a minute or two. Inside the script run the first click
anywhere on the page would stop it (Streamlit reruns the script at once, streamlit#9021), and the
analyst could not leave the page: so the files are written to a private temporary folder and
services.scan_batches.read_scans runs in a thread of the server process, whose pages are read in a
worker process; the page only shows the job's progress. One reading runs at a time per server
process (the next waits its turn), so two analysts' stacks never take all the cores from the others.

The pages themselves are stored by read_scans as they are read (every STORE_EVERY), so a reading cut
short by a restart keeps what it read, and the same files uploaded again read only the rest.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from services.errors import DomainError, ValidationError
from services.scan_batches import ReadReport, read_scans

log = logging.getLogger(__name__)

KEEP_FINISHED = 3600.0  # s a finished job's report stays to be shown
_JOBS: dict[str, "ScanJob"] = {}
_JOBS_LOCK = threading.Lock()
_ONE_AT_A_TIME = threading.Semaphore(1)


@dataclass
class ScanJob:
    """One reading: its state (waiting | reading | done | failed), progress and report."""

    id: str
    meeting_id: int
    user: str
    files: list[str]
    state: str = "waiting"
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    report: ReadReport | None = None
    error: str = ""

    @property
    def running(self) -> bool:
        return self.state in ("waiting", "reading")

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def start_reading(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int,
                  files: list[tuple[str, bytes]], user: str, workers: int | None = None) -> ScanJob:
    """Starts reading the uploaded files ((name, content)); returns the job at once."""
    files = [(name, data) for name, data in files if data]
    if not files:
        raise ValidationError("Выберите файлы со сканами решений.")
    directory = tempfile.mkdtemp(prefix="kvorum-scans-")  # 0700: signed decisions are personal data
    paths = []
    try:
        for i, (name, data) in enumerate(files):
            path = os.path.join(directory, f"{i:04d}")  # never the uploaded name: no path in it is trusted
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths.append((path, name))
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise ValidationError(f"Не удалось сохранить файлы для чтения: {exc.strerror}.") from None
    job = ScanJob(uuid.uuid4().hex, meeting_id, user, [name for name, _ in files])
    with _JOBS_LOCK:
        _prune()
        _JOBS[job.id] = job
    threading.Thread(target=_run, name=f"kvorum-scans-{job.id[:8]}", daemon=True,
                     args=(job, session_factory, secret_key, paths, directory, workers)).start()
    return job


def _run(job: ScanJob, session_factory, secret_key: str, paths: list[tuple[str, str]], directory: str,
         workers: int | None) -> None:
    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        with _ONE_AT_A_TIME:
            job.state = "reading"
            report = read_scans(session_factory, secret_key=secret_key, meeting_id=job.meeting_id, files=paths,
                                user=job.user, workers=workers, progress=progress)
        report.items = []  # the pages and their images are stored; a finished report keeps the counts only
        job.report, job.state = report, "done"
    except DomainError as exc:
        job.error, job.state = exc.message, "failed"
    except Exception as exc:  # noqa: BLE001 - a thread's failure must reach the page, not the log alone
        log.exception("reading scans failed")
        job.error, job.state = f"Чтение сканов прервано ошибкой: {exc}", "failed"
    finally:
        job.finished = time.monotonic()
        shutil.rmtree(directory, ignore_errors=True)


def scan_job(job_id: str | None) -> ScanJob | None:
    """The job (running or finished within KEEP_FINISHED) of this server process, or None."""
    with _JOBS_LOCK:
        return _JOBS.get(job_id) if job_id else None


def running_jobs(*, meeting_id: int) -> list[ScanJob]:
    """Readings of the meeting still running in this server process (another analyst's too)."""
    with _JOBS_LOCK:
        return [j for j in _JOBS.values() if j.meeting_id == meeting_id and j.running]


def wait(job_id: str, timeout: float) -> ScanJob:
    """Waits until the job is finished (the command line and the tests)."""
    deadline = time.monotonic() + timeout
    while True:
        job = scan_job(job_id)
        if job is None or not job.running:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading scans still running after {timeout:g} s")
        time.sleep(0.05)


def _prune() -> None:
    now = time.monotonic()
    for job_id in [i for i, j in _JOBS.items() if j.finished is not None and now - j.finished > KEEP_FINISHED]:
        del _JOBS[job_id]
