"""The owners' notification-status index of a meeting, cached per server process.

The index is rebuilt only when the data behind it changed (`status_version`), so a keystroke in
the search box filters in memory instead of querying every owner again.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from services.notify import owner_status_index, status_version
from ui import state


@st.cache_data(ttl=60, show_spinner=False, max_entries=20)
def _index(meeting_id: int, version: tuple, database_url: str) -> pd.DataFrame:
    return owner_status_index(state.session_factory(), meeting_id=meeting_id)


def owner_index(meeting_id: int) -> pd.DataFrame:
    version = status_version(state.session_factory(), meeting_id=meeting_id)
    return _index(meeting_id, version, state.runtime().settings.database_url)


def refresh_owner_index() -> None:
    _index.clear()
