"""Issue 15 items 5, 8, 9: the demo meeting run as очно-заочное, closed with `manage.py close-count`,
written with `manage.py protocol`, converted to PDF by LibreOffice and read back — one row per
element the protocol must carry (Приказ № 266/пр; DOMAIN.md rule 13), in the required order."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from services.attendance import record_attendance
from services.db import make_engine, make_session_factory, upgrade_schema
from services.demo import create_demo_meeting
from services.models import AgendaQuestion, OwnerRecord
from services.results import ProtocolData, save_protocol_data
from services.voting import register_paper_decision

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=50) + dt.timedelta(days=12)  # the demo starts 12 days after it is made
END = START + dt.timedelta(days=30)
DRAWN = END + dt.timedelta(days=2)
CHAIR, SECRETARY, COUNTER = "Иванов Иван Иванович", "Петрова Анна Сергеевна", "Соколов Сергей Петрович"

needs_office = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                                  reason="LibreOffice and poppler-utils make and read the PDF (.ci/run installs them)")


def manage(*args: str, url: str, data_dir: Path):
    env = {**os.environ, "DATABASE_URL": url, "KVORUM_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def pdf_text(docx: Path, workdir: Path) -> str:
    out = subprocess.run(["soffice", f"-env:UserInstallation=file://{workdir / 'lo-profile'}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(workdir), str(docx)],
                         capture_output=True, text=True, timeout=240)
    pdf = docx.with_suffix(".pdf")
    assert pdf.is_file(), out.stdout + out.stderr
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    work = tmp_path_factory.mktemp("protocol_pdf")
    url = f"sqlite:///{work / 'kvorum.db'}"
    engine = make_engine(url)
    upgrade_schema(engine)
    sf = make_session_factory(engine)
    mid = create_demo_meeting(sf, today=TODAY - dt.timedelta(days=50))
    with sf() as s:
        owners = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == mid).order_by(OwnerRecord.id)))
        questions = list(s.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == mid)))
    record_attendance(sf, meeting_id=mid, owner_ids=owners[:4], user="test")
    for i, owner in enumerate(owners[:32]):
        register_paper_decision(sf, secret_key="k" * 32, meeting_id=mid, owner_id=owner, received_on=END,
                                answers={q: ("against" if i % 5 == 0 else "for") for q in questions}, user="test",
                                today=TODAY)
    save_protocol_data(sf, meeting_id=mid, data=ProtocolData(CHAIR, SECRETARY, COUNTER, DRAWN, "г. Москва"))
    engine.dispose()

    draft = manage("protocol", "--meeting", str(mid), "--out", str(work / "draft.docx"), url=url, data_dir=work)
    closed = manage("close-count", "--meeting", str(mid), url=url, data_dir=work)
    final = manage("protocol", "--meeting", str(mid), "--out", str(work / "final.docx"), url=url, data_dir=work)
    again = manage("close-count", "--meeting", "999", url=url, data_dir=work)
    return {"draft_run": draft, "close_run": closed, "final_run": final, "missing_run": again, "work": work,
            "meeting": mid}


def test_the_command_line_closes_the_count_and_writes_both_protocols(documents):
    year = DRAWN.year
    assert documents["draft_run"].returncode == 0, documents["draft_run"].stderr
    assert "Проект протокола (подсчёт не закрыт) записан в" in documents["draft_run"].stdout
    assert documents["close_run"].returncode == 0, documents["close_run"].stderr
    assert documents["close_run"].stdout.strip() == f"Подсчёт закрыт: протокол № 1/{year} от {DRAWN:%d.%m.%Y}."
    assert documents["final_run"].stdout.startswith(f"Протокол № 1/{year} записан в")
    assert documents["missing_run"].returncode == 2 and "Собрание № 999 не найдено" in documents["missing_run"].stderr


@needs_office
def test_the_draft_is_marked_and_unnumbered(documents):
    text = pdf_text(documents["work"] / "draft.docx", documents["work"])
    assert text.startswith("ПРОЕКТ Подсчёт голосов не закрыт")
    assert "ПРОТОКОЛ № ____" in text


ELEMENTS = [  # (element of the protocol, what the PDF must say), in the order of the requirements
    ("наименование, номер", "ПРОТОКОЛ № 1/{year} внеочередного общего собрания собственников помещений в "
                            "многоквартирном доме, расположенном по адресу: г. Москва, ул. Садовая, д. 10"),
    ("форма", "проведённого в форме очно-заочного голосования"),
    ("место и дата составления", "г. Москва {drawn}"),
    ("вид собрания", "Вид общего собрания: внеочередное. Форма проведения: очно-заочное голосование."),
    ("очная часть: дата, время, место", "Дата, время и место очного обсуждения вопросов повестки дня: {start} в "
                                         "19:00, двор дома, у подъезда 1"),
    ("период и окончание приёма решений", "Период голосования: с {start} по {end}. Дата окончания приёма решений "
                                          "собственников: {end}."),
    ("место приёма решений", "Место (адрес) приёма решений: г. Москва, ул. Садовая, д. 1, офис 5"),
    ("инициатор: наименование, ОГРН, адрес", "Инициатор общего собрания: ООО «УК Пример»; ОГРН 1027700000008; "
                                             "адрес: 125000, г. Москва, ул. Садовая, д. 1, офис 5"),
    ("приглашённые", "Лица, приглашённые для участия в общем собрании: — Смирнова Е. В., представитель ООО «УК "
                     "Пример», цель участия: доклад по вопросам повестки дня."),
    ("председатель", f"Председатель общего собрания: {CHAIR}."),
    ("секретарь", f"Секретарь общего собрания: {SECRETARY}."),
    ("счётная комиссия", f"Лица, проводившие подсчёт голосов: {COUNTER}."),
    ("всего голосов", "Общее количество голосов собственников помещений в многоквартирном доме: 2 236,50"),
    ("голоса участников и кворум", "Кворум имеется, общее собрание правомочно."),
    ("повестка дня", "Повестка дня: 1. Избрание председателя и секретаря общего собрания"),
    ("СЛУШАЛИ", "СЛУШАЛИ: Смирнова Е. В., представитель ООО «УК Пример»."),
    ("ПРЕДЛОЖЕНО", "ПРЕДЛОЖЕНО: Избрать председателем общего собрания"),
    ("голоса «за», «против», «воздержались»", "«воздержались» — 0,00"),
    ("РЕШИЛИ (ПОСТАНОВИЛИ)", "РЕШИЛИ (ПОСТАНОВИЛИ): Избрать председателем общего собрания"),
    ("место хранения", "Место (адрес) хранения протокола и решений собственников: ООО «УК Пример»: г. Москва, ул. "
                       "Садовая, д. 1, офис 5"),
    ("приложение: реестр", "Приложения: 1. Реестр собственников помещений в многоквартирном доме."),
    ("приложение: сообщение", "2. Сообщение о проведении общего собрания."),
    ("приложение: вручение", "3. Документы, подтверждающие направление (вручение) сообщения"),
    ("приложение: участники", "4. Список собственников, принявших участие в собрании, с их идентифицирующими данными."),
    ("приложение: присутствовавшие", "5. Список собственников, присутствовавших на очном обсуждении (лист "
                                     "регистрации с подписями)."),
    ("приложение: приглашённые", "6. Список лиц, приглашённых для участия в общем собрании."),
    ("приложение: решения", "7. Письменные решения собственников (перечень; подлинники прилагаются)."),
    ("подпись председателя с датой", f"Председатель общего собрания: ______________ / {CHAIR} / «___» ________ 20__ г."),
    ("подпись секретаря с датой", f"Секретарь общего собрания: ______________ / {SECRETARY} / «___» ________ 20__ г."),
    ("подпись счётной комиссии с датой", f"Лицо, проводившее подсчёт голосов: ______________ / {COUNTER} / «___»"),
]


@pytest.fixture(scope="module")
def final_text(documents):
    if not (shutil.which("soffice") and shutil.which("pdftotext")):
        pytest.skip("LibreOffice and poppler-utils make and read the PDF (.ci/run installs them)")
    return pdf_text(documents["work"] / "final.docx", documents["work"])


@needs_office
@pytest.mark.parametrize("element,wanted", ELEMENTS, ids=[e for e, _ in ELEMENTS])
def test_the_closed_protocol_carries(final_text, element, wanted):
    wanted = wanted.format(year=DRAWN.year, drawn=f"{DRAWN:%d.%m.%Y}", start=f"{START:%d.%m.%Y}",
                           end=f"{END:%d.%m.%Y}")
    assert wanted in final_text, f"{element}: «{wanted}» is not in the protocol"


@needs_office
def test_the_elements_come_in_the_required_order_and_nothing_is_left_unfilled(final_text):
    places = [final_text.find(w.format(year=DRAWN.year, drawn=f"{DRAWN:%d.%m.%Y}", start=f"{START:%d.%m.%Y}",
                                       end=f"{END:%d.%m.%Y}")) for _e, w in ELEMENTS]
    assert all(p >= 0 for p in places) and places == sorted(places), places
    assert "ПРОЕКТ" not in final_text and "{{" not in final_text and "{%" not in final_text
    assert not re.search(r"(?<![\d.])\d+\.\d{2}(?![\d.])", final_text), "a number in «2236.50» form, not «2 236,50»"
    # no attachment that does not exist: no powers of attorney, no code-signed decisions, no materials
    assert "Доверенности" not in final_text and "подписанные персональным кодом" not in final_text
