"""Security tests: the attack and the expected clear result, one case a test.

The browser tests reuse the end-to-end fixtures (a running app server, Chromium): they are
imported from tests/e2e/conftest.py rather than copied."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent, HERE.parent / "e2e"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.e2e import conftest as e2e  # noqa: E402
from tests.e2e.conftest import page, screenshot_dir, start_app_server, staff_page  # noqa: E402,F401


@pytest.fixture(scope="session")
def browser():
    """The end-to-end tests' Chromium when they have started it in this session: Playwright's sync
    API runs one instance per process, and a second one fails («inside the asyncio loop»).
    Otherwise (this folder run alone) one of its own, started the same way."""
    from playwright.sync_api import Browser

    running = [b for b in gc.get_objects() if isinstance(b, Browser) and b.is_connected()]
    if running:
        yield running[0]
        return
    yield from e2e.browser.__wrapped__()
