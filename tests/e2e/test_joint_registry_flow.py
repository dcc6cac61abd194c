"""Issue 13 in a real browser: a registry as ЕГРН extracts lay it out — a flat in joint ownership as
two rows with no share under one document — and a premise whose shares exceed 1. The preview
names the refused rows and the sum, the import keeps the joint flat as one holding («совместная»),
and a passport area below the registry's premises is refused naming both figures."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from browserkit import log_in, wait_idle
from services.meetings import MeetingData, QuestionData, create_meeting
from services.runtime import build_runtime
from services.settings import load_settings
from services.tally import recount
from tests import hang
from tests.app.pagekit import registry_xlsx

pytestmark = pytest.mark.e2e

HEADER = ["Номер помещения", "Общая площадь", "ФИО/Наименование собственника", "Доля собственника",
          "Номер документа", "Дата документа"]
ROWS = [
    ["1", 40.0, "Андреев Андрей Андреевич", "1", "69:40:01-1", dt.date(2019, 2, 4)],
    ["2", 40.0, "Борисова Бэла Борисовна", "1", "69:40:01-2", dt.date(2020, 1, 6)],
    ["3", 40.0, "Власов Виктор Викторович", "", "69:40:01-3", dt.date(2012, 5, 5)],
    ["3", 40.0, "Власова Вера Викторовна", "", "69:40:01-3", dt.date(2012, 5, 5)],
    ["4", 40.0, "Григорьев Григорий Григорьевич", "1", "69:40:01-4", dt.date(2018, 9, 12)],
    ["5", 60.0, "Дмитриев Дмитрий Дмитриевич", "1/2", "69:40:01-5", dt.date(2016, 3, 1)],
    ["5", 60.0, "Дмитриева Дарья Дмитриевна", "1/2", "69:40:01-6", dt.date(2016, 3, 1)],
    ["5", 60.0, "Дмитриев Денис Дмитриевич", "1/3", "69:40:01-7", dt.date(2016, 3, 1)],
]


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=hang.UI_MS * 2)
    wait_idle(page)


def test_a_joint_flat_is_one_holding_and_shares_above_one_are_refused(page, start_app_server, tmp_path,
                                                                      screenshot_dir):
    server = start_app_server(staff=True)
    rt = build_runtime(load_settings(server.env))
    try:
        today = dt.date.today()
        meeting = create_meeting(rt.session_factory, data=MeetingData(
            address="г. Тверь, ул. Совместная, д. 3", initiator="ООО «УК Тверь»",
            start_date=today + dt.timedelta(days=12), end_date=today + dt.timedelta(days=40),
            questions=[QuestionData("Выбор совета дома")]))

        page.goto(server.url)
        expect(page.get_by_text("Вход для сотрудников")).to_be_visible(timeout=hang.UI_MS * 2)
        log_in(page, server)
        page.get_by_role("button", name="Этапы ОСС").click()
        expect(page.get_by_role("heading", name="Этапы ОСС")).to_be_visible()
        go_to(page, "Реестр собственников")

        path = tmp_path / "выписка_ЕГРН.xlsx"
        path.write_bytes(registry_xlsx(ROWS, HEADER))
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
        expect(page.get_by_text("принято 5 собственников, 4 помещения")).to_be_visible()
        expect(page.get_by_text("Отклонено строк: 3")).to_be_visible()
        wait_idle(page)
        page.screenshot(path=str(screenshot_dir / "joint_registry_preview.png"), full_page=True)
        page.get_by_role("button", name="Импортировать").click()
        expect(page.get_by_role("heading", name="Сведения о")).to_have_text("Сведения о 5 собственниках / 4 помещениях")
        wait_idle(page)
        page.screenshot(path=str(screenshot_dir / "joint_registry_imported.png"), full_page=True)

        t = recount(rt.session_factory, meeting_id=meeting)
        assert (t.all_votes, t.registry_area) == (160, 160)

        go_to(page, "Итоги и протокол")
        page.get_by_text("Общая площадь помещений по техническому паспорту").click()
        field = page.get_by_label("Площадь, м² (пусто — считать по реестру)")
        field.fill("150")
        field.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Сохранить площадь").click()
        expect(page.get_by_text("Площадь по техническому паспорту (150,00 м²) меньше суммы площадей помещений в "
                                "реестре (160,00 м²)")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "joint_passport_refused.png"), full_page=True)
        assert recount(rt.session_factory, meeting_id=meeting).passport_area is None

        field = page.get_by_label("Площадь, м² (пусто — считать по реестру)")
        field.fill("200")
        field.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Сохранить площадь").click()
        expect(page.get_by_text("приходится на помещения, собственники которых не внесены")).to_be_visible()
        assert recount(rt.session_factory, meeting_id=meeting).all_votes == 200
    finally:
        rt.engine.dispose()
