"""Fixtures for the AppTest page tests: the real app.py on a fresh SQLite file per test.

AppTest runs the script on its own thread, so the database is a file under tmp_path (never
:memory:). The app reads its settings from the environment, so the fixtures point DATABASE_URL
and KVORUM_DATA_DIR there; services/process.py holds the runtime of the process, and it is closed
after each test so no engine outlives its temporary directory.
"""
from __future__ import annotations

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from pagekit import ADMIN_LOGIN, ADMIN_NAME, ADMIN_PASSWORD, APP, TIMEOUT, meeting_data
from services.auth import StaffUser, create_user
from services.meetings import create_meeting


@pytest.fixture
def db_url(sqlite_url) -> str:
    """Page tests run on SQLite only; storage is covered on both backends in tests/integration."""
    return sqlite_url


@pytest.fixture
def app_env(db_url, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("KVORUM_DATA_DIR", str(tmp_path))
    # a developer's own .streamlit/secrets.toml must not leak into the tests
    monkeypatch.setenv("KVORUM_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    # page tests send nothing: no sender thread left polling a deleted temporary database
    monkeypatch.setenv("KVORUM_EMBEDDED_SENDER", "0")
    yield db_url
    from services import process

    process.close()  # the process runtime (engine) of this test's database: none outlives its directory


@pytest.fixture
def warm_server(monkeypatch) -> None:
    """Every run goes through app.py, as on a server where app.py has run once.

    With a `pages/` directory next to app.py, Streamlit starts a process in the old
    pages-directory mode and leaves it at app.py's first st.navigation call. AppTest resets
    that flag before every run, so without this a rerun would execute the page file alone,
    skipping the router. The cold start itself is tested in test_login_page.py.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def cold_app(app_env) -> AppTest:
    """The whole app on a server process that has not run app.py yet, not run yet."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


@pytest.fixture
def app(app_env, warm_server) -> AppTest:
    """The whole app (router and login gate), not run yet."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


@pytest.fixture
def admin(session_factory) -> StaffUser:
    return create_user(session_factory, username=ADMIN_LOGIN, password=ADMIN_PASSWORD, full_name=ADMIN_NAME)


@pytest.fixture
def staff_app(app, admin) -> AppTest:
    """The app after a staff login, on «Собрания» (the login form itself is tested in test_login_page.py)."""
    app.session_state["user"] = admin
    return app.run()


@pytest.fixture
def meeting_id(session_factory) -> int:
    return create_meeting(session_factory, data=meeting_data())


@pytest.fixture
def open_page(staff_app):
    """open_page(path, meeting_id): a staff page with that meeting chosen, as after «Этапы ОСС»."""

    def _open(path: str, meeting_id: int | None = None) -> AppTest:
        staff_app.session_state["meeting_id"] = meeting_id
        return staff_app.switch_page(path).run()

    return _open
