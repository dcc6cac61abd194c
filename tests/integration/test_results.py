"""The protocol and its attachments: the figures are the page's, to the hundredth; late drawing warns."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from docx import Document
from openpyxl import load_workbook

from services.errors import ValidationError
from services.figures import format_percent, format_votes
from services.results import (
    ProtocolData,
    activity_figures,
    protocol_docx,
    protocol_package_zip,
    protocol_warnings,
    save_protocol_data,
)
from services.tally import recount, votes2
from tests.integration.test_tally import EXAMPLE, build, vote


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    return "\n".join(p.text for p in doc.paragraphs) + "\n" + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells)


@pytest.fixture
def example_a(session_factory):
    m, ids, q = build(session_factory, EXAMPLE)
    vote(session_factory, m, ids["Андреев"], q, ["for", "for", "for"])
    vote(session_factory, m, ids["Борисова"], q, ["for", "abstain", "for"])
    vote(session_factory, m, ids["Власов"], q, ["against", "for", "for"])
    vote(session_factory, m, ids["Власова"], q, ["against", "invalid", "against"])
    return m


def test_the_protocol_holds_the_required_parts_and_the_pages_figures(session_factory, example_a):
    end = recount(session_factory, meeting_id=example_a)
    save_protocol_data(session_factory, meeting_id=example_a, data=ProtocolData(
        "Андреев А. А.", "Борисова Б. Б.", "Власов В. В.\nВласова В. В.", dt.date.today() + dt.timedelta(days=6),
        "г. Тверь"))
    text = docx_text(protocol_docx(session_factory, meeting_id=example_a))
    for needed in ("ПРОТОКОЛ №", "в форме заочного голосования", "Председатель общего собрания: Андреев А. А.",
                   "Секретарь общего собрания: Борисова Б. Б.", "Власов В. В., Власова В. В.", "Инициатор",
                   "Кворум имеется", "120,00", "Приложения", "Реестр собственников"):
        assert needed in text, needed
    q2 = end.questions[1]
    # the percent sign is held to its number by a no-break space
    assert f"«за» — {format_votes(q2.votes['for'])} голосов ({format_percent(q2.share_of_participants('for'))}" in text
    assert "«за» — 60,00 голосов (50,00\u00a0% от числа проголосовавших" in text
    # Q1 and Q3 adopted, Q2 not: each once in the body and once in the table, Q2 also in its «РЕШИЛИ»
    assert text.count("Решение принято") == 4 and text.count("Решение не принято") == 3
    assert "РЕШИЛИ (ПОСТАНОВИЛИ): Решение не принято: требуется «за» — более 50 % голосов" in text


def test_the_package_holds_the_protocol_and_every_attachment(session_factory, example_a):
    with zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=example_a,
                                                         public_url="http://kvorum.test"))) as zf:
        names = zf.namelist()
        participants = load_workbook(io.BytesIO(zf.read("Приложение 4. Список участников.xlsx"))).active
        assert participants.max_row == 1 + 4
        assert "Сообщение о проведении" in names[3] and any("Реестр вручения" in n for n in names)
        # only the attachments that exist, numbered in the order of the requirements: no code-signed
        # decisions, no powers of attorney, no attendance list (заочное), no invited, no materials
        assert names == ["Протокол.docx", "Итоги голосования.xlsx", "Приложение 1. Реестр собственников.xlsx",
                         "Приложение 2. Сообщение о проведении собрания.docx",
                         "Приложение 3. Реестр вручения сообщений.xlsx", "Приложение 4. Список участников.xlsx",
                         "Приложение 5. Решения собственников (перечень).xlsx"]


def test_a_protocol_drawn_up_late_warns_and_one_before_the_end_is_refused(session_factory, example_a):
    from services.meetings import get_meeting

    end = get_meeting(session_factory, example_a).end_date
    warnings = protocol_warnings(session_factory, meeting_id=example_a, today=end + dt.timedelta(days=11))
    assert any("позже 10 дней" in w for w in warnings)
    assert not any("позже 10 дней" in w for w in protocol_warnings(session_factory, meeting_id=example_a,
                                                                    today=end + dt.timedelta(days=10)))
    with pytest.raises(ValidationError, match="после окончания голосования"):
        save_protocol_data(session_factory, meeting_id=example_a, data=ProtocolData(
            "А", "Б", "", end - dt.timedelta(days=1), ""))


def test_activity_figures_count_owners_and_votes_by_status(session_factory, example_a):
    figures = {f.status: (f.owners, votes2(f.votes)) for f in activity_figures(session_factory, meeting_id=example_a)}
    assert figures["Решение учтено"] == (4, votes2(recount(session_factory, meeting_id=example_a).participants))
    assert figures["Не уведомлены"][0] == 4 and figures["Уведомлены"][0] == 0


def test_the_pages_cached_activity_figures_follow_every_change(session_factory, example_a):
    from sqlalchemy import select

    from services.models import OwnerRecord
    from services.notify import record_paper_delivery
    from services.results import live_activity_figures
    from tests.integration.test_tally import TODAY

    first = live_activity_figures(session_factory, meeting_id=example_a)
    assert first == activity_figures(session_factory, meeting_id=example_a)
    with session_factory() as s:
        owner = s.scalar(select(OwnerRecord.id).where(OwnerRecord.meeting_id == example_a))
    record_paper_delivery(session_factory, meeting_id=example_a, owner_ids=[owner], channel="hand", on_date=TODAY)
    second = live_activity_figures(session_factory, meeting_id=example_a)
    assert second != first and second == activity_figures(session_factory, meeting_id=example_a)
    assert {f.status: f.owners for f in second}["Уведомлены"] == 1
