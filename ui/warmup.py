"""The modules the pages import, imported once when the server starts rather than on a first visit.

A page's first run in a server process used to import pandas, altair, openpyxl, docxtpl and the
services behind it: a second or two more than every later visit of the same page (bench/page_speed.py).
serve.py imports all of it before the server answers: about 0.8 s more at start on 2 cores, and no
first visit competes with an import thread for the interpreter (a background thread made the first
page slower than the import saved). The list is read from the scripts' own import statements, so a
page that imports something new is warmed without a change here.
"""
from __future__ import annotations

import ast
import importlib
import logging
from pathlib import Path

from services.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

#: What the router's first run (the login page) imports: app.py and ui/.
FIRST_PAGE_SCRIPTS = ("app.py", "ui/*.py")
#: What the staff pages import, and what Streamlit imports itself only when a page first draws a table
#: (Arrow) or a chart (Vega).
PAGE_SCRIPTS = ("pages/*.py",)
STREAMLIT_LAZY = ("streamlit.emojis",  # its emoji table, read on a page's first st.warning/st.info: 0.2 s
                  "pyarrow", "streamlit.elements.arrow", "streamlit.elements.vega_charts",
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


def warm_pages() -> None:
    """Import what the staff pages need, and what Streamlit imports only when a page first draws a
    table or a chart (after `warm_first_page`, before the server answers)."""
    import_all([*imported_modules(PAGE_SCRIPTS), *STREAMLIT_LAZY])


def freeze_heap() -> None:
    """After the imports: the objects made so far (modules, classes, functions) are moved out of the
    collector's reach (gc.freeze), so no later collection walks them again — a collection then costs
    what the sessions made, not the whole of pandas and SQLAlchemy. They live as long as the process
    anyway."""
    import gc

    gc.collect()
    gc.freeze()
