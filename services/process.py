"""The process-wide parts of a server process (серверный процесс): the runtime (database engine,
session factory, instance key) and the background sender, built once and shared by every session.

serve.py (`make run`) builds them before Streamlit starts, so queued notices go out after a
restart without anyone opening a page. Under a plain `streamlit run app.py` (and AppTest) the
first script run builds them instead, once, under the lock. They live in this plain module, not in
st.cache_resource: any browser may send Streamlit's `clear_cache` message, which empties that
cache for the whole process, and every run after it would build another engine and start another
sender thread. Nothing a browser sends reaches this holder.

Also here: the permissions of the files a server or manage.py process writes (data files 0600 in
0700 folders — the database holds owners' names and code hashes, the outbox holds codes).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from services.db import DIR_MODE, FILE_MODE, restrict, secure_sqlite_file, sqlite_path
from services.runtime import Runtime, build_runtime
from services.settings import Settings, load_settings

PRIVATE_UMASK = 0o077  # what this process creates is its account's only, whoever creates it

_lock = threading.RLock()
_runtime: Runtime | None = None
_sender = None  # services.sender.BackgroundSender of _runtime, when this process sends itself


def runtime(settings: Settings | None = None) -> Runtime:
    """The runtime of this process for the configured database, built on the first call.

    Keyed by the database URL only so that a test process pointing the app at a new database gets
    a new runtime (the previous one is closed); a server's URL never changes while it runs."""
    global _runtime
    settings = settings or load_settings()
    current = _runtime
    if current is not None and current.settings.database_url == settings.database_url:
        return current
    with _lock:
        if _runtime is not None and _runtime.settings.database_url == settings.database_url:
            return _runtime
        _close_locked()
        protect_data(settings)
        _runtime = build_runtime(settings)
        return _runtime


def ensure_sender(settings: Settings | None = None):
    """Start this process's sender thread unless a separate `manage.py send-worker` does the
    sending (KVORUM_EMBEDDED_SENDER=0); returns it (or None). Idempotent."""
    global _sender
    settings = settings or load_settings()
    if not settings.embedded_sender:
        return None
    rt = runtime(settings)
    if _sender is not None and _sender.runtime is rt:
        return _sender
    with _lock:
        rt = runtime(settings)
        if _sender is not None and _sender.runtime is rt:
            return _sender
        if _sender is not None:
            _sender.close()
        _sender = _start_sender(rt)
        return _sender


def _start_sender(rt: Runtime):
    from services.mailer import make_mailer
    from services.sender import BackgroundSender, SenderConfig

    s = rt.settings
    config = SenderConfig(secret_key=rt.secret_key, public_url=s.public_url, mail_from=s.mail_from,
                          throttle_seconds=s.send_throttle_seconds, retry_seconds=s.send_retry_seconds,
                          max_attempts=s.send_max_attempts)
    sender = BackgroundSender(rt.session_factory, mailer_factory=lambda: make_mailer(s), config=config)
    sender.runtime = rt
    return sender


def start(settings: Settings | None = None) -> Runtime:
    """Everything a server process needs before its first request: private file modes, the
    schema, the engine and (unless disabled) the sender. Called by serve.py before Streamlit."""
    os.umask(PRIVATE_UMASK)
    settings = settings or load_settings()
    rt = runtime(settings)
    ensure_sender(settings)
    _start_trimmer()
    return rt


TRIM_SECONDS = 60
_trimmer: threading.Thread | None = None


def _start_trimmer() -> None:
    """Once a minute, collect and give freed memory back to the system (glibc keeps it otherwise):
    a closed browser's session — a 200 000-row preview in it — is dropped by Streamlit two minutes
    after the browser left, and the server's size should fall back then, not stay at its peak."""
    global _trimmer
    with _lock:
        if _trimmer is not None:
            return
        from services.registry_parse import release_memory

        def trim() -> None:
            while True:
                time.sleep(TRIM_SECONDS)
                release_memory()  # a collection first: a dropped session is a cycle (its script's namespace)

        _trimmer = threading.Thread(target=trim, name="kvorum-memory-trim", daemon=True)
        _trimmer.start()


def started() -> tuple[Runtime | None, object | None]:
    """(runtime, sender) of this process as they are now, building nothing (for tests and checks)."""
    return _runtime, _sender


def close() -> None:
    """Stop the sender and close the engine (a test process switching databases, or a shutdown)."""
    with _lock:
        _close_locked()


def _close_locked() -> None:
    global _runtime, _sender
    if _sender is not None:
        _sender.close()
        _sender = None
    if _runtime is not None:
        _runtime.engine.dispose()
        _runtime = None


# ---------- file permissions ----------

def protect_data(settings: Settings) -> None:
    """Close what earlier versions left readable to everyone: the data folder and its private files
    (the SQLite database with its -wal/-shm, the key, the outbox, backups)."""
    data_dir = Path(settings.data_dir)
    if data_dir.is_dir():
        restrict(data_dir, DIR_MODE)
        for folder in ("outbox", "backups"):
            base = data_dir / folder
            if base.is_dir():
                for path in [base, *base.rglob("*")]:
                    restrict(path, DIR_MODE if path.is_dir() else FILE_MODE)
        for path in data_dir.iterdir():
            if path.is_file() and (path.suffix in (".db", ".key", ".txt", ".sqlite", ".eml")
                                   or path.name.endswith(("-wal", "-shm", "-journal"))):
                restrict(path, FILE_MODE)
    db = sqlite_path(settings.database_url)
    if db is not None:
        secure_sqlite_file(db)
