"""End-to-end fixtures: the real app under `streamlit run`, driven by headless Chromium.

- `start_app_server(...)` starts a server on a free port with its own data directory (a fresh
  SQLite database) and waits until it answers; every server it started is stopped at the end.
- `app_server` is one such server for the whole session, with a staff account
  (E2E_LOGIN / E2E_PASSWORD) already created: share it between tests that only need a login.
- `browser` is Chromium (KVORUM_CHROMIUM, default /usr/bin/chromium); `page` is a fresh
  browser context (its own cookies, so its own Streamlit session) per test.
- `staff_page` is a `page` logged in to `app_server`.

Mark every test module `pytestmark = pytest.mark.e2e` (deselect them with `-m "not e2e"`); they
are skipped, with the reason, only when Chromium is missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    E2E_LOGIN,
    E2E_NAME,
    E2E_PASSWORD,
    ROOT,
    UI_TIMEOUT,
    AppServer,
    create_staff_user,
    free_port,
    log_in,
    wait_until_up,
)


@pytest.fixture(scope="session")
def start_app_server(tmp_path_factory):
    """start_app_server(env=None, staff=False) -> AppServer: a new server on a fresh database.

    `env` adds or overrides environment variables (SMTP settings, say); `staff=True` creates the
    E2E_LOGIN account first.
    """
    servers: list[AppServer] = []

    def start(env: dict[str, str] | None = None, *, staff: bool = False) -> AppServer:
        data_dir = tmp_path_factory.mktemp("e2e-data")
        port = free_port()
        full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SMTP_")}
        full_env.update({
            "KVORUM_DATA_DIR": str(data_dir),
            "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
        })
        full_env.update(env or {})
        if staff:
            create_staff_user(full_env, username=E2E_LOGIN, password=E2E_PASSWORD, full_name=E2E_NAME)
        log_path = data_dir / "streamlit.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "serve.py",  # as `make run` starts it
                 "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        server = AppServer(f"http://127.0.0.1:{port}", data_dir, process, log_path, full_env)
        servers.append(server)
        wait_until_up(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def app_server(start_app_server) -> AppServer:
    """One server for the session, with the E2E_LOGIN staff account."""
    return start_app_server(staff=True)


@pytest.fixture(scope="session")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        pytest.skip(f"Chromium not found at {CHROMIUM} (set KVORUM_CHROMIUM to its path)")
    from playwright.sync_api import expect, sync_playwright

    # expect() has its own 5 s default, too short for a script run on a busy machine
    expect.set_options(timeout=UI_TIMEOUT)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    context.set_default_timeout(UI_TIMEOUT)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where tests save screenshots to look at: KVORUM_E2E_SCREENSHOTS or <tmp>/kvorum-e2e-screenshots.

    Not under pytest's basetemp, which keeps only the last three runs.
    """
    path = Path(os.environ.get("KVORUM_E2E_SCREENSHOTS") or Path(tempfile.gettempdir()) / "kvorum-e2e-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def staff_page(page, app_server):
    """A browser page logged in to `app_server`, on «Собрания»."""
    log_in(page, app_server)
    return page
