"""A signed-in session (staff, or an owner with a code) belongs to the browser it began in (see ui.gate)."""
from __future__ import annotations

import json
import secrets
import time
import uuid

import streamlit as st

from services import web_sessions
from ui import gate, state

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


# ---------- the session cookie: a reload keeps the login (services/web_sessions.py) ----------
# Kept per kind: a colleague who tries an owner's code on «Страница голосования» keeps the login.

def _keys(kind: str) -> tuple[str, str, str]:
    """Session-state keys: the server-side session id; the ticket waiting to be traded for the
    cookie (ticket, monotonic time made); the monotonic time the session was last marked seen."""
    return f"web_session_{kind}", f"web_session_ticket_{kind}", f"web_session_touched_{kind}"


def _cookie(kind: str) -> str | None:
    try:
        return st.context.cookies.get(web_sessions.COOKIES[kind])
    except Exception:  # no client context (a test harness)
        return None


def sign_in(kind: str, *, user_id: int | None = None, owner_id: int | None = None, draft: dict | None = None) -> None:
    """After a login (or a code): the server-side session, and its ticket handed to the browser on
    the following runs (`hand_over`)."""
    rt = state.runtime()
    if secrets.randbelow(50) == 0:
        web_sessions.prune(rt.session_factory)
    made = web_sessions.start(rt.session_factory, secret_key=rt.secret_key, kind=kind, browser_digest=current_digest(),
                              user_id=user_id, owner_id=owner_id, draft=draft)
    if made is not None:
        session_key, handover_key, touched_key = _keys(kind)
        st.session_state[session_key], ticket = made
        st.session_state[handover_key] = (ticket, time.monotonic())
        st.session_state[touched_key] = time.monotonic()


def hand_over(kind: str) -> None:
    """While a fresh ticket waits, the page asks the server for the cookie (the gate answers,
    ui/gate.py). Drawn on every run for the ticket's minute: a run cut short by a rerun draws it
    again, and a second request for a ticket already traded is refused and changes nothing."""
    handover_key = _keys(kind)[1]
    pending = st.session_state.get(handover_key)
    if not pending:
        return
    ticket, made = pending
    if time.monotonic() - made > web_sessions.TICKET_TTL.total_seconds():
        st.session_state.pop(handover_key, None)
        return
    url = gate.session_path(st.get_option("server.baseUrlPath") or "")
    # the ticket is ours (URL-safe base64), never user text; json.dumps quotes it for the script
    st.html(f"<script>fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{ticket: {json.dumps(ticket)}}})}})"
            f"</script>", unsafe_allow_javascript=True)


def restore(kind: str):
    """The live session this browser's cookie stands for (web_sessions.Restored), after a reload
    or in a second tab; None when there is none."""
    rt = state.runtime()
    found = web_sessions.restore(rt.session_factory, secret_key=rt.secret_key, cookie=_cookie(kind),
                                 browser_digest=current_digest(), kind=kind)
    if found is not None:
        session_key, _, touched_key = _keys(kind)
        st.session_state[session_key] = found.id
        st.session_state[touched_key] = time.monotonic()
    return found


def session_state(kind: str) -> str | None:
    """Where this tab's server-side session stands (web_sessions.LIVE, IDLE or ENDED), checked on
    every run and marked seen at most once a minute; None when the tab signed in without one (a test
    harness, cookies blocked), whose idle time the page keeps itself. The server-side row is shared
    by every tab of the browser: a tab left alone is not signed out while another is in use."""
    session_key, _, touched_key = _keys(kind)
    session_id = st.session_state.get(session_key)
    if session_id is None:
        return None
    now = time.monotonic()
    mark = now - st.session_state.get(touched_key, 0) >= web_sessions.TOUCH_EVERY.total_seconds()
    if mark:
        st.session_state[touched_key] = now
    return web_sessions.touch(state.runtime().session_factory, session_id, mark_seen=mark)


def save_draft(kind: str, draft: dict) -> None:
    session_id = st.session_state.get(_keys(kind)[0])
    if session_id is not None:
        web_sessions.save_draft(state.runtime().session_factory, session_id, draft)


def end_server_session(kind: str) -> None:
    """The server-side session ends (a reload no longer restores it); this tab goes on as it is —
    an owner's page after the decision was sent, say."""
    session_key, handover_key, touched_key = _keys(kind)
    web_sessions.revoke(state.runtime().session_factory, st.session_state.pop(session_key, None))
    st.session_state.pop(handover_key, None)
    st.session_state.pop(touched_key, None)


def sign_out(kind: str) -> None:
    """Logout: the server-side session is revoked, so the cookie opens nothing any more."""
    session_key, handover_key, touched_key = _keys(kind)
    web_sessions.revoke(state.runtime().session_factory, st.session_state.pop(session_key, None))
    st.session_state.pop(handover_key, None)
    st.session_state.pop(touched_key, None)
    forget()
