"""In the real app, in Chromium: staff pages need a login even as the very first request to a fresh
server process; HTML, scripts and Markdown links typed into names, addresses and questions are shown
as text on every staff page and on the owner's voting page; wrong codes typed in a row are throttled."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from browserkit import UI_TIMEOUT, log_in, wait_idle
from filemakers import make_table
from services.auth import create_user
from services.meetings import MeetingData, QuestionData, create_meeting
from services.models import OwnerRecord
from services.notify import issue_codes
from services.registry import import_registry
from services.runtime import build_runtime
from services.settings import load_settings

pytestmark = pytest.mark.e2e

LOGIN_TEXT = "Вход для сотрудников"
STAFF_PATHS = ["meetings", "stages", "registry", "notify", "decisions", "activity", "results", "users", "audit"]

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
LINK = "[ссылка](javascript:window.__xss=1)"
ALERT = '<svg onload="alert(1)"></svg><b onmouseover="alert(2)">жирный</b>'
ADDRESS = f"г. Москва {SCRIPT} {IMG} ул. Садовая"
INITIATOR = f"ООО «УК» {LINK}"
OWNER = f"Иванов {IMG} {LINK}"
QUESTIONS = [f"Вопрос {SCRIPT}", f"Вопрос {IMG}", f"Вопрос {LINK}", f"Вопрос {ALERT}"]
STAFF_NAME = f"Сотрудник {IMG}"
# what a payload would have created in the page, had it been taken as markup
INJECTED = 'img[src="x"], a[href^="javascript:"], svg[onload], [onerror], [onmouseover]'
PAGES = [("Собрания", "Собрания собственников"), ("Этапы ОСС", "Этапы ОСС"),
         ("Реестр собственников", "Реестр собственников"), ("Уведомление собственников", "Уведомление собственников"),
         ("Решения собственников", "Решения собственников"), ("Активность", "Активность"),
         ("Итоги и протокол", "Итоги и протокол"), ("Сотрудники", "Сотрудники"), ("Журнал действий", "Журнал действий")]


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_a_staff_page_by_its_url_shows_the_login_even_as_the_first_request_of_a_fresh_server(
        browser, start_app_server, path):
    server = start_app_server(staff=True)
    try:
        for attempt in ("first request of the process", "a later request"):
            context = browser.new_context(locale="ru-RU")
            context.set_default_timeout(UI_TIMEOUT)
            page = context.new_page()
            try:
                page.goto(f"{server.url}/{path}")
                expect(page.get_by_text(LOGIN_TEXT)).to_be_visible()
                wait_idle(page)
                assert page.get_by_role("button", name="Выйти").count() == 0, attempt
                assert page.get_by_test_id("stSidebarNav").count() == 0, attempt
                for _link, heading in PAGES:
                    assert page.get_by_role("heading", name=heading).count() == 0, (attempt, heading)
            finally:
                context.close()
    finally:
        server.stop()


def _no_script_ran(page, dialogs: list[str], where: str) -> None:
    assert dialogs == [], f"{where}: dialogs {dialogs}"
    assert page.evaluate("typeof window.__xss") == "undefined", where
    assert page.locator(INJECTED).count() == 0, f"{where}: payload markup in the page"


@pytest.fixture
def hostile_server(start_app_server):
    """A server whose database holds a meeting, owners and a staff member with markup everywhere."""
    server = start_app_server()
    runtime = build_runtime(load_settings(server.env))
    try:
        sf = runtime.session_factory
        create_user(sf, username="xss-admin", password="xss-password-2026", full_name=STAFF_NAME)
        today = dt.date.today()
        meeting_id = create_meeting(sf, data=MeetingData(
            address=ADDRESS, initiator=INITIATOR, start_date=today - dt.timedelta(days=1),
            end_date=today + dt.timedelta(days=20), decisions_place=f"офис {IMG}", materials_place=f"сайт {LINK}",
            questions=[QuestionData(q) for q in QUESTIONS]))
        rows = [["Номер помещения", "Общая площадь", "ФИО собственника", "E-mail"],
                ["1", 40, OWNER, "o1@example.ru"], ["2", 50, f"Петров {SCRIPT}", "o2@example.ru"]]
        import_registry(sf, meeting_id=meeting_id, data=make_table(rows, "csv"), filename="r.csv", replace=True)
        with sf() as s:
            owner_id = s.scalar(select(OwnerRecord.id).where(OwnerRecord.name == OWNER))
        code = issue_codes(sf, meeting_id=meeting_id, owner_ids=[owner_id], secret_key=runtime.secret_key)[owner_id]
    finally:
        runtime.engine.dispose()
    return server, meeting_id, code


def test_markup_in_names_addresses_and_questions_is_shown_as_text(browser, hostile_server, screenshot_dir):
    server, meeting_id, code = hostile_server
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    context.set_default_timeout(UI_TIMEOUT)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        log_in(page, server, username="xss-admin", password="xss-password-2026")
        expect(page.get_by_text(ADDRESS.replace("  ", " ")).first).to_be_visible()
        expect(page.get_by_text(STAFF_NAME, exact=False).first).to_be_visible()
        _no_script_ran(page, dialogs, "meetings")
        page.get_by_role("button", name="Этапы ОСС").first.click()
        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
        wait_idle(page)
        nav = page.get_by_test_id("stSidebarNav")
        for link, heading in PAGES:
            nav.get_by_role("link", name=link, exact=True).click()
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            wait_idle(page)
            if link not in ("Сотрудники", "Журнал действий"):
                expect(page.get_by_text(IMG, exact=False).first).to_be_visible()  # the address, as text
            page.mouse.move(700, 500)
            _no_script_ran(page, dialogs, link)
        page.screenshot(path=str(screenshot_dir / "security_markup_staff.png"), full_page=True)
    finally:
        context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    phone.set_default_timeout(UI_TIMEOUT)
    page = phone.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"{server.url}/vote")
        page.get_by_placeholder("XXXX-XXXX-XXXX").fill(code)
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_text(f"Собственник: {OWNER}")).to_be_visible()
        for q in QUESTIONS:
            expect(page.get_by_text(q, exact=False).first).to_be_visible()
        expect(page.get_by_text(INITIATOR, exact=False).first).to_be_visible()
        expect(page.get_by_text(ADDRESS, exact=False).first).to_be_visible()
        page.mouse.move(200, 400)
        _no_script_ran(page, dialogs, "vote")
        page.screenshot(path=str(screenshot_dir / "security_markup_vote.png"), full_page=True)
    finally:
        phone.close()


def test_wrong_codes_in_a_row_on_the_vote_page_are_throttled(browser, start_app_server):
    server = start_app_server()
    context = browser.new_context(locale="ru-RU")
    context.set_default_timeout(UI_TIMEOUT)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/vote")
        page.get_by_placeholder("XXXX-XXXX-XXXX").fill("ZZZZ-ZZZZ-ZZZZ")
        messages = []
        for _attempt in range(15):
            page.get_by_role("button", name="Войти").click()
            wait_idle(page)
            text = page.get_by_test_id("stAlert").all_inner_texts()
            messages.append(" ".join(text))
            if "Слишком много неверных попыток" in messages[-1]:
                break
        assert "Код не подошёл" in messages[0]
        assert "Слишком много неверных попыток" in messages[-1], messages
        expect(page.get_by_text("Слишком много неверных попыток")).to_be_visible()
    finally:
        context.close()
        server.stop()
