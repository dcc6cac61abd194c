"""Sessions that survive a reload (services/web_sessions.py): the ticket traded once, from the browser
that signed in, for a signed cookie; restored only there, within the idle timeout, until revoked."""
from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from sqlalchemy import select

from services import web_sessions
from services.auth import create_user, reset_password, update_user
from services.models import WebSession, utcnow

KEY = "test-instance-key"
BROWSER = hashlib.sha256(b"browser-a").hexdigest()
OTHER_BROWSER = hashlib.sha256(b"browser-b").hexdigest()


@pytest.fixture
def staff(session_factory):
    admin = create_user(session_factory, username="boss", password="boss-pass-123", role="admin")
    anna = create_user(session_factory, username="anna", password="anna-pass-123", role="operator")
    return admin, anna


def signed_in(session_factory, user_id: int, *, browser: str = BROWSER, now=None) -> str:
    _, ticket = web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=browser,
                                   user_id=user_id, now=now)
    name, cookie = web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket, browser_digest=browser,
                                             now=now)
    assert name == "kvorum_session"
    return cookie


def restore(session_factory, cookie, *, browser: str = BROWSER, kind: str = "staff", now=None):
    return web_sessions.restore(session_factory, secret_key=KEY, cookie=cookie, browser_digest=browser, kind=kind,
                                now=now)


def test_the_cookie_restores_the_login_in_the_same_browser_only(session_factory, staff):
    _, anna = staff
    cookie = signed_in(session_factory, anna.id)
    found = restore(session_factory, cookie)
    assert found is not None and found.user_id == anna.id and found.kind == "staff"
    assert restore(session_factory, cookie, browser=OTHER_BROWSER) is None  # a copied cookie opens nothing
    assert restore(session_factory, cookie, kind="owner") is None
    # neither the ticket nor the token is kept: only keyed digests
    with session_factory() as s:
        stored = s.scalar(select(WebSession.token_digest))
    assert cookie.split(".")[0] not in stored and len(stored) == 64


@pytest.mark.parametrize("tamper", [
    lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # the signature altered
    lambda c: "A" + c[1:],  # the token altered, the signature kept
    lambda c: c.split(".")[0],  # no signature
    lambda c: "",
])
def test_a_forged_cookie_restores_nothing(session_factory, staff, tamper):
    cookie = signed_in(session_factory, staff[1].id)
    assert restore(session_factory, tamper(cookie)) is None
    assert restore(session_factory, cookie) is not None


def test_a_cookie_signed_with_another_key_restores_nothing(session_factory, staff):
    cookie = signed_in(session_factory, staff[1].id)
    assert web_sessions.restore(session_factory, secret_key="another-instance", cookie=cookie, browser_digest=BROWSER,
                                kind="staff") is None


def test_the_ticket_is_traded_once_from_the_browser_that_signed_in_within_a_minute(session_factory, staff):
    _, anna = staff
    _, ticket = web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=BROWSER,
                                   user_id=anna.id)
    assert web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket,
                                     browser_digest=OTHER_BROWSER) is None
    assert web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket, browser_digest=BROWSER)
    assert web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket, browser_digest=BROWSER) is None
    # a ticket left for longer than its minute is worth nothing
    made = utcnow()
    _, late = web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=BROWSER,
                                 user_id=anna.id, now=made)
    assert web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=late, browser_digest=BROWSER,
                                     now=made + web_sessions.TICKET_TTL + dt.timedelta(seconds=1)) is None


def test_two_requests_racing_with_one_ticket_get_one_cookie(session_factory, staff):
    _, ticket = web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=BROWSER,
                                   user_id=staff[1].id)
    results, barrier = [], threading.Barrier(4)

    def trade():
        barrier.wait()
        try:
            results.append(web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket,
                                                     browser_digest=BROWSER))
        except Exception as exc:  # a lock timeout on SQLite is a refusal too
            results.append(exc)

    threads = [threading.Thread(target=trade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, tuple) for r in results) == 1


def test_an_unconfirmed_session_is_not_restored_by_its_ticket(session_factory, staff):
    _, ticket = web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=BROWSER,
                                   user_id=staff[1].id)
    # the ticket itself, signed as if it were a token, opens nothing before (or after) the trade
    assert restore(session_factory, web_sessions.sign(ticket, KEY)) is None


def test_idle_past_the_timeout_ends_the_session_for_good(session_factory, staff):
    t0 = utcnow()
    cookie = signed_in(session_factory, staff[1].id, now=t0)
    within = t0 + web_sessions.IDLE_TIMEOUT - dt.timedelta(seconds=5)
    assert restore(session_factory, cookie, now=within) is not None  # seen: the timeout starts again
    later = within + web_sessions.IDLE_TIMEOUT + dt.timedelta(seconds=1)
    assert restore(session_factory, cookie, now=later) is None
    assert restore(session_factory, cookie, now=later) is None  # revoked, not merely late
    with session_factory() as s:
        assert s.scalar(select(WebSession.revoked_at)) is not None


