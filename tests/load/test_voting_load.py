"""§6 Scale, shown: 20 owners vote at once in 20 Chromium contexts against the real app server on
PostgreSQL, while two staff members keep «Уведомление собственников» and «Активность» open.

Every owner enters their code at /vote, answers «За» to every question, reviews and saves; then
exactly 20 decisions of 20 different owners are stored, their seals verify, and the figures are
printed: total time, median and slowest owner flow, decisions per minute. Bounded: the test gives
up after 3 minutes.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time

import pytest
from sqlalchemy import select

from browserkit import CHROMIUM, CHROMIUM_ARGS, E2E_LOGIN, E2E_PASSWORD
from services.demo import create_demo_meeting
from services.models import Decision, OwnerRecord
from services.notify import issue_codes
from services.runtime import build_runtime
from services.settings import load_settings
from services.voting import verify_decisions
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not POSTGRES_URL, reason="the load test runs the app on PostgreSQL: set "
                       "KVORUM_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"),
]

OWNERS = 20
QUESTIONS = 5  # the demo meeting's agenda
SECRET = "load-test-secret-key"
BUDGET = 180  # s for the whole run of the browsers
FLOW_TIMEOUT = 90_000  # ms Playwright waits for one element under load


async def wait_idle(page) -> None:
    await page.wait_for_timeout(300)
    await page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


async def owner_flow(browser, url: str, code: str) -> float:
    """One owner from the code to «Ваши ответы сохранены»; returns the seconds it took."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1000, "height": 900}, locale="ru-RU")
    context.set_default_timeout(FLOW_TIMEOUT)
    try:
        page = await context.new_page()
        start = time.monotonic()
        await page.goto(f"{url}/vote")
        await page.get_by_placeholder("XXXX-XXXX-XXXX").fill(code)
        await page.get_by_role("button", name="Войти").click()
        groups = page.get_by_role("radiogroup")
        await groups.nth(QUESTIONS - 1).wait_for()
        assert await groups.count() == QUESTIONS
        for i in range(QUESTIONS):
            # an owner clicks on without waiting for each rerun: every rerun request carries all the
            # widgets' values, so the last one holds every answer (checked below, on the review step)
            await groups.nth(i).get_by_text("За", exact=True).click()
            await expect(groups.nth(i).get_by_role("radio", name="За")).to_be_checked()
        await wait_idle(page)
        await page.get_by_role("button", name="Далее: проверить ответы").click()
        await page.get_by_role("heading", name="Проверьте ответы").wait_for()
        await expect(page.get_by_test_id("stMarkdownContainer").filter(has_text="→ За")).to_have_count(QUESTIONS)
        await page.get_by_role("button", name="Сохранить ответы и сформировать решение").click()
        await page.get_by_text("Ваши ответы сохранены.").wait_for()
        return time.monotonic() - start
    finally:
        await context.close()


async def staff_desk(browser, url: str, page_title: str):
    """A logged-in staff context left open on one page of the meeting; returns (context, page)."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    context.set_default_timeout(FLOW_TIMEOUT)
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_label("Имя пользователя").fill(E2E_LOGIN)
    await page.get_by_label("Пароль", exact=True).fill(E2E_PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_role("heading", name="Собрания собственников").wait_for()
    await page.get_by_role("button", name="Этапы ОСС").click()
    await wait_idle(page)
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=page_title).click()
    await page.get_by_role("heading", name=page_title).wait_for()
    return context, page


async def run_load(url: str, codes: list[str]):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        from playwright.async_api import expect

        expect.set_options(timeout=FLOW_TIMEOUT)
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            desks = await asyncio.gather(staff_desk(browser, url, "Уведомление собственников"),
                                         staff_desk(browser, url, "Активность"))
            start = time.monotonic()
            durations = await asyncio.gather(*(owner_flow(browser, url, code) for code in codes))
            total = time.monotonic() - start
            # the staff pages stayed open all along; «Активность» catches up with the 20 records by itself
            activity = desks[1][1]
            metric = activity.get_by_test_id("stMetric").filter(has_text="Заполнено онлайн, решение не сдано")
            await metric.get_by_text(f"{len(codes)} собств.").wait_for(timeout=30_000)
            notify = desks[0][1]
            assert await notify.get_by_role("heading", name="Уведомление собственников").is_visible()
            for context, _page in desks:
                await context.close()
            return total, durations
        finally:
            await browser.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def run_in_own_thread(work):
    """The async Playwright run gets a thread of its own: the e2e fixtures' sync Playwright keeps
    an event loop running in the main thread when other browser tests ran first."""
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="load-test")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_twenty_owners_vote_at_once_while_the_staff_watches(postgres_engine, start_app_server):
    """On PostgreSQL, the multi-user deployment (the fixture skips without KVORUM_TEST_POSTGRES_URL)."""
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_engine)
    db_url = postgres_engine.url.render_as_string(hide_password=False)
    server = start_app_server(env={"DATABASE_URL": db_url, "SECRET_KEY": SECRET}, staff=True)
    try:
        runtime = build_runtime(load_settings(server.env), migrate=False)
        try:
            sf = runtime.session_factory
            meeting_id = create_demo_meeting(sf, today=dt.date.today() - dt.timedelta(days=15))  # voting is open
            with sf() as s:
                owner_ids = sorted(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))
            assert len(owner_ids) >= OWNERS
            codes = issue_codes(sf, meeting_id=meeting_id, owner_ids=owner_ids[:OWNERS], secret_key=SECRET)

            total, durations = run_in_own_thread(
                lambda: asyncio.run(asyncio.wait_for(run_load(server.url, list(codes.values())), BUDGET)))

            with sf() as s:
                stored = s.execute(select(Decision.owner_id, Decision.kind).where(
                    Decision.meeting_id == meeting_id)).all()
            assert len(stored) == OWNERS
            assert {oid for oid, _kind in stored} == set(codes)
            assert {kind for _oid, kind in stored} == {"online"}
            report = verify_decisions(sf, secret_key=SECRET, meeting_id=meeting_id)
            assert report.ok and report.decisions == OWNERS, report.problems
        finally:
            runtime.engine.dispose()
    finally:
        server.stop()
    print(f"\n{OWNERS} owners at once (+2 staff pages open), PostgreSQL: total {total:.1f} s; per owner flow "
          f"median {statistics.median(durations):.1f} s, max {max(durations):.1f} s; "
          f"{OWNERS / total * 60:.1f} decisions per minute")
    assert total < BUDGET
