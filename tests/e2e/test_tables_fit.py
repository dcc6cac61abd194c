"""The activity, results and registry tables fit a 1440 px window with the sidebar open (issue 16, item 7):
no horizontal scroll, «Статус» in view, and no header cut short — in Chromium, on the demonstration meeting.

The grid (Glide) draws on a canvas: its scroller's scrollWidth against clientWidth says whether it
scrolls; its accessible table lists the columns it drew; a header is cut when its text, measured in
the grid's header font, is wider than its column, found from where the grid offers to resize it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browserkit import log_in, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(start_app_server):
    return start_app_server(staff=True)


@pytest.fixture
def wide_page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ru-RU")
    pg = context.new_page()
    yield pg
    context.close()


def open_demo(page, server) -> None:
    log_in(page, server)
    wait_idle(page)
    create = page.get_by_role("button", name="Создать демонстрационное собрание")
    if create.count():
        create.click()
        wait_idle(page)
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()


def go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    wait_idle(page)


def column_edges(page, grid) -> list[float]:
    """The x of each column's right edge: where the header row offers to resize (the cursor turns col-resize)."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    canvas = grid.locator("canvas").first
    y = box["y"] + 18  # the header row
    edges: list[float] = []
    x = box["x"] + 2
    while x < box["x"] + box["width"] - 1:
        page.mouse.move(x, y)
        if canvas.evaluate("c => getComputedStyle(c).cursor") == "col-resize":
            if not edges or x - edges[-1] > 12:
                edges.append(x)
        x += 3
    page.mouse.move(box["x"] - 50, y)
    return edges


def header_widths(grid, headers: list[str]) -> list[float]:
    """Each header's text width in the grid's header font (600, 14 px, the page's font)."""
    return grid.evaluate("""(g, hs) => {
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = '600 14px ' + getComputedStyle(g).fontFamily;
        return hs.map(h => ctx.measureText(h).width);
    }""", headers)


def assert_fits(page, grid, *, shows: list[str], editable: tuple[str, ...] = ()) -> None:
    scroller = grid.locator(".dvn-scroller")
    expect(scroller).to_be_attached()
    scroll, client = scroller.evaluate("s => [s.scrollWidth, s.clientWidth]")
    assert scroll <= client, f"the table scrolls sideways: {scroll} > {client}"
    cells = grid.get_by_role("columnheader", include_hidden=True)
    expect(cells.first).to_be_attached()  # the accessible table comes a moment after the canvas
    headers = cells.all_inner_texts()
    assert headers == shows  # every column drawn, none left off-screen
    edges = column_edges(page, grid)
    assert len(edges) == len(headers), (headers, edges)
    # the first column from the grid's left side (a row marker, if any, counts in: an upper bound)
    columns = [edges[0] - grid.bounding_box()["x"]] + [b - a for a, b in zip(edges, edges[1:])]
    for header, text, column in zip(headers, header_widths(grid, headers), columns):
        # 8 px of padding on each side; an editable column draws a pencil (16 px and its gap) before its header
        needed = text + 16 + (16 if header in editable else 0)
        assert needed <= column, f"«{header}» is cut: it needs {needed:.0f} px, its column is {column:.0f} px"


def test_registry_shows_status_and_every_header_without_a_sideways_scroll(wide_page, server, screenshot_dir):
    page = wide_page
    open_demo(page, server)
    go(page, "Реестр собственников")
    grid = page.locator('[class*="st-key-registry_editor_"]').get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    shown = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника", "Статус"]
    assert_fits(page, grid, shows=shown, editable=tuple(shown[:-1]))
    page.screenshot(path=str(screenshot_dir / "fit_registry.png"), full_page=True)
    # the contacts and documents on request, in the seed service's order
    page.get_by_text("Показать контакты и документы о праве собственности").click()
    wait_idle(page)
    expect(page.get_by_text("таблица прокручивается вправо")).to_be_visible()


@pytest.mark.parametrize("title", ["Активность", "Итоги и протокол"])
def test_the_verdict_table_fits(wide_page, server, screenshot_dir, title):
    page = wide_page
    open_demo(page, server)
    go(page, title)
    grid = page.get_by_test_id("stDataFrame").filter(has=page.get_by_role("columnheader", name="Требуется",
                                                                           include_hidden=True)).first
    expect(grid).to_be_visible()
    assert_fits(page, grid, shows=["№", "Вопрос", "Решение", "«За», % по правилу", "Требуется", "За, голосов",
                                   "Против, голосов"])
    page.screenshot(path=str(screenshot_dir / f"fit_{'activity' if title == 'Активность' else 'results'}.png"),
                    full_page=True)
