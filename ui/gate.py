"""The browser gate: one cookie per browser, and what the server serves only to a signed-in browser.

Streamlit lets a websocket resume any session whose id it presents, and serves every generated
download at /media/<id> to whoever asks for it. Kvorum ties both to the browser instead:

- Every HTTP response sets `kvorum_browser` (random, HttpOnly, SameSite=Strict) when the browser has
  none. The websocket the page opens carries it, so the script sees it in `st.context.cookies`.
- A staff login (or an owner's code) remembers that browser for the session (`bind`); a session
  presented later by another browser — a second websocket with a stolen session id — no longer
  matches and is signed out by the page (`same_browser`).
- `POST …/_kvorum/session` trades a sign-in's one-time ticket for the signed session cookie
  `kvorum_session` (an owner's: `kvorum_ballot`; services/web_sessions.py), so a reload keeps the login; only from the browser
  that signed in, once.
- /media/ answers only to a browser that holds a signed-in session of this server process and
  has been seen within the idle timeout; to anyone else it is «not found». The files there are
  generated on click (deferred downloads) and live in this process's memory, so an in-process
  table is the right scope even with several app instances.

Pure ASGI (no Streamlit import), mounted by serve.py through st.App's middleware.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from http.cookies import CookieError, SimpleCookie

COOKIE = "kvorum_browser"
_COOKIE_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_lock = threading.Lock()
# digest of the browser cookie -> {session id: monotonic time it was last seen signed in}
_signed_in: dict[str, dict[str, float]] = {}
_IDLE_SECONDS = 30 * 60  # the staff idle timeout (services.auth.IDLE_TIMEOUT); an owner's page alike


def browser_digest(cookie_value: str | None) -> str:
    """What is kept of the cookie: its digest, never the value (a memory dump gives no cookie)."""
    if not cookie_value or not _COOKIE_RE.match(cookie_value):
        return ""
    return hashlib.sha256(cookie_value.encode("ascii")).hexdigest()


def bind(digest: str, session_id: str, *, now: float | None = None) -> None:
    """Remember that this browser holds a signed-in session (called on every run of one)."""
    if not digest:
        return
    with _lock:
        _signed_in.setdefault(digest, {})[session_id] = time.monotonic() if now is None else now


def unbind(digest: str, session_id: str) -> None:
    with _lock:
        sessions = _signed_in.get(digest)
        if sessions is not None:
            sessions.pop(session_id, None)
            if not sessions:
                del _signed_in[digest]


def is_signed_in(digest: str, *, now: float | None = None) -> bool:
    if not digest:
        return False
    now = time.monotonic() if now is None else now
    with _lock:
        sessions = _signed_in.get(digest, {})
        for sid, seen in list(sessions.items()):
            if now - seen > _IDLE_SECONDS:
                del sessions[sid]
        if not sessions:
            _signed_in.pop(digest, None)
            return False
        return True


def same_browser(bound_digest: str | None, current_digest: str) -> bool:
    """A session belongs to the browser it was signed in from; None: not bound yet."""
    return bound_digest is None or bound_digest == current_digest


def _cookies(scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return {}
            return {k: m.value for k, m in jar.items()}
    return {}


def session_path(base_path: str = "") -> str:
    """Where the page trades a ticket for the session cookie (under Streamlit's baseUrlPath)."""
    return "/" + "/".join(p for p in (base_path.strip("/"), "_kvorum", "session") if p)


def _trade(ticket: str, digest: str) -> tuple[str, str] | None:
    from services import process
    from services.web_sessions import trade_ticket

    rt = process.runtime()
    return trade_ticket(rt.session_factory, secret_key=rt.secret_key, ticket=ticket, browser_digest=digest)


async def _read_body(receive, limit: int = 1024) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return body


class BrowserGate:
    """ASGI middleware: sets the browser cookie; trades a sign-in's ticket for the session cookie;
    refuses /media/ to a browser without a session."""

    def __init__(self, app, base_path: str = "") -> None:
        self.app = app
        self.media_prefix = "/" + "/".join(p for p in (base_path.strip("/"), "media") if p) + "/"
        self.session_path = session_path(base_path)

    async def _session(self, scope, receive, send) -> None:
        import json

        import anyio
        cookie = None
        body = await _read_body(receive) if scope.get("method") == "POST" else None
        digest = browser_digest(_cookies(scope).get(COOKIE))
        try:
            ticket = json.loads(body or b"{}").get("ticket", "")
        except (ValueError, AttributeError):
            ticket = ""
        if isinstance(ticket, str) and ticket and digest:
            cookie = await anyio.to_thread.run_sync(_trade, ticket, digest)
        headers = [(b"cache-control", b"no-store"), (b"content-type", b"text/plain; charset=utf-8")]
        if cookie:
            value = f"{cookie[0]}={cookie[1]}; Path=/; HttpOnly; SameSite=Strict"
            if scope.get("scheme") == "https":
                value += "; Secure"
            headers.append((b"set-cookie", value.encode("ascii")))
        await send({"type": "http.response.start", "status": 204 if cookie else 403, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "") == self.session_path or scope.get("path", "").endswith("/_kvorum/session"):
            await self._session(scope, receive, send)
            return
        value = _cookies(scope).get(COOKIE)
        if scope.get("path", "").startswith(self.media_prefix) and not is_signed_in(browser_digest(value)):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": "Файл не найден.".encode()})
            return
        if browser_digest(value):
            await self.app(scope, receive, send)
            return
        header = (f"{COOKIE}={secrets.token_urlsafe(32)}; Path=/; HttpOnly; SameSite=Strict").encode("ascii")
        if scope.get("scheme") == "https":
            header += b"; Secure"

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", header)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class _SessionIdRedactor(logging.Filter):
    """Streamlit logs a resumed session's id at WARNING; a session id is a bearer secret."""

    _ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._ID.sub("…", a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_session_ids_in_logs() -> None:
    logging.getLogger("streamlit.runtime.websocket_session_manager").addFilter(_SessionIdRedactor())
