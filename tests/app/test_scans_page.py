"""«Сканы решений» (issue 17): blank sheets to print, a stack of signed sheets read from its scan,
the pages the reader is not sure of checked by the analyst, and the batch registered.

The building: flats 1, 2 and 3, one owner each, 40 m²; two questions. The scans are Kvorum's own
sheets marked and signed as owners do (tests/scangen.py) and written as a scanner's PDF."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import select

from pagekit import assert_ran_cleanly, button, meeting_data, texts
from services import owner_fields as f
from services.auth import create_user
from services.ballot_sheet import ballots_pdf, sheet_pages
from services.meetings import QuestionData, create_meeting
from services.models import Decision, OwnerRecord, Premise, ScanPage
from services.scan_batches import batches
from services.scan_jobs import wait
from tests import hang
from tests.scangen import mark_page, render_pdf_pages, write_pdf
from ui.state import PAGE_SCANS

SECRET = "scans-page-secret"
TODAY = dt.date.today()
OWNERS = ("Андреев Андрей Андреевич", "Борисова Бэла Борисовна", "Власов Виктор Викторович")
DPI = 150


@pytest.fixture(autouse=True)
def secret_env(monkeypatch) -> str:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return SECRET


@pytest.fixture
def building(session_factory) -> dict:
    meeting = create_meeting(session_factory, data=meeting_data(
        start_date=TODAY - dt.timedelta(days=5), end_date=TODAY + dt.timedelta(days=15),
        questions=[QuestionData("Выбор совета дома"), QuestionData("Ремонт крыши", "two_thirds")]))
    with session_factory.begin() as s:
        for number, name in enumerate(OWNERS, start=1):
            premise = Premise(meeting_id=meeting, number=str(number), number_key=str(number), area=Decimal("40.0"))
            s.add(premise)
            s.flush()
            s.add(OwnerRecord(meeting_id=meeting, premise_id=premise.id, name=name, name_key=f.name_key(name),
                              share_num=1, share_den=1))
    with session_factory() as s:
        ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting)
                             .order_by(OwnerRecord.id)))
    return {"meeting": meeting, "owners": ids}


def scanned_stack(session_factory, building, tmp_path) -> bytes:
    """Андреев: «за», «против», signed (clear: accepted); Борисова: «за», «за», not signed (review);
    a page without a Kvorum code (a covering letter: manual)."""
    m, (andreev, borisova, _vlasov) = building["meeting"], building["owners"]
    pdf = ballots_pdf(session_factory, secret_key=SECRET, meeting_id=m, owner_ids=[andreev, borisova])
    with session_factory() as s:
        layouts = [sheet_pages(s, m, andreev)[0], sheet_pages(s, m, borisova)[0]]
    clean = render_pdf_pages(pdf, DPI)
    rng = np.random.default_rng(17)
    first, _ = mark_page(clean[0], layouts[0], DPI, rng, choices={1: ["for"], 2: ["against"]}, signed=True,
                         styles="cross")
    second, _ = mark_page(clean[1], layouts[1], DPI, rng, choices={1: ["for"], 2: ["for"]}, signed=False,
                          styles="cross")
    letter = np.full_like(clean[0], 255)
    return write_pdf([first, second, letter], tmp_path / "пачка.pdf", dpi=DPI).read_bytes()


def read_batch(at, data: bytes):
    [uploader] = at.file_uploader
    at = uploader.set_value([("пачка.pdf", data, "application/pdf")]).run()
    assert_ran_cleanly(at)
    at = button(at, "Распознать").click().run()
    assert_ran_cleanly(at)
    job = wait(at.session_state["scans_job"], timeout=hang.COMMAND)
    assert job.state == "done", job.error
    return at.run()


def stored(session_factory, meeting_id) -> list[Decision]:
    with session_factory() as s:
        return list(s.scalars(select(Decision).where(Decision.meeting_id == meeting_id).order_by(Decision.seq)))


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_the_page_opens_for_an_administrator_and_an_operator(app, session_factory, admin, building, role):
    user = admin if role == "admin" else create_user(session_factory, username="oleg", password="operator-1",
                                                     role="operator", actor="anna")
    app.session_state["user"] = user
    app.session_state["meeting_id"] = building["meeting"]
    at = app.run().switch_page(PAGE_SCANS).run()
    assert_ran_cleanly(at)
    assert texts(at.title) == ["Сканы решений"]
    assert [b.label for b in at.get("download_button")] == [
        "Скачать бланки решений (PDF, читаются со сканов)", "Бланки для всех собственников (PDF)"]
    assert "Сканов пока нет: загрузите их выше." in texts(at.info)
    [uploader] = at.file_uploader
    assert uploader.accept_multiple_files and set(uploader.allowed_type) == {
        ".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}
    assert button(at, "Распознать").disabled  # nothing to read yet


def test_an_observer_may_not_open_it(app_env, app, session_factory, admin, building):
    from streamlit.testing.v1 import AppTest

    from pagekit import TIMEOUT
    from tests.conftest import ROOT

    observer = create_user(session_factory, username="olga", password="observer-1", role="observer", actor="anna")
    app.session_state["user"] = observer
    app.session_state["meeting_id"] = building["meeting"]
    at = app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE_SCANS)  # not in the observer's navigation
    direct = AppTest.from_file(str(ROOT / PAGE_SCANS), default_timeout=TIMEOUT)
    direct.session_state["user"] = observer
    direct.session_state["meeting_id"] = building["meeting"]
    direct.run()
    assert any("недоступна для вашей роли" in e for e in texts(direct.error))
    assert not direct.get("download_button") and not direct.file_uploader


def test_a_read_batch_shows_its_summary_and_the_pages_to_check(open_page, session_factory, building, tmp_path):
    at = read_batch(open_page(PAGE_SCANS, building["meeting"]), scanned_stack(session_factory, building, tmp_path))
    assert texts(at.warning)[0].startswith("Прочитано страниц: 3 (1 файл, ")
    assert texts(at.warning)[0].endswith("Принято автоматически: 1, на проверку: 2.")
    [batch] = [s for s in at.selectbox if s.label == "Пакет сканов"]
    assert "3 страницы" in batch.format_func(batch.value) and "ждут проверки: 2" in batch.format_func(batch.value)
    # Борисова's sheet: her marks as read, the signature not found; the letter: only «Отложить»
    radios = {r.key: r.value for r in at.radio if r.key and r.key.startswith("scan_")}
    assert sorted(radios.values()) == ["За", "За"]
    [signed] = [c for c in at.checkbox if c.label == "Подпись есть"]
    assert signed.value is False
    assert any("Нет подписи собственника" in c for c in texts(at.caption))
    assert any("код бланка Kvorum не найден" in c for c in texts(at.caption))
    assert [b.label for b in at.button if b.label.startswith("Отложить")] == ["Отложить (внести вручную)"] * 2
    assert len([b for b in at.button if b.label == "Подтвердить"]) == 1
    [table] = at.dataframe
    assert list(table.value["Статус"]) == ["принято автоматически", "на проверке", "внести вручную"]
    assert list(table.value["Помещение"]) == ["1", "2", ""]
    assert stored(session_factory, building["meeting"]) == []  # nothing is registered before the analyst says so
    # the files went to one reading: the uploader is empty, and a rerun reads nothing again
    assert button(at.run(), "Распознать").disabled
    assert len(batches(session_factory, meeting_id=building["meeting"])) == 1


def test_confirming_and_setting_aside_empty_the_queue_and_registering_stores_the_decisions(
        open_page, session_factory, building, tmp_path):
    m = building["meeting"]
    at = read_batch(open_page(PAGE_SCANS, m), scanned_stack(session_factory, building, tmp_path))
    [signed] = [c for c in at.checkbox if c.label == "Подпись есть"]
    signed.check()  # the analyst sees the signature on the image
    [q2] = [r for r in at.radio if r.key and r.key.endswith("_q2")]
    q2.set_value("Воздержался")  # and reads the second mark otherwise
    at = button(at, "Подтвердить").click().run()
    assert_ran_cleanly(at)
    assert not at.error
    assert len([b for b in at.button if b.label == "Подтвердить"]) == 0
    at = button(at, "Отложить (внести вручную)").click().run()
    assert_ran_cleanly(at)
    assert "Все листы пакета проверены." in texts(at.success)
    with session_factory() as s:
        assert sorted(s.scalars(select(ScanPage.status).where(ScanPage.meeting_id == m))) == [
            "accepted", "confirmed", "dismissed"]

    at = button(at, "Внести решения с проверенных листов").click().run()
    assert_ran_cleanly(at)
    assert ("Внесено решений: 2 (учитываются: 2, получены после окончания приёма: 0, повторные: 0)."
            in texts(at.success))
    decisions = stored(session_factory, m)
    assert [(d.owner_id, d.status, d.received_on) for d in decisions] == [
        (building["owners"][0], "counted", TODAY), (building["owners"][1], "counted", TODAY)]
    with session_factory() as s:
        answers = {d.owner_id: sorted(a.answer for a in d.answers) for d in
                   [s.get(Decision, x.id) for x in decisions]}
    assert answers == {building["owners"][0]: ["against", "for"], building["owners"][1]: ["abstain", "for"]}
    assert "Листов принято или проверено и ещё не внесено: 0; ждут проверки: 0." in texts(at.caption)
    [table] = at.dataframe
    assert list(table.value["Статус"]) == ["внесено", "внесено", "отложено"]
    # a second click on the same button registers nothing twice
    at = at.run()
    assert button(at, "Внести решения с проверенных листов").disabled
    assert len(stored(session_factory, m)) == 2


def test_a_doubtful_question_starts_unchosen_and_cannot_be_confirmed_so(open_page, session_factory, building, tmp_path):
    """The reader's guess on a doubtful box is never preselected: the analyst looks and chooses."""
    import json

    from sqlalchemy import update

    from services.scan_batches import read_scans

    m = building["meeting"]
    path = tmp_path / "пачка.pdf"
    path.write_bytes(scanned_stack(session_factory, building, tmp_path))
    read_scans(session_factory, secret_key=SECRET, meeting_id=m, files=[(str(path), path.name)], user="anna",
               workers=0)
    with session_factory.begin() as s:  # the reader was unsure of question 2 on the page waiting for review
        s.execute(update(ScanPage).where(ScanPage.meeting_id == m, ScanPage.status == "review")
                  .values(doubtful=json.dumps([[2, "for"]])))
    at = open_page(PAGE_SCANS, m)
    radios = {r.key[-3:]: r for r in at.radio if r.key and r.key.startswith("scan_")}
    assert radios["_q1"].value == "За" and radios["_q2"].value is None
    assert any("— проверьте отметку" in r.label for r in at.radio if r.key and r.key.endswith("_q2"))
    [signed] = [c for c in at.checkbox if c.label == "Подпись есть"]
    signed.check()
    at = button(at, "Подтвердить").click().run()
    assert any("Не выбрана отметка по вопросам: 2" in e for e in texts(at.error))
    with session_factory() as s:
        assert "confirmed" not in set(s.scalars(select(ScanPage.status).where(ScanPage.meeting_id == m)))
