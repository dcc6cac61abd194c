"""Security tests: the attack and the expected clear result, one case a test.

The browser tests reuse the end-to-end fixtures (a running app server, Chromium): they are
imported from tests/e2e/conftest.py rather than copied."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent, HERE.parent / "e2e"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.e2e.conftest import app_server, browser, page, screenshot_dir, start_app_server, staff_page  # noqa: E402,F401
