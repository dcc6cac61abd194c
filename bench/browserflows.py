"""Shared by bench/voting_load.py and tests/load (not a benchmark itself): owners voting in headless
Chromium (async Playwright, one browser context each) against a running app server, with staff
members keeping pages of the meeting open beside them.

The flows return how long each took; whoever calls them decides what the figures mean: the load
test asserts only outcomes (every decision stored once, sealed), the benchmark compares the
figures with a baseline of the same run.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

CHROMIUM = os.environ.get("KVORUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
QUESTIONS = 5  # the demo meeting's agenda
STAFF_PAGES = ("Уведомление собственников", "Активность")


@dataclass(frozen=True)
class LoadRun:
    total: float  # s, from the first owner's page load to the last owner's «Ваши ответы сохранены»
    flows: list[float]  # s, each owner's flow


async def _wait_idle(page) -> None:
    await page.wait_for_timeout(300)
    await page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


async def owner_flow(browser, url: str, code: str, *, timeout_ms: float) -> float:
    """One owner from the code at /vote to «Ваши ответы сохранены», «За» on every question; the
    seconds it took."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1000, "height": 900}, locale="ru-RU")
    context.set_default_timeout(timeout_ms)
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
        await _wait_idle(page)
        await page.get_by_role("button", name="Далее: проверить ответы").click()
        await page.get_by_role("heading", name="Проверьте ответы").wait_for()
        await expect(page.get_by_test_id("stMarkdownContainer").filter(has_text="→ За")).to_have_count(QUESTIONS)
        await page.get_by_role("button", name="Сохранить ответы и сформировать решение").click()
        await page.get_by_text("Ваши ответы сохранены.").wait_for()
        return time.monotonic() - start
    finally:
        await context.close()


async def staff_desk(browser, url: str, page_title: str, *, login: str, password: str, timeout_ms: float):
    """A logged-in staff context left open on one page of the meeting; returns (context, page)."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ru-RU")
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_label("Имя пользователя").fill(login)
    await page.get_by_label("Пароль", exact=True).fill(password)
    await page.get_by_role("button", name="Войти").click()
    await page.get_by_role("heading", name="Собрания собственников").wait_for()
    await page.get_by_role("button", name="Этапы ОСС").click()
    await _wait_idle(page)
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=page_title).click()
    await page.get_by_role("heading", name=page_title).wait_for()
    return context, page


async def vote(url: str, codes: list[str], *, at_once: bool, login: str, password: str,
               element_timeout_ms: float, answered_in_all: int | None = None) -> LoadRun:
    """The owners of `codes` vote, all at once (with the staff pages open) or one after another
    (nothing else open: the baseline). `element_timeout_ms` is how long Playwright waits for one
    element: a hang guard. `answered_in_all`: the owners «Активность» must then show as answered
    online (default: these owners)."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as p:
        expect.set_options(timeout=element_timeout_ms)
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            desks = []
            if at_once:
                desks = await asyncio.gather(*(staff_desk(browser, url, title, login=login, password=password,
                                                          timeout_ms=element_timeout_ms) for title in STAFF_PAGES))
            start = time.monotonic()
            if at_once:
                flows = list(await asyncio.gather(*(owner_flow(browser, url, code, timeout_ms=element_timeout_ms) for code in codes)))
            else:
                flows = [await owner_flow(browser, url, code, timeout_ms=element_timeout_ms) for code in codes]
            total = time.monotonic() - start
            if at_once:
                # the staff pages stayed open all along; «Активность» catches up with the records by itself
                activity = desks[1][1]
                metric = activity.get_by_test_id("stMetric").filter(has_text="Заполнено онлайн, решение не сдано")
                expected = answered_in_all if answered_in_all is not None else len(codes)
                from services.figures import count_of  # the page writes the count as people read it

                shown = count_of(expected, "собственник", "собственника", "собственников")
                await metric.get_by_text(shown, exact=True).wait_for(timeout=element_timeout_ms)
                notify = desks[0][1]
                assert await notify.get_by_role("heading", name=STAFF_PAGES[0]).is_visible()
                for context, _page in desks:
                    await context.close()
            return LoadRun(total, flows)
        finally:
            await browser.close()


def run_in_own_thread(work):
    """An async Playwright run gets a thread of its own: a sync Playwright (the e2e fixtures') keeps
    an event loop running in the main thread when other browser tests ran first."""
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="load-run")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
