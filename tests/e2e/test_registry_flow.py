"""The first hour of a new installation, in a real browser: the first administrator, a meeting,
a registry upload, the import, and the summary line."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from playwright.sync_api import expect

from browserkit import first_run_code, wait_idle
from tests import hang

pytestmark = pytest.mark.e2e

HEADER = [
    "Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
    "Номер документа", "Дата документа", "Адрес эл. почты и номер телефона",
]
# 12 owners of 9 premises: flats 2, 5 and 7 have two owners each, flat 7 with unequal shares
ROWS = [
    ["1", 50.0, "Иванов Иван Иванович", "1", "77-77/001-77/001/2019-1", dt.date(2019, 2, 4), "ivanov@example.ru +7 911 111-11-11"],
    ["2", 45.5, "Петров Пётр Петрович", "1/2", "77-77/001-77/001/2020-2", dt.date(2020, 1, 6), "petrov@example.ru"],
    ["2", 45.5, "Петрова Анна Сергеевна", "1/2", "77-77/001-77/001/2020-3", dt.date(2020, 1, 6), "+7 922 222-22-22"],
    ["3", 64.1, "ООО «Ромашка»", "1", "77-77/001-77/001/2013-4", dt.date(2013, 4, 4), "office@romashka.example"],
    ["4", 38.2, "Сидорова Мария Николаевна", "1", "77-77/001-77/001/2018-5", dt.date(2018, 9, 12), "sidorova@example.ru"],
    ["5", 72.9, "Кузнецов Алексей Викторович", "1/2", "77-77/001-77/001/2016-6", dt.date(2016, 3, 1), "kuznetsov@example.ru"],
    ["5", 72.9, "Кузнецова Елена Павловна", "1/2", "77-77/001-77/001/2016-7", dt.date(2016, 3, 1), ""],
    ["6", 41.0, "Городской округ (муниципальная собственность)", "1", "77-77/001-77/001/2010-8", dt.date(2010, 7, 15), ""],
    ["7", 58.6, "Смирнов Олег Игоревич", "2/3", "77-77/001-77/001/2021-9", dt.date(2021, 11, 30), "smirnov@example.ru"],
    ["7", 58.6, "Смирнова Ольга Олеговна", "1/3", "77-77/001-77/001/2021-10", dt.date(2021, 11, 30), ""],
    ["8", 33.3, "Волков Дмитрий Сергеевич", "1", "77-77/001-77/001/2022-11", dt.date(2022, 5, 20), "volkov@example.ru"],
    ["9", 66.4, "Лебедева Татьяна Юрьевна", "1", "77-77/001-77/001/2015-12", dt.date(2015, 8, 8), "+7 933 333-33-33"],
]
OWNERS, PREMISES = len(ROWS), len({r[0] for r in ROWS})
ADDRESS = "г. Самара, ул. Молодогвардейская, д. 12"


def registry_file(path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Реестр"
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
        ws.cell(row=ws.max_row, column=4).data_type = "s"  # «1/2» stays text, as typed in Excel
        ws.cell(row=ws.max_row, column=6).number_format = "DD.MM.YYYY"
    wb.save(path)


def set_date(page, label: str, value: dt.date) -> None:
    """Type a date into st.date_input: a field of day, month and year segments (ДД.ММ.ГГГГ)."""
    page.get_by_role("spinbutton", name=f"day, {label}").click()
    page.keyboard.type(value.strftime("%d%m%Y"))  # each segment moves on to the next when full
    page.keyboard.press("Tab")
    wait_idle(page)
    expect(page.get_by_role("spinbutton", name=f"day, {label}")).to_have_text(f"{value:%d}")
    expect(page.get_by_role("spinbutton", name=f"month, {label}")).to_have_text(f"{value:%m}")
    expect(page.get_by_role("spinbutton", name=f"year, {label}")).to_have_text(f"{value:%Y}")


def test_first_administrator_creates_a_meeting_and_imports_the_registry(browser, page, start_app_server, tmp_path,
                                                                        screenshot_dir):
    server = start_app_server()
    shots = screenshot_dir

    # The very first request of the fresh server asks a staff URL: the login gate holds.
    page.goto(f"{server.url}/meetings")
    expect(page.get_by_role("heading", name="Первый запуск: создайте администратора")).to_be_visible()
    expect(page.get_by_role("heading", name="Собрания собственников")).to_have_count(0)
    # the staff address itself shows the login, with no «Page not found» over it
    page.screenshot(path=str(shots / "first_visit_to_meetings.png"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.url.endswith("/meetings")

    code = first_run_code(server)
    page.get_by_label("Код первого запуска").fill(code)
    page.get_by_label("Имя пользователя (логин)").fill("chair")
    page.get_by_label("ФИО сотрудника").fill("Ирина Андреевна Соколова")
    page.get_by_label("Пароль (не короче 8 символов)").fill("samara-dom-12")
    page.get_by_label("Пароль ещё раз").fill("samara-dom-12")
    page.get_by_role("button", name="Создать администратора").click()
    expect(page.get_by_role("heading", name="Собрания собственников")).to_be_visible()
    expect(page.get_by_text("Вы вошли как")).to_contain_text("Ирина Андреевна Соколова")

    # a new meeting: address, initiator, dates, one question
    page.get_by_role("button", name="Создать собрание").click()
    expect(page.get_by_role("heading", name="Новое собрание")).to_be_visible()
    page.get_by_label("Адрес дома").fill(ADDRESS)
    page.get_by_label("Инициатор собрания").fill("ООО «УК Молодогвардейская»")
    start, end = dt.date.today() + dt.timedelta(days=14), dt.date.today() + dt.timedelta(days=44)
    set_date(page, "Начало голосования", start)
    set_date(page, "Окончание приёма решений (последний день)", end)
    # a new meeting is очно-заочное, the form most meetings use: the discussion follows the start date
    page.get_by_label("Место очного обсуждения").fill("двор дома, у подъезда 1")
    page.get_by_label("Вопрос 1").fill("Избрание совета многоквартирного дома")
    page.get_by_label("Вопрос 1").blur()
    wait_idle(page)
    page.screenshot(path=str(shots / "meeting_form.png"))
    page.get_by_role("button", name="Сохранить").click()

    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    expect(page.get_by_text("создано. Следующий шаг — реестр собственников.")).to_be_visible()
    expect(page.get_by_text(f"{start:%d.%m.%Y} — {end:%d.%m.%Y}")).to_be_visible()
    expect(page.get_by_text("Реестр не загружен")).to_be_visible()
    page.screenshot(path=str(shots / "stages.png"))

    # «Реестр собственников»: upload, preview, import
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Реестр собственников").click()
    expect(page.get_by_role("heading", name="Реестр собственников")).to_be_visible()
    expect(page.get_by_role("heading", name="Сведения о 0 собственниках / 0 помещениях")).to_be_visible()
    path = tmp_path / "реестр_Молодогвардейская_12.xlsx"
    registry_file(path)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text("Прочитано из «реестр_Молодогвардейская_12.xlsx»")).to_be_visible()
    expect(page.get_by_text(f"принято {OWNERS} собственников, {PREMISES} помещений")).to_be_visible()
    page.screenshot(path=str(shots / "registry_preview.png"))
    page.get_by_role("button", name="Импортировать").click()

    summary = page.get_by_role("heading", name="Сведения о")
    expect(summary).to_have_text(f"Сведения о {OWNERS} собственниках / {PREMISES} помещениях")
    expect(page.get_by_text(f"Реестр заменён: импортировано {OWNERS} собственников, {PREMISES} помещений.")).to_be_visible()
    wait_idle(page)
    grid = page.locator('[class*="st-key-registry_editor_"]').get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    # the grid draws on a canvas; its accessible table (attached, not visible) holds the same cells
    headers = grid.get_by_role("columnheader", include_hidden=True)
    expect(headers.first).to_be_attached()
    # at 1440 px the contacts and documents are shown on request, so «Статус» fits (tests/e2e/test_tables_fit.py)
    assert headers.all_inner_texts() == [*HEADER[:4], "Статус"]
    page.get_by_text("Показать контакты и документы о праве собственности").click()
    wait_idle(page)
    expect(headers.nth(4)).to_have_text(HEADER[4])
    seen = headers.all_inner_texts()
    grid.locator(".dvn-scroller").evaluate("s => s.scrollLeft = s.scrollWidth")  # the columns at the far right
    page.wait_for_timeout(300)
    seen += [h for h in headers.all_inner_texts() if h not in seen]
    assert seen == [*HEADER, "Статус"]  # the seed service's columns, in its order
    expect(grid.get_by_role("gridcell", name="Иванов Иван Иванович", exact=True, include_hidden=True)).to_be_attached()
    expect(grid.get_by_role("gridcell", name="2/3", exact=True, include_hidden=True)).to_be_attached()
    page.screenshot(path=str(shots / "registry_imported.png"))

    # the page as it is opened later (the README picture): no message, no hover toolbar, taller window
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Реестр собственников").click()
    wait_idle(page)
    expect(page.get_by_text("Реестр заменён")).to_have_count(0)
    expect(summary).to_have_text(f"Сведения о {OWNERS} собственниках / {PREMISES} помещениях")
    page.set_viewport_size({"width": 1440, "height": 1250})
    page.mouse.move(1420, 1230)  # hover nothing: no sidebar or table toolbar buttons
    wait_idle(page)
    page.screenshot(path=str(shots / "registry.png"))

    # «Удалить всех» asks first; cancelling keeps every owner
    page.get_by_role("button", name="Удалить всех").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Удалить всех собственников?")
    expect(dialog).to_contain_text(f"Из реестра будут удалены все собственники ({OWNERS}) и их помещения.")
    page.screenshot(path=str(shots / "registry_delete_all.png"))
    dialog.get_by_role("button", name="Отмена").click()
    expect(dialog).to_have_count(0)
    expect(summary).to_have_text(f"Сведения о {OWNERS} собственниках / {PREMISES} помещениях")

    # and the stage list now reports the registry
    page.get_by_role("link", name="← К списку этапов ОСС").click()
    expect(page.get_by_text(f"Сведения о {OWNERS} собственниках / {PREMISES} помещениях")).to_be_visible()
    assert "Traceback" not in server.log()


def test_after_an_import_the_next_file_shows_its_progress_and_preview(page, start_app_server, tmp_path, screenshot_dir):
    """Found in the browser: once the «Реестр заменён» message had gone, the upload box folded up
    on the next upload and hid that file's preview."""
    from browserkit import log_in, seed_demo_registry

    server = start_app_server(staff=True)
    seed_demo_registry(server)  # the demonstration registry, before any notice or decision
    log_in(page, server)
    page.get_by_role("button", name="Этапы ОСС").first.click()
    expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Реестр собственников").click()
    expect(page.get_by_role("heading", name="Сведения о 48 собственниках / 42 помещениях")).to_be_visible()
    wait_idle(page)

    first, second = tmp_path / "реестр.xlsx", tmp_path / "большой.xlsx"
    registry_file(first)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for n in range(1, 30_001):  # more rows than one chunk from the reader
        ws.append([str(n), 40.0 + n % 50, f"Собственник {n}", "1", "", None, ""])
    wb.save(second)

    page.get_by_text("Загрузить реестр из файла").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(first))
    expect(page.get_by_text(f"принято {OWNERS} собственников, {PREMISES} помещений")).to_be_visible()
    page.get_by_role("button", name="Импортировать (заменить реестр)").click()
    # the demonstration registry is there: replacing it asks first, with what goes and what comes
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Заменить реестр: сейчас 48 собственников / 42 помещения, после замены")).to_be_visible()
    dialog.get_by_role("button", name="Да, заменить реестр").click()
    expect(page.get_by_text(f"Реестр заменён: импортировано {OWNERS} собственников")).to_be_visible()
    wait_idle(page)

    page.screenshot(path=str(screenshot_dir / "registry_after_import.png"))
    # the box the user opened stays open, its uploader emptied for the next file
    expect(page.get_by_test_id("stFileUploaderDropzone")).to_be_visible()
    expect(page.get_by_text("Прочитано из")).to_have_count(0)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(second))
    # (the bar «Проверено строк: …» shows while it is checked: too briefly to catch reliably here)
    preview = page.get_by_text("Прочитано из «большой.xlsx»")
    expect(preview).to_be_visible(timeout=hang.UI_MS * 2)
    expect(page.get_by_text("принято 30\u00a0000 собственников, 30\u00a0000 помещений")).to_be_visible()
    expect(page.get_by_test_id("stProgress")).to_have_count(0)  # the bar is gone once the file is checked
    page.screenshot(path=str(screenshot_dir / "registry_second_preview.png"))
    assert "Traceback" not in server.log()
