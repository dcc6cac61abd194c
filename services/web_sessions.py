"""Signed-in browsers kept server side, so a reload (F5, a second tab) keeps a staff login and an
owner's ballot with its unsent answers, within the idle timeout (issue 16, item 4).

How a session reaches the browser. Streamlit's script runs over a websocket and cannot set a cookie,
so a sign-in makes a row holding only the keyed digest of a one-time *ticket*, bound to the browser
that signed in (the digest of its `kvorum_browser` cookie, ui/gate.py). The page hands the ticket to
the browser, whose next request (`POST …/_kvorum/session`, answered by the gate) trades it — once,
within a minute, from the same browser — for the session token. The gate sets that token as the
`kvorum_session` cookie (`kvorum_ballot` for an owner's ballot): signed with the instance key (HMAC-SHA256), HttpOnly, SameSite=Strict, Secure
on HTTPS. The ticket is replaced by the token in the row (`confirmed`), so a leaked ticket is worth
nothing, and the token, new at every sign-in, is never the cookie a browser had before it (no
session fixation).

Every run of a page reads the cookie (`st.context.cookies`): a valid signature, a row that is not
revoked, seen within the idle timeout, and bound to this same browser restores the login. Logout,
the idle timeout and a disabled account revoke the row; a revoked row never comes back.

No Streamlit here: the page (app.py, pages/vote.py) and the gate call these functions.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.models import WebSession, utcnow

COOKIES = {"staff": "kvorum_session", "owner": "kvorum_ballot"}  # one each: a colleague trying a code keeps the login
IDLE_TIMEOUT = dt.timedelta(minutes=30)  # a session left alone this long ends: staff and owners alike
TICKET_TTL = dt.timedelta(minutes=1)  # a sign-in's ticket must be traded within this
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often per session
KINDS = ("staff", "owner")
_PURPOSE = b"kvorum-web-session-v1"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _digest(value: str, secret_key: str) -> str:
    """What the database keeps of a ticket or token: a keyed digest (a database dump opens nothing)."""
    return hmac.new(_key(secret_key), b"digest:" + value.encode("ascii"), hashlib.sha256).hexdigest()


def sign(token: str, secret_key: str) -> str:
    mac = hmac.new(_key(secret_key), b"cookie:" + token.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def unsign(value: str | None, secret_key: str) -> str | None:
    """The token of a cookie signed by this instance's key; None for anything else."""
    if not value or value.count(".") != 1 or len(value) > 200:
        return None
    token, mac = value.split(".")
    try:
        expected = sign(token, secret_key)
    except UnicodeEncodeError:
        return None
    return token if hmac.compare_digest(expected, value) else None


@dataclass(frozen=True)
class Restored:
    """A live session found for this browser's cookie."""
    id: int
    kind: str
    user_id: int | None
    owner_id: int | None
    draft: dict


def start(session_factory: sessionmaker[Session], *, secret_key: str, kind: str, browser_digest: str,
          user_id: int | None = None, owner_id: int | None = None, draft: dict | None = None,
          now: dt.datetime | None = None) -> tuple[int, str] | None:
    """A sign-in: the row and the one-time ticket for the browser to trade (see the module's text).
    None when the browser has no cookie of ours (a test harness; cookies blocked): the login still
    works for this tab, and a reload asks again."""
    if kind not in KINDS or (kind == "staff") == (user_id is None) or (kind == "owner") == (owner_id is None):
        raise ValueError("a staff session needs a user, an owner's session an owner record")
    if not browser_digest:
        return None
    now = now or utcnow()
    ticket = secrets.token_urlsafe(32)
    with session_factory.begin() as s:
        row = WebSession(token_digest=_digest(ticket, secret_key), kind=kind, user_id=user_id, owner_id=owner_id,
                         browser_digest=browser_digest, created_at=now, last_seen_at=now, confirmed=False,
                         draft=json.dumps(draft or {}, ensure_ascii=False))
        s.add(row)
        s.flush()
        return row.id, ticket


