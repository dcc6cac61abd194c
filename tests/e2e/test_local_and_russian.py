"""No request leaves the machine, and Streamlit's own English reads Russian (issue 16, item 10) —
in Chromium, against the app as `make run` starts it, on the demonstration meeting.

Streamlit has no setting for the uploader's «Upload» and «20MB per file», the date field's
«dd.mm.yyyy» or a chart's toolbar: ui/state.russian_widgets replaces them by CSS keyed on the
frontend's data-testid. These tests read what the browser draws, so a Streamlit upgrade that
renames a testid fails here instead of bringing the English back unseen."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from browserkit import log_in, wait_idle
from ui.state import GRID_MENU_WORDS

pytestmark = pytest.mark.e2e

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def server(start_app_server):
    return start_app_server(staff=True)


def watch_requests(page, server) -> list[str]:
    """Every request the page makes to a host other than the app server's (fonts, icons, a CDN)."""
    own = urlsplit(server.url).netloc
    away: list[str] = []

    def seen(request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own:
            away.append(request.url)

    page.on("request", seen)
    return away


def open_demo(page, server) -> str | None:
    """Log in, create the demonstration meeting (the module's server has one after the first test),
    open its stages; returns the demo owner's code when it was created here."""
    log_in(page, server)
    wait_idle(page)
    code = None
    create = page.get_by_role("button", name="Создать демонстрационное собрание")
    if create.count():
        create.click()
        wait_idle(page)
        flash = page.get_by_text("Создано демонстрационное собрание")
        expect(flash).to_be_visible()
        code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", flash.inner_text()).group(0)
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    return code


def go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    wait_idle(page)


def after(locator) -> str:
    """The text CSS puts after an element (::after), as the browser computed it."""
    return locator.evaluate("e => getComputedStyle(e, '::after').content").strip('"')


def drawn_size(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).fontSize")


def test_no_request_leaves_the_machine_on_the_login_meetings_and_vote_pages(page, server, screenshot_dir):
    away = watch_requests(page, server)
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Вход для сотрудников")).to_be_visible()
    page.wait_for_timeout(1500)  # the favicon and the fonts are requested after the first paint
    # the tab's icon is this server's own file: a material icon or an emoji is fetched from Google or jsDelivr
    icon = page.locator('link[rel~="icon"]').first.get_attribute("href")
    assert urlsplit(page.url).netloc == urlsplit(server.url).netloc
    assert not urlsplit(icon).netloc or urlsplit(icon).netloc == urlsplit(server.url).netloc, icon
    code = open_demo(page, server)  # the meetings page, then the stages
    go(page, "Активность")  # Vega's charts and their fonts
    page.goto(f"{server.url}/vote")
    expect(page.get_by_role("heading", name="Голосование собственников")).to_be_visible()
    page.get_by_label("Персональный код").fill(code)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text("Голосование проходит с")).to_be_visible()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "local_vote_page.png"), full_page=True)
    assert away == []


def test_the_uploader_says_its_real_limit_in_russian(page, server, screenshot_dir):
    open_demo(page, server)
    go(page, "Реестр собственников")
    page.get_by_text("Загрузить реестр из файла").click()
    uploader = page.get_by_test_id("stFileUploader")
    expect(uploader).to_be_visible()
    button_text = uploader.get_by_role("button").get_by_test_id("stMarkdownContainer").locator("p")
    limit = uploader.get_by_test_id("stFileUploaderDropzoneInstructions").locator("span")
    # Streamlit's English is still in the page, drawn at no size; the Russian is drawn in its place
    assert (button_text.inner_text(), drawn_size(button_text), after(button_text)) == ("Upload", "0px", "Выбрать файл")
    assert "per file" in limit.inner_text() and drawn_size(limit) == "0px"
    assert after(limit) == f"Файл до 20{NBSP}МБ"  # services/spreadsheet.MAX_FILE_BYTES, not the server's 60
    uploader.screenshot(path=str(screenshot_dir / "local_uploader.png"))


def test_an_empty_date_field_shows_dd_mm_yyyy_in_russian(page, server, screenshot_dir):
    open_demo(page, server)
    go(page, "Решения собственников")
    page.get_by_text("Подписал представитель (ЖК РФ ст. 48 ч. 2)").click()
    field = page.get_by_test_id("stDateInput").filter(has=page.get_by_text("от", exact=True)) \
        .get_by_test_id("stDateInputField")
    expect(field).to_be_visible()
    segments = field.locator('[role="spinbutton"]')
    assert segments.all_inner_texts() == ["dd", "mm", "yyyy"]  # Streamlit's, drawn at no size
    assert [drawn_size(s) for s in segments.all()] == ["0px"] * 3
    assert [after(s) for s in segments.all()] == ["ДД", "ММ", "ГГГГ"]
    field.screenshot(path=str(screenshot_dir / "local_date_placeholder.png"))


