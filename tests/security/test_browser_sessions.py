"""A signed-in session belongs to its browser, and so do its downloads (issue 14, items 7, 8 and 15).

- A staff session's id presented by another websocket (the id Streamlit used to log at WARNING on
  every reconnect) no longer hands the session over: the intruder gets the login, and the id
  is not in the log.
- A download with personal data is generated on the click, and its /media/ address answers only to
  the browser that is signed in — not to a request without the session, and not after the logout.
- A disabled account's open «Активность» tab stops refreshing live figures: its next refresh signs
  it out.
"""
from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from browserkit import E2E_PASSWORD, log_in, wait_idle
from services.auth import create_user, update_user
from services.runtime import build_runtime
from services.settings import load_settings
from tests import hang
from tests.integration.test_tally import EXAMPLE, build

pytestmark = pytest.mark.e2e

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _watch_session_id(page) -> list[str]:
    """The session id the server gives this page (ForwardMsg new_session), as the page's socket sees it."""
    found: list[str] = []

    def on_frame(payload) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            try:
                msg.ParseFromString(payload)
            except Exception:
                return
            if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
                found.append(msg.new_session.initialize.session_id)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return found


def _run_as(url: str, session_id: str) -> bytes:
    """Connect a second websocket presenting `session_id`, run the app once, return what it was sent."""
    received = b""
    with connect(url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit", "x", session_id],
                 max_size=None, open_timeout=60) as ws:
        ws.send(BackMsg(rerun_script=ClientState(page_name="", query_string="")).SerializeToString())
        deadline = time.monotonic() + hang.PAGE_RUN
        while time.monotonic() < deadline:
            raw = ws.recv(timeout=hang.PAGE_RUN)
            received += raw
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            # a run stopped for a rerun (the page's own st.rerun) is not the end: the next run is
            if msg.WhichOneof("type") == "script_finished" and \
                    msg.script_finished != ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN:
                return received
    raise AssertionError(hang.message("the second websocket's run", hang.PAGE_RUN))


def test_a_staff_session_id_presented_by_another_websocket_is_not_handed_over(page, start_app_server, screenshot_dir):
    server = start_app_server(staff=True)
    ids = _watch_session_id(page)
    log_in(page, server)
    expect(page.get_by_text("Вы вошли как")).to_be_visible()
    assert ids, "the page's websocket carried no session id"

    stolen = _run_as(server.url, ids[-1])
    assert "Вы вошли как".encode() not in stolen
    assert "Собрания собственников".encode() not in stolen
    assert "Вход для сотрудников".encode() in stolen
    assert ids[-1] not in server.log()  # Streamlit's reconnect warning no longer prints the id
    assert not [m for m in UUID.findall(server.log()) if m in ids]


def test_a_download_is_served_only_to_the_signed_in_browser(page, start_app_server, tmp_path, screenshot_dir):
    server = start_app_server(staff=True)
    log_in(page, server)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Журнал действий").click()
    expect(page.get_by_role("heading", name="Журнал действий")).to_be_visible()
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Экспорт журнала (.xlsx)").click()
    url = download.value.url
    assert "/media/" in url, url
    download.value.save_as(tmp_path / "journal.xlsx")
    assert (tmp_path / "journal.xlsx").read_bytes()[:2] == b"PK"

    # the same address from this browser (its cookies): served
    assert page.request.get(url).status == 200
    # without the browser's session (a copied link, a proxy's log): not found
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=30)
    assert refused.value.code == 404
    # and not to the same browser after it signed out
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_text("Вход для сотрудников")).to_be_visible()
    assert page.request.get(url).status == 404


def test_a_disabled_accounts_open_activity_tab_stops_refreshing(page, start_app_server, screenshot_dir):
    server = start_app_server(staff=True)
    rt = build_runtime(load_settings(server.env))
    try:
        build(rt.session_factory, EXAMPLE)  # voting open today: «Активность» refreshes itself
        create_user(rt.session_factory, username="operator1", password=E2E_PASSWORD, role="operator",
                    full_name="Оператор Один")
        log_in(page, server, username="operator1", password=E2E_PASSWORD)
        page.get_by_role("button", name="Этапы ОСС").click()
        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Активность").click()
        expect(page.get_by_text("Обновляется автоматически каждые 10 с, пока идёт голосование.")).to_be_visible()

        from services.auth import get_user, list_users

        admin = get_user(rt.session_factory, next(u.id for u in list_users(rt.session_factory) if u.role == "admin"))
        operator = next(u for u in list_users(rt.session_factory) if u.username == "operator1")
        update_user(rt.session_factory, admin=admin, user_id=operator.id, role="operator", is_active=False)

        # no click: the tab's own refresh (every 10 s) finds the account switched off
        expect(page.get_by_text("Вход для сотрудников")).to_be_visible(timeout=hang.UI_MS)
        expect(page.get_by_text("Обновляется автоматически")).to_have_count(0)
        page.screenshot(path=str(screenshot_dir / "disabled_account_activity.png"))
    finally:
        rt.engine.dispose()