def trade_ticket(session_factory: sessionmaker[Session], *, secret_key: str, ticket: str, browser_digest: str,
                 now: dt.datetime | None = None) -> tuple[str, str] | None:
    """The gate's half: a fresh ticket from the browser that signed in becomes the session's token;
    the cookie's name and signed value are returned. None (and nothing changes) for anything else."""
    if not ticket or not browser_digest or len(ticket) > 100:
        return None
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    try:
        ticket_digest = _digest(ticket, secret_key)
    except UnicodeEncodeError:
        return None
    with session_factory.begin() as s:
        # one UPDATE: two requests racing with the same ticket cannot both win
        done = s.execute(update(WebSession).where(
            WebSession.token_digest == ticket_digest, WebSession.confirmed.is_(False),
            WebSession.revoked_at.is_(None), WebSession.browser_digest == browser_digest,
            WebSession.created_at >= now - TICKET_TTL,
        ).values(token_digest=_digest(token, secret_key), confirmed=True, last_seen_at=now))
        if done.rowcount != 1:
            return None
        kind = s.scalar(select(WebSession.kind).where(WebSession.token_digest == _digest(token, secret_key)))
    return COOKIES[kind], sign(token, secret_key)


def restore(session_factory: sessionmaker[Session], *, secret_key: str, cookie: str | None, browser_digest: str,
            kind: str, now: dt.datetime | None = None) -> Restored | None:
    """The live session this browser's cookie stands for, of this kind; touched as seen. A session
    idle past the timeout is revoked here, whoever finds it."""
    token = unsign(cookie, secret_key)
    if token is None or not browser_digest:
        return None
    now = now or utcnow()
    with session_factory.begin() as s:
        row = s.scalars(select(WebSession).where(WebSession.token_digest == _digest(token, secret_key),
                                                 WebSession.confirmed.is_(True))).first()
        if row is None or row.revoked_at is not None or row.kind != kind or row.browser_digest != browser_digest:
            return None
        if now - row.last_seen_at > IDLE_TIMEOUT:
            row.revoked_at = now
            return None
        row.last_seen_at = now
        return Restored(row.id, row.kind, row.user_id, row.owner_id, _load(row.draft))


def _load(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


LIVE, IDLE, ENDED = "live", "idle", "ended"


def touch(session_factory: sessionmaker[Session], session_id: int, *, mark_seen: bool = True,
          now: dt.datetime | None = None) -> str:
    """Where a session stands at a page run: LIVE (marked seen unless `mark_seen` is False — the page
    writes at most once a minute); IDLE — nobody used it, in any tab, for the idle timeout (it is
    revoked here); ENDED — revoked elsewhere (a logout in another tab, a disabled account)."""
    now = now or utcnow()
    with session_factory.begin() as s:
        row = s.get(WebSession, session_id)
        if row is None or row.revoked_at is not None:
            return ENDED
        if now - row.last_seen_at > IDLE_TIMEOUT:
            row.revoked_at = now
            return IDLE
        if mark_seen:
            row.last_seen_at = now
        return LIVE


def save_draft(session_factory: sessionmaker[Session], session_id: int, draft: dict) -> None:
    """An owner's answers chosen so far (and where the ballot stands), for a reload to find."""
    with session_factory.begin() as s:
        s.execute(update(WebSession).where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
                  .values(draft=json.dumps(draft, ensure_ascii=False), last_seen_at=utcnow()))


def revoke(session_factory: sessionmaker[Session], session_id: int | None, *, now: dt.datetime | None = None) -> None:
    """Logout (or a session found to be lapsed): the row ends, and its draft with it."""
    if session_id is None:
        return
    with session_factory.begin() as s:
        s.execute(update(WebSession).where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
                  .values(revoked_at=now or utcnow(), draft=""))


def revoke_user(s: Session, user_id: int, *, now: dt.datetime | None = None) -> int:
    """Every session of a staff account (disabled, or its password reset), inside the caller's transaction."""
    done = s.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
                     .values(revoked_at=now or utcnow(), draft=""))
    return done.rowcount or 0


def prune(session_factory: sessionmaker[Session], *, now: dt.datetime | None = None) -> int:
    """Drop rows ended or idle for a day (called now and then at sign-in): no table grows forever."""
    cutoff = (now or utcnow()) - dt.timedelta(days=1)
    with session_factory.begin() as s:
        done = s.execute(delete(WebSession).where(or_(WebSession.revoked_at < cutoff,
                                                      WebSession.last_seen_at < cutoff)))
        return done.rowcount or 0
