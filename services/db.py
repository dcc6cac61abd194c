"""Engine, session factory and schema upgrade (Alembic) for SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
FILE_MODE = 0o600  # data files: owners' names, code hashes, codes in the outbox
DIR_MODE = 0o700

log = logging.getLogger("kvorum.db")


def restrict(path: Path, mode: int) -> None:
    """Set the mode explicitly (umask-independent); a file that is not ours is reported, not fatal."""
    try:
        if stat.S_IMODE(Path(path).stat().st_mode) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
    except PermissionError:
        log.warning("cannot restrict the permissions of %s", path)


def private_dir(path: Path) -> Path:
    """The folder (created if missing) readable by this account only."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    restrict(path, DIR_MODE)
    return path


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def secure_sqlite_file(path: Path) -> None:
    """The database file 0600, created so before SQLite first opens it: SQLite gives its -wal and
    -shm files the database file's own mode. A missing folder is created 0700 (an existing one is
    left alone here: it may be shared, such as /tmp; the data folder is restricted at start)."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))  # empty = a valid database
    except FileExistsError:
        pass
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        restrict(p, FILE_MODE)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            secure_sqlite_file(path)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Up to 30 connections a process: twenty owners voting at once and the staff's pages never wait
    # for the pool; the chain appends of one meeting are serialised by its row lock, not here. A wait
    # for a connection (pool_timeout) is a guard against a leak, far above a busy machine's need.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=120)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest schema; a user upgrading keeps their data."""
    from alembic import command

    cfg = alembic_config(engine)
    # Several app processes may start together; on SQLite the loser of a race waits.
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
