"""Helpers of the browser tests: the app server process, waiting for Streamlit, logging in."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KVORUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
from tests import hang  # noqa: E402

STARTUP_TIMEOUT = hang.SERVER_START  # s until the server answers its health check (a hang guard)
UI_TIMEOUT = hang.UI_MS  # ms Playwright waits for an element (a hang guard)

E2E_LOGIN = "e2e-admin"
E2E_PASSWORD = "e2e-password-2026"
E2E_NAME = "Проверяющий Сквозных Тестов"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    """A running `streamlit run app.py`."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.env.get("DATABASE_URL") or f"sqlite:///{self.data_dir / 'kvorum.db'}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # the server runs in its own process group: stop it and nothing else
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def wait_until_up(server: AppServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.process.returncode}:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(hang.message("the server's health check", STARTUP_TIMEOUT) + ":\n" + server.log()[-3000:])


def create_staff_user(env: dict[str, str], *, username: str, password: str, full_name: str = "") -> None:
    """A staff account straight in the database of the server `env` describes, before it starts."""
    from services.auth import create_user
    from services.runtime import build_runtime
    from services.settings import load_settings

    runtime = build_runtime(load_settings(env))  # migrates the fresh database first
    try:
        create_user(runtime.session_factory, username=username, password=password, full_name=full_name)
    finally:
        runtime.engine.dispose()


def wait_idle(page) -> None:
    """Wait until the script run started by the last action has finished."""
    page.wait_for_timeout(300)  # the run starts a moment after the click or keystroke
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def log_in(page, server: AppServer, *, username: str = E2E_LOGIN, password: str = E2E_PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(server.url)
    expect(page.get_by_text("Вход для сотрудников")).to_be_visible()
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль", exact=True).fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Собрания собственников")).to_be_visible()


def first_run_code(server: AppServer) -> str:
    """The one-time code a fresh server prints in its log when the first visitor finds no account."""
    import re

    from tests import hang

    deadline = time.monotonic() + hang.SERVER_START
    while time.monotonic() < deadline:
        found = re.search(r"Код первого запуска для создания администратора: ([0-9A-F-]+)", server.log())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError("the server did not print the first-run code:\n" + server.log()[-2000:])


def seed_demo_registry(server: AppServer) -> int:
    """The demonstration registry on a meeting before its notices (services.demo.create_demo_meeting),
    straight into the server's database: the page's «Создать демонстрационное собрание» makes a
    meeting already in its voting period, notified, with decisions in."""
    from services.db import make_engine, make_session_factory
    from services.demo import create_demo_meeting

    engine = make_engine(server.database_url)
    try:
        return create_demo_meeting(make_session_factory(engine))
    finally:
        engine.dispose()
