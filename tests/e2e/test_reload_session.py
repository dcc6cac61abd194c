"""Issue 16 item 4 in a browser: a reload (F5) or a second tab keeps the staff login and the chosen
meeting; logout ends it everywhere; a copied cookie opens nothing in another browser; an owner's
unsent answers survive a reload on the same device."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browserkit import log_in, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(start_app_server):
    """A server of its own: the demo meeting (and its one-time code) is made only on an empty list."""
    return start_app_server(staff=True)


def open_demo(page, server) -> str:
    """Logged in, the demo meeting made and chosen; returns the trial owner's code from the flash."""
    log_in(page, server)
    page.get_by_role("button", name="Создать демонстрационное собрание").click()
    flash = page.get_by_text("Создано демонстрационное собрание №")
    expect(flash).to_be_visible()
    code = re.search(r"код ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})", flash.inner_text()).group(1)
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    return code


def session_cookie(context) -> dict:
    cookies = {c["name"]: c for c in context.cookies()}
    assert "kvorum_session" in cookies, cookies.keys()
    return cookies["kvorum_session"]


def phone_context(browser):
    return browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")


def owner_ballot(context, server, code: str):
    """A new page in `context`, logged in at /vote with the owner's code, showing the questions."""
    owner = context.new_page()
    owner.goto(f"{server.url}/vote")
    owner.get_by_label("Персональный код").fill(code)
    owner.get_by_role("button", name="Войти").click()
    expect(owner.get_by_role("heading", name="Вопросы повестки дня")).to_be_visible()
    return owner


def test_a_reload_and_a_second_tab_keep_the_login_and_the_meeting(page, server, screenshot_dir):
    open_demo(page, server)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Решения собственников", exact=True).click()
    expect(page.get_by_role("heading", name="Решения собственников")).to_be_visible()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"/decisions\?meeting=\d+$"))
    cookie = session_cookie(page.context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "." in cookie["value"]  # token.signature

    page.reload()
    expect(page.get_by_role("heading", name="Решения собственников")).to_be_visible()
    expect(page.get_by_text("Вы вошли как")).to_be_visible()
    expect(page.get_by_text("Сначала выберите собрание.")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "reload_keeps_login.png"))

    second = page.context.new_page()
    second.goto(page.url.replace("/decisions", "/activity"))
    expect(second.get_by_role("heading", name="Активность")).to_be_visible()
    expect(second.get_by_text("Сначала выберите собрание.")).to_have_count(0)

    # logout in the first tab ends the session: the second tab's next click shows the login
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
    second.get_by_test_id("stSidebarNav").get_by_role("link", name="Собрания", exact=True).click()
    expect(second.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
    second.reload()
    expect(second.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()


def test_a_copied_session_cookie_opens_nothing_in_another_browser(page, browser, server):
    log_in(page, server)
    wait_idle(page)
    page.reload()
    expect(page.get_by_role("heading", name="Собрания собственников")).to_be_visible()  # the cookie works here
    stolen = session_cookie(page.context)
    other = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ru-RU")
    try:
        thief = other.new_page()
        thief.goto(server.url)  # its own browser cookie first
        other.add_cookies([{k: stolen[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
        thief.goto(f"{server.url}/registry")
        expect(thief.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
        expect(thief.get_by_text("Вы вошли как")).to_have_count(0)
    finally:
        other.close()


def test_an_owners_unsent_answers_survive_a_reload(page, browser, server, screenshot_dir):
    code = open_demo(page, server)
    phone = phone_context(browser)
    try:
        owner = owner_ballot(phone, server, code)
        groups = owner.get_by_role("radiogroup")
        groups.nth(0).get_by_text("За", exact=True).click()
        wait_idle(owner)
        groups.nth(1).get_by_text("Против", exact=True).click()
        wait_idle(owner)
        assert "kvorum_ballot" in {c["name"] for c in phone.cookies()}

        owner.reload()
        expect(owner.get_by_role("heading", name="Вопросы повестки дня")).to_be_visible()
        expect(groups.nth(0).get_by_role("radio", name="За", exact=True)).to_be_checked()
        expect(groups.nth(1).get_by_role("radio", name="Против", exact=True)).to_be_checked()
        expect(groups.nth(2).locator("input:checked")).to_have_count(0)
        owner.screenshot(path=str(screenshot_dir / "owner_reload_keeps_answers.png"), full_page=True)

        owner.get_by_role("button", name="Выйти").click()
        expect(owner.get_by_label("Персональный код")).to_be_visible()
        owner.reload()
        expect(owner.get_by_label("Персональный код")).to_be_visible()
        expect(owner.get_by_role("heading", name="Вопросы повестки дня")).to_have_count(0)
    finally:
        phone.close()


def test_where_code_signed_decisions_count_a_reload_asks_for_the_code_and_keeps_the_answers(
        page, browser, server, screenshot_dir):
    """A code-signed decision counts here: the cookie alone must not open a ballot that can be signed
    (a shared computer's next user); the answers chosen wait for the code."""
    from services.db import make_engine, make_session_factory
    from services.voting import set_electronic_decisions

    from sqlalchemy import func, select

    from services.models import Meeting

    code = open_demo(page, server)
    engine = make_engine(server.database_url)
    try:
        sf = make_session_factory(engine)
        with sf() as s:
            meeting_id = s.scalar(select(func.max(Meeting.id)))  # the demo: this server's only meeting
        set_electronic_decisions(sf, meeting_id=meeting_id, enabled=True, user="e2e")
    finally:
        engine.dispose()
    phone = phone_context(browser)
    try:
        owner = owner_ballot(phone, server, code)
        groups = owner.get_by_role("radiogroup")
        groups.nth(0).get_by_text("Против", exact=True).click()
        wait_idle(owner)

        owner.reload()
        expect(owner.get_by_text("Для подписи решения введите код ещё раз")).to_be_visible()
        expect(owner.get_by_role("heading", name="Вопросы повестки дня")).to_have_count(0)
        owner.get_by_label("Персональный код").fill(code)
        owner.get_by_role("button", name="Войти").click()
        expect(owner.get_by_role("heading", name="Вопросы повестки дня")).to_be_visible()
        expect(groups.nth(0).get_by_role("radio", name="Против", exact=True)).to_be_checked()
        owner.screenshot(path=str(screenshot_dir / "owner_reload_code_signed.png"), full_page=True)
    finally:
        phone.close()
