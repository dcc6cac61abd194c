"""Issue 16 item 1, in a browser: each role walks every page of its navigation on the demo meeting
(in its voting period, with notices and decisions); no page crashes or shows an English error, and
pages outside the role's navigation are not offered."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browserkit import create_staff_user, log_in, wait_idle
from tests import hang

PASSWORD = "роли-и-страницы-1"
# the sidebar links each role sees, and the heading each opens (the vote page is the owners')
EVERYONE = {"Собрания": "Собрания собственников", "Этапы ОСС": "Этапы ОСС", "Активность": "Активность",
            "Итоги и протокол": "Итоги и протокол", "Страница голосования": "Голосование собственников"}
OPERATOR = {**EVERYONE, "Реестр собственников": "Сведения о", "Уведомление собственников": "Уведомление собственников",
            "Решения собственников": "Решения собственников", "Сканы решений": "Сканы решений"}
ADMIN = {**OPERATOR, "Сотрудники": "Сотрудники", "Журнал действий": "Журнал действий"}
ROLES = {"admin": ADMIN, "operator": OPERATOR, "observer": EVERYONE}
ENGLISH = ("This app has encountered an error", "Traceback", "StreamlitAPIException", "Page not found",
           "Choose options", "No results")


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_walks_its_navigation(page, start_app_server, role, screenshot_dir):
    server = start_app_server(staff=True)  # the administrator creates the demo meeting first
    log_in(page, server)
    page.get_by_role("button", name="Создать демонстрационное собрание").click()
    expect(page.get_by_text("Создано демонстрационное собрание №")).to_be_visible()
    if role != "admin":
        from services.auth import create_user
        from services.runtime import build_runtime
        from services.settings import load_settings

        runtime = build_runtime(load_settings(server.env))
        try:
            create_user(runtime.session_factory, username=role, password=PASSWORD, role=role)
        finally:
            runtime.engine.dispose()
        page.get_by_role("button", name="Выйти").click()
        # the logout done (its server session ended) before the next login: else the cookie restores it
        expect(page.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
        log_in(page, server, username=role, password=PASSWORD)
    # the role's navigation: exactly its pages
    nav = page.get_by_test_id("stSidebarNav")
    # a link's text is its icon's ligature, then its label
    shown = {t.strip().splitlines()[-1].strip() for t in nav.get_by_role("link").all_inner_texts()}
    assert shown == set(ROLES[role]), shown
    # the meeting is chosen from the list, as a person does
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    for link, heading in ROLES[role].items():
        nav.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=hang.UI_MS)
        wait_idle(page)
        body = page.locator("body").inner_text()
        leaked = [w for w in ENGLISH if w in body]
        assert not leaked, (role, link, leaked)
        if link == "Этапы ОСС":
            page.screenshot(path=str(screenshot_dir / f"roles_{role}_stages.png"))
            # an observer's stages offer only the pages it may open
            hrefs = page.get_by_test_id("stPageLink").get_by_role("link").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))")
            if role == "observer":
                assert all(h.rstrip("/").split("/")[-1] in ("activity", "results") for h in hrefs), hrefs
    assert "Traceback" not in server.log()
