"""Issue 16, item 6, in Chromium: a paper ballot keyed from the keyboard alone — the owner typed
into the search, the marks typed as one line, Enter saves, the cursor is back in the owner search —
then the decision corrected with a reason; on the demo meeting."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from browserkit import log_in, wait_idle
from services.demo import create_live_demo
from services.models import Decision
from services.runtime import build_runtime
from services.settings import load_settings
from tests import hang

pytestmark = pytest.mark.e2e

FIRST_RUN_TIMEOUT = hang.UI_MS * 2
OWNER = "Собственник (начните вводить номер помещения или ФИО)"


def open_options(page, combobox) -> None:
    """Opens a select's list. The list opened while the expander above it is still unfolding closes
    again at once (the popover follows its anchor's move): a person never clicks that fast, a test
    does — so the click is repeated until the options stay."""
    combobox.scroll_into_view_if_needed()
    for _attempt in range(5):
        combobox.click()
        try:
            expect(page.get_by_role("option").first).to_be_visible(timeout=1000)
            page.wait_for_timeout(200)
            if page.get_by_role("option").count():
                return
        except AssertionError:
            pass
        page.keyboard.press("Escape")
    raise AssertionError("the select's options did not stay open")


def test_a_ballot_is_keyed_by_keyboard_and_then_corrected_with_a_reason(page, start_app_server, screenshot_dir):
    server = start_app_server(staff=True)
    rt = build_runtime(load_settings(server.env))
    sf = rt.session_factory
    try:
        demo = create_live_demo(sf, secret_key=rt.secret_key)
        page.goto(server.url)
        expect(page.get_by_text("Вход для сотрудников")).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
        log_in(page, server)
        page.get_by_role("button", name="Этапы ОСС").click()
        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Решения собственников").click()
        expect(page.get_by_role("heading", name="Решения собственников")).to_be_visible(timeout=FIRST_RUN_TIMEOUT)
        wait_idle(page)
        with sf() as s:
            before = s.scalar(select(Decision.seq).order_by(Decision.seq.desc()).limit(1))

        # the owner typed and chosen with Enter, Tab to the marks, typed, Enter saves
        owner = page.get_by_role("combobox", name=OWNER)
        owner.click()
        page.keyboard.type(demo.owner)
        page.get_by_role("option", name=f"пом. {demo.premise} — {demo.owner}").wait_for()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")  # past the search's «clear» button
        page.keyboard.press("Tab")
        marks = page.get_by_role("textbox", name="Отметки с клавиатуры").first
        expect(marks).to_be_focused()
        page.keyboard.type("12301")
        page.keyboard.press("Enter")
        saved = page.get_by_text(re.compile(r"Решение № \d+-\d+ \(пом\. .+\) сохранено: учитывается\."))
        expect(saved).to_be_visible()
        expect(saved).to_contain_text("вопрос 4: нет отметки — недействителен (ЖК РФ ст. 48 ч. 6)")
        expect(owner).to_be_focused()  # ready for the next ballot
        expect(owner).to_have_value("")
        page.screenshot(path=str(screenshot_dir / "paper_entry_saved.png"))
        with sf() as s:
            [d] = s.scalars(select(Decision).where(Decision.seq > before)).all()
        assert (d.kind, d.status) == ("paper", "counted")
        number = re.search(r"№ (\d+-\d+)", saved.inner_text()).group(1)

        # the same decision corrected: picked by its number, a new line of marks, a reason
        page.get_by_text("Исправить или аннулировать решение").click()
        pick = page.get_by_role("combobox", name="Решение (начните вводить номер, помещение или ФИО)")
        open_options(page, pick)
        page.keyboard.type(number)
        page.get_by_role("option", name=re.compile(re.escape(f"№ {number}"))).wait_for()
        page.keyboard.press("Enter")
        wait_idle(page)
        form = page.get_by_test_id("stForm").filter(has=page.get_by_text("Причина исправления или аннулирования"))
        form.get_by_role("textbox", name="Отметки с клавиатуры").fill("22222")
        form.get_by_role("textbox", name="Причина исправления или аннулирования").fill("в бланке везде «против»")
        form.get_by_role("button", name="Сохранить исправление").click()
        expect(page.get_by_text(f"Решение № {number} исправлено", exact=False)).to_be_visible()
        wait_idle(page)
        page.screenshot(path=str(screenshot_dir / "paper_entry_corrected.png"))
        with sf() as s:
            old = s.get(Decision, d.id)
            new = s.get(Decision, old.superseded_by_id)
            assert (old.status, new.status, new.change_reason) == ("corrected", "counted", "в бланке везде «против»")
            assert {a.answer for a in new.answers} == {"against"}
    finally:
        rt.engine.dispose()
