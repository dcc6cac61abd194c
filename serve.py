#!/usr/bin/env python3
"""Starts the Kvorum web server: `streamlit run app.py [options]`, with app.py as the only router.

Streamlit still has its old pages-directory mode: while a server process has not yet run a
script that calls st.navigation, a visit to /vote (or any page) runs that file from pages/ on
its own, with a sidebar listing every file there — to an anonymous owner. app.py's navigation
ends that mode, but only after its first run; switching it off before the server starts makes
every run, the first one included, go through app.py. `make run` uses this.
"""
import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
