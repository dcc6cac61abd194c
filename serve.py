#!/usr/bin/env python3
"""Starts the Kvorum web server: `streamlit run asgi.py [options]` — app.py, the only router, behind
the browser gate of asgi.py.

Streamlit still has its old pages-directory mode: while a server process has not yet run a
script that calls st.navigation, a visit to /vote (or any page) runs that file from pages/ on
its own, with a sidebar listing every file there — to an anonymous owner. app.py's navigation
ends that mode, but only after its first run; switching it off before the server starts makes
every run, the first one included, go through app.py. `make run` uses this.

The process-wide parts (the schema upgrade, the database engine, the sender thread) are built here,
once, before the server takes its first request: queued notices go out after a restart with no page
opened, and nothing a browser sends can build them again (services/process.py).
"""
import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

from services import process
from ui import warmup
from services.settings import SettingsError

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    try:
        process.start()  # also the umask: files this process creates are its account's only
    except SettingsError as exc:
        sys.exit(f"Ошибка настроек: {exc}")
    # the pages' imports now, not on each page's first visit (ui/warmup.py, bench/page_speed.py)
    warmup.warm_first_page()
    warmup.warm_pages()
    warmup.freeze_heap()
    # asgi.py: app.py behind the browser gate (ui/gate.py), Streamlit's own st.App way to add middleware
    sys.argv = ["streamlit", "run", "asgi.py", *sys.argv[1:]]
    sys.exit(cli.main())
