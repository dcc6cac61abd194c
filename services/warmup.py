"""The modules the pages import, imported once when the server starts rather than on a first visit.

A page's first run in a server process used to import pandas, altair, openpyxl, docxtpl and the
services behind it: a second or two more than every later visit of the same page (bench/page_speed.py).
serve.py imports what the login page needs before the server answers, and the rest in a background
thread while nobody is signed in yet. The list is read from the scripts' own import statements, so a
page that imports something new is warmed without a change here.
"""
from __future__ import annotations

import ast
import importlib
import logging
import threading
from pathlib import Path

from services.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

#: What the router's first run (the login page) imports: app.py and ui/.
FIRST_PAGE_SCRIPTS = ("app.py", "ui/*.py")
#: What the staff pages import, and what Streamlit imports itself only when a page first draws a table
#: (Arrow) or a chart (Vega).
PAGE_SCRIPTS = ("pages/*.py",)
STREAMLIT_LAZY = ("pyarrow", "streamlit.elements.arrow", "streamlit.elements.vega_charts",
                  "streamlit.elements.lib.column_config_utils", "streamlit.elements.widgets.data_editor",
                  "openpyxl", "docxtpl")


def imported_modules(patterns: tuple[str, ...], root: Path = PROJECT_ROOT) -> list[str]:
    """The absolute module names the scripts matching `patterns` import at any level, in first-seen order."""
    names: dict[str, None] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Import):
                    names.update((alias.name, None) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level \
                        and node.module != "__future__":
                    names[node.module] = None
                    # `from services import demo`: the names may be modules themselves
                    names.update((f"{node.module}.{alias.name}", None) for alias in node.names)
    return list(names)


def import_all(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # `from x import function`: not a module, its package was imported just above
        except Exception:  # noqa: BLE001 - a warm-up never stops the server; the page reports its own failure
            log.warning("warm-up: importing %s failed", name, exc_info=True)


def warm_first_page() -> None:
    """Import what the login page needs (before the server answers its first request)."""
    import_all(imported_modules(FIRST_PAGE_SCRIPTS))


def warm_pages_in_background() -> threading.Thread:
    """Import what the staff pages need in a daemon thread; returns it (tests join it)."""
    thread = threading.Thread(target=lambda: import_all([*imported_modules(PAGE_SCRIPTS), *STREAMLIT_LAZY]),
                              name="kvorum-warmup", daemon=True)
    thread.start()
    return thread
