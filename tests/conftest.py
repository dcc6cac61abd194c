"""Shared fixtures: a migrated database on SQLite and, when KVORUM_TEST_POSTGRES_URL is set
(CI sets it), the same tests again on PostgreSQL."""
from __future__ import annotations

import os
import shutil
import uuid
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.db import make_engine, make_session_factory, upgrade_schema  # noqa: E402
from services.models import Base  # noqa: E402

POSTGRES_URL = os.environ.get("KVORUM_TEST_POSTGRES_URL", "")

BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for every test: fresh state without re-running Alembic."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url():
    """A database of this test run's own on the given PostgreSQL server, dropped at the end: two
    runs on one machine (a developer's and CI's, or parallel sessions) never see each other's rows."""
    if not POSTGRES_URL:
        pytest.skip("KVORUM_TEST_POSTGRES_URL is not set")
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    name = f"kvorum_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url):
    engine = make_engine(postgres_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def _truncate_postgres(engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # the audit log's append-only triggers stand down for the test fixture's own cleanup only
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A freshly migrated, empty database URL, once per backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kvorum.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    engine = request.getfixturevalue("postgres_engine")
    _truncate_postgres(engine)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    """SQLite only: for tests of a whole process (CLI, app server) that need a file database."""
    path = tmp_path / "kvorum.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def smtp_server():
    """A running aiosmtpd server on a free port of 127.0.0.1; stopped after the test."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()