def test_touch_says_when_the_session_ended_elsewhere(session_factory, staff):
    cookie = signed_in(session_factory, staff[1].id)
    found = restore(session_factory, cookie)
    assert web_sessions.touch(session_factory, found.id, mark_seen=False) == web_sessions.LIVE
    web_sessions.revoke(session_factory, found.id)  # a logout in another tab
    assert web_sessions.touch(session_factory, found.id) == web_sessions.ENDED
    assert restore(session_factory, cookie) is None


def test_touch_says_idle_only_when_no_tab_used_the_session_for_the_timeout(session_factory, staff):
    t0 = utcnow()
    cookie = signed_in(session_factory, staff[1].id, now=t0)
    found = restore(session_factory, cookie, now=t0)
    # another tab's click 29 minutes in keeps it live for this tab too (one row for the browser)
    later = t0 + dt.timedelta(minutes=29)
    assert web_sessions.touch(session_factory, found.id, now=later) == web_sessions.LIVE
    assert web_sessions.touch(session_factory, found.id, mark_seen=False,
                              now=later + dt.timedelta(minutes=20)) == web_sessions.LIVE
    assert web_sessions.touch(session_factory, found.id,
                              now=later + web_sessions.IDLE_TIMEOUT + dt.timedelta(seconds=1)) == web_sessions.IDLE
    assert web_sessions.touch(session_factory, found.id) == web_sessions.ENDED  # revoked by the idle check


def test_disabling_an_account_or_resetting_its_password_revokes_its_sessions(session_factory, staff):
    admin, anna = staff
    first = signed_in(session_factory, anna.id)
    second = signed_in(session_factory, anna.id, browser=OTHER_BROWSER)
    own = signed_in(session_factory, admin.id)
    reset_password(session_factory, admin=admin, user_id=anna.id, new_password="new-anna-pass-1")
    assert restore(session_factory, first) is None
    assert restore(session_factory, second, browser=OTHER_BROWSER) is None
    assert restore(session_factory, own) is not None  # the administrator's own login stays
    third = signed_in(session_factory, anna.id)
    update_user(session_factory, admin=admin, user_id=anna.id, role="operator", is_active=False)
    assert restore(session_factory, third) is None


def test_an_owners_ballot_keeps_its_unsent_answers_until_sent_or_signed_out(session_factory, staff):
    from services.demo import create_live_demo

    demo = create_live_demo(session_factory, secret_key=KEY)
    with session_factory() as s:
        from services.models import OwnerRecord
        owner_id = s.scalar(select(OwnerRecord.id).where(OwnerRecord.meeting_id == demo.meeting_id))
    session_id, ticket = web_sessions.start(session_factory, secret_key=KEY, kind="owner", browser_digest=BROWSER,
                                            owner_id=owner_id, draft={"step": "answer", "answers": {}})
    name, cookie = web_sessions.trade_ticket(session_factory, secret_key=KEY, ticket=ticket, browser_digest=BROWSER)
    assert name == "kvorum_ballot"
    web_sessions.save_draft(session_factory, session_id, {"step": "review", "answers": {"7": "for", "8": "against"}})
    found = restore(session_factory, cookie, kind="owner")
    assert found.owner_id == owner_id and found.draft == {"step": "review", "answers": {"7": "for", "8": "against"}}
    assert restore(session_factory, cookie, kind="staff") is None  # a ballot's cookie is no staff login
    web_sessions.revoke(session_factory, session_id)
    assert restore(session_factory, cookie, kind="owner") is None
    with session_factory() as s:
        assert s.scalar(select(WebSession.draft)) == ""  # the answers go with the session


def test_prune_drops_only_sessions_ended_or_idle_for_a_day(session_factory, staff):
    old = utcnow() - dt.timedelta(days=2)
    stale = signed_in(session_factory, staff[1].id, now=old)
    live = signed_in(session_factory, staff[1].id)
    assert web_sessions.prune(session_factory) == 1
    assert restore(session_factory, live) is not None
    assert restore(session_factory, stale) is None


def test_start_without_a_browser_cookie_keeps_nothing(session_factory, staff):
    assert web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest="",
                              user_id=staff[1].id) is None
    with pytest.raises(ValueError):
        web_sessions.start(session_factory, secret_key=KEY, kind="staff", browser_digest=BROWSER, owner_id=1)
