"""A signed-in session (staff, or an owner with a code) belongs to the browser it began in (see ui.gate)."""
from __future__ import annotations

import uuid

import streamlit as st

from ui import gate

BROWSER = "browser_digest"  # the digest of the browser cookie the session was signed in from
RUN_ID = "gate_session_id"  # this Streamlit session's own random id, for the gate's table


def current_digest() -> str:
    try:
        return gate.browser_digest(st.context.cookies.get(gate.COOKIE))
    except Exception:  # no client context (a test harness): no cookie
        return ""


def _session_id() -> str:
    return st.session_state.setdefault(RUN_ID, uuid.uuid4().hex)


def moved() -> bool:
    """True when this signed-in session is now driven by another browser (a resumed session id)."""
    return not gate.same_browser(st.session_state.get(BROWSER), current_digest())


def keep() -> None:
    """Bind the session to this browser (on sign-in) and mark the browser signed in (on every run)."""
    digest = st.session_state.setdefault(BROWSER, current_digest())
    gate.bind(digest, _session_id())


def forget() -> None:
    digest = st.session_state.pop(BROWSER, None)
    if digest:
        gate.unbind(digest, _session_id())