def test_charts_write_numbers_the_russian_way_and_have_no_english_toolbar(page, server, screenshot_dir):
    open_demo(page, server)
    go(page, "Активность")
    chart = page.get_by_test_id("stVegaLiteChart").nth(1)  # «По голосам (м²)»: 2 236,50 votes
    expect(chart.locator("svg")).to_be_visible()
    labels = [t.strip() for t in chart.locator("svg text").all_text_contents()]
    assert f"2{NBSP}000" in labels, labels  # Vega's own «2,000» before the ru-RU locale
    assert not [t for t in labels if re.search(r"\d,\d{3}", t)], labels
    chart.hover()  # a toolbar shows on hover
    page.wait_for_timeout(500)
    charts = page.get_by_test_id("stFullScreenFrame").filter(has=page.get_by_test_id("stVegaLiteChart"))
    expect(charts).to_have_count(4)
    for english in ("Download as PNG", "Show data", "Fullscreen"):
        expect(charts.get_by_role("button", name=english)).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "local_activity_chart.png"))


TABLE_TIPS = {"Search": "Поиск по таблице", "Fullscreen": "Во весь экран",
              "Show/hide columns": "Показать или скрыть столбцы"}


def test_a_tables_toolbar_has_russian_tips_and_no_csv_download(page, server, screenshot_dir):
    open_demo(page, server)
    go(page, "Итоги и протокол")
    grid = page.get_by_test_id("stDataFrame").first
    # the grid is drawn once the page's layout settles (its canvas sized): hover it only then
    grid.scroll_into_view_if_needed()
    expect(grid.locator("canvas").first).to_be_visible()
    grid.hover()  # the toolbar shows on hover
    toolbar = page.get_by_test_id("stElementToolbar").first
    expect(toolbar.get_by_role("button", name="Search")).to_be_visible()
    # the .xlsx downloads below are the page's export: the CSV of the shown columns is not offered
    expect(page.get_by_test_id("stElementToolbarButton").filter(
        has=page.get_by_role("button", name="Download as CSV"))).to_be_hidden()
    for english, russian in TABLE_TIPS.items():
        toolbar.get_by_role("button", name=english, exact=True).hover()
        tip = page.get_by_test_id("stTooltipContent").locator("p")
        expect(tip).to_be_visible()  # Streamlit's tip opens a second after the pointer stops
        # Streamlit's English is still in the page, drawn at no size; the Russian is drawn in its place
        assert (tip.inner_text(), drawn_size(tip), after(tip)) == (english, "0px", russian)
        if english == "Search":
            page.screenshot(path=str(screenshot_dir / "local_table_tip.png"))
        page.mouse.move(0, 0)
        expect(tip).to_have_count(0)
        grid.hover()


def test_an_uploaded_files_chip_shows_no_english_size(page, server, tmp_path):
    open_demo(page, server)
    go(page, "Реестр собственников")
    page.get_by_text("Загрузить реестр из файла").click()
    path = tmp_path / "реестр.csv"
    path.write_text("Номер помещения;Общая площадь;ФИО/Наименование собственника;Доля собственника\n"
                    "1;50;Иванов Иван Иванович;1\n" * 1, encoding="utf-8")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    chip = page.get_by_test_id("stFileChip")
    expect(chip.get_by_test_id("stFileChipName")).to_have_text("реестр.csv")
    size = chip.get_by_test_id("stFileChipName").locator("xpath=following-sibling::*[1]")
    assert re.fullmatch(r"[\d.]+\s*(B|KB|MB)", size.inner_text())  # Streamlit's own «123B», in the page…
    expect(size).to_be_hidden()  # …and not shown


def test_a_tables_column_menu_reads_russian(page, server, screenshot_dir):
    from test_tables_fit import column_edges

    open_demo(page, server)
    go(page, "Итоги и протокол")
    grid = page.get_by_test_id("stDataFrame").first
    edges = column_edges(page, grid)
    assert len(edges) >= 3, edges
    y = grid.bounding_box()["y"] + 18
    page.mouse.move(edges[2] - 40, y)  # the header shows its menu button (⋮) at its right end on hover
    page.wait_for_timeout(300)
    page.mouse.click(edges[2] - 16, y)
    menu = page.get_by_test_id("stDataFrameColumnMenu")
    expect(menu).to_be_visible()
    for russian in ("По возрастанию", "По убыванию", "Закрепить столбец", "Скрыть столбец"):
        expect(menu.get_by_role("menuitem", name=russian)).to_be_visible()
    text = menu.inner_text()
    leaked = [english for english in GRID_MENU_WORDS if re.search(rf"(?m)^{re.escape(english)}$", text)]
    assert not leaked, text
    page.screenshot(path=str(screenshot_dir / "local_column_menu.png"))
