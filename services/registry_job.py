"""A large registry imported by a process of its own, at a lower priority than the app server.

Storing 200 000 owners is about 14 s of Python work (rows, seals, inserts). Done in the app
server's process it holds the interpreter lock in turn with every other session, and an owner
opening /vote meanwhile waited seconds (issue 14, item 3). The import process reads the same
file again (the check is deterministic: the same file and registry give the same rows), makes
sure it is what the analyst saw in the preview, and stores it in one transaction, exactly as
store_registry does in-process; the server only waits for its answer. The operating system gives
the server's sessions the processor first (the child runs at nice IMPORT_NICENESS).

Small registries are stored in-process (CHILD_IMPORT_OWNERS): starting an interpreter costs more
than they do.
"""
from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.errors import DomainError, NotFound, ValidationError
from services.registry import ImportResult, check_registry, store_registry
from services.registry_parse import RegistryReport
from services.spreadsheet import TableFileError

log = logging.getLogger("kvorum.registry_job")

CHILD_IMPORT_OWNERS = 20_000  # accepted rows from which a registry is stored by a process of its own
IMPORT_NICENESS = 10
LOCKED_RETRIES = 10  # tries of a store that finds the SQLite database busy for its whole 30 s wait
BUSY = ("Реестр не импортирован: база данных несколько минут была занята другой записью (например, импортом "
        "другого реестра). Ничего не сохранено; повторите импорт.")
CHANGED = ("Файл не импортирован: после проверки изменился реестр собрания, и строки файла читаются иначе. "
           "Загрузите файл снова и проверьте предпросмотр.")
FAILED = "Реестр не импортирован: процесс импорта завершился с ошибкой. Ничего не сохранено; повторите импорт."
_ERRORS = {"NotFound": NotFound, "ValidationError": ValidationError}
_CHILD_CODE = "import sys; sys.path.insert(0, sys.argv[1]); from services.registry_job import _child_main; _child_main()"


def _fingerprint(report: RegistryReport) -> tuple:
    """What the preview showed, to compare the import process's own reading with."""
    return (report.owner_count, report.premises, len(report.rejected_rows), str(report.total_area), str(report.votes))


def check_for_preview(session_factory: sessionmaker[Session], *, data: bytes, filename: str, meeting_id: int,
                      replace: bool, progress=None) -> RegistryReport:
    """check_registry for the page's preview, what the app server keeps until the import: a large
    file's report compact (RegistryReport.compact; the import process reads its rows again from
    the file) — a CSV file's rows stay in the reading process, which sends only their figures, and
    a workbook's are dropped once counted; a small file's report whole."""
    return check_registry(session_factory, data=data, filename=filename, meeting_id=meeting_id, replace=replace,
                          progress=progress, compact_from=CHILD_IMPORT_OWNERS)


def store_checked_registry(session_factory: sessionmaker[Session], *, meeting_id: int, report: RegistryReport,
                           data: bytes, replace: bool) -> ImportResult:
    """Store a checked file's accepted rows (all or nothing): in this process for a small registry,
    by a lower-priority process of its own for a large one. `data` is the file `report` was read from."""
    if report.figures is None and report.owner_count < CHILD_IMPORT_OWNERS:
        return store_registry(session_factory, meeting_id=meeting_id, report=report, replace=replace)
    engine = session_factory.kw["bind"]
    job = {
        "url": engine.url.render_as_string(hide_password=False),
        "info": dict(session_factory.kw.get("info") or {}),
        "meeting_id": meeting_id, "filename": report.filename, "replace": replace,
        "expected": _fingerprint(report),
    }
    head = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD_CODE, root],
            input=len(head).to_bytes(8, "little") + head + data, stdout=subprocess.PIPE, stderr=errors,
            check=False,
        )
        errors.seek(0)
        tail = errors.read()[-2000:].decode("utf-8", "replace")
    try:
        answer = pickle.loads(proc.stdout) if proc.stdout else None
    except Exception:  # noqa: BLE001 - a cut-off answer is a failed import
        answer = None
    if isinstance(answer, tuple) and answer and answer[0] == "ok":
        return ImportResult(**answer[1])
    if isinstance(answer, tuple) and answer and answer[0] == "error":
        _kind, name, message, details = answer
        raise _ERRORS.get(name, DomainError)(message, details)
    log.error("the registry import process failed (exit %s): %s", proc.returncode, tail)
    raise DomainError(FAILED)


def _store_waiting_for_the_writer(session_factory, job: dict, report: RegistryReport) -> ImportResult:
    """store_registry, tried again while SQLite's one writer is busy past its 30 s wait (another
    analyst's large import, a backup): the store is all or nothing, so trying again is safe."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(1, LOCKED_RETRIES + 1):
        try:
            return store_registry(session_factory, meeting_id=job["meeting_id"], report=report,
                                  replace=job["replace"])
        except OperationalError as exc:
            if "locked" not in str(exc.orig):
                raise
            log.warning("the database was busy with another writer (try %s of %s)", attempt, LOCKED_RETRIES)
    raise DomainError(BUSY)


def _child_main() -> None:
    """The import process: a job pickle (8 bytes of length first) and the file on stdin; one pickle
    on stdout: ("ok", ImportResult fields) or ("error", kind, message, details)."""
    os.nice(IMPORT_NICENESS)
    raw = sys.stdin.buffer.read()
    size = int.from_bytes(raw[:8], "little")
    job = pickle.loads(raw[8:8 + size])  # from the app server that started this process
    data = raw[8 + size:]
    del raw
    from services.db import make_engine, make_session_factory

    engine = make_engine(job["url"])
    session_factory = make_session_factory(engine)
    session_factory.configure(info=job["info"])
    try:
        report = check_registry(session_factory, data=data, filename=job["filename"], meeting_id=job["meeting_id"],
                                replace=job["replace"])
        if _fingerprint(report) != tuple(job["expected"]):
            raise ValidationError(CHANGED)
        result = _store_waiting_for_the_writer(session_factory, job, report)
        answer = ("ok", asdict(result))
    except DomainError as exc:
        answer = ("error", type(exc).__name__, exc.message, list(exc.details))
    except TableFileError as exc:  # the file was read before: only a machine out of memory gets here
        answer = ("error", "ValidationError", str(exc), [])
    finally:
        engine.dispose()
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
