"""Issue 16 trap 2: once notices went out, the terms they state change only with a reason, as the
next edition; notices sent before stay given on the old terms, those owners are to be notified
again, and the protocol attaches the notice in force."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from docx import Document
from sqlalchemy import select

from services.errors import ValidationError
from services.meetings import MeetingData, QuestionData, create_meeting, get_meeting, meeting_stages, update_meeting
from services.models import OwnerRecord
from services.notice_terms import edition_in_force, editions, notified_on_old_terms
from services.notify import record_paper_delivery
from services.registry import import_registry
from services.results import notice_docx

TODAY = dt.date.today()  # the change is recorded at the real time: the dates follow it
START, END = TODAY + dt.timedelta(days=12), TODAY + dt.timedelta(days=40)
REGISTRY = "Номер помещения;Площадь;ФИО;Доля\n1;40;Андреев А. А.;1\n2;40;Борисова Б. Б.;1\n".encode("utf-8")


def data(**over) -> MeetingData:
    base = MeetingData(address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК Тверь»", start_date=START,
                       end_date=END, decisions_place="офис УК",
                       questions=[QuestionData("Выбор совета дома", proposal="Избрать совет: Андреев А. А.")])
    return dataclasses.replace(base, **over)


@pytest.fixture
def notified(session_factory):
    mid = create_meeting(session_factory, data=data())
    import_registry(session_factory, meeting_id=mid, data=REGISTRY, filename="р.csv", replace=True)
    with session_factory() as s:
        ids = list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == mid).order_by(OwnerRecord.id)))
    record_paper_delivery(session_factory, meeting_id=mid, owner_ids=ids, channel="hand",
                          on_date=TODAY - dt.timedelta(days=1), user="t", today=TODAY)
    return mid, ids


def notice_text(session_factory, mid) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(notice_docx(session_factory, meeting_id=mid,
                                                                     public_url="https://x"))).paragraphs)


def test_before_any_notice_the_card_changes_freely(session_factory):
    mid = create_meeting(session_factory, data=data())
    assert update_meeting(session_factory, meeting_id=mid, data=data(start_date=START + dt.timedelta(days=3))) == []
    with session_factory() as s:
        assert editions(s, mid) == []


def test_after_notices_a_change_of_dates_or_agenda_needs_a_reason(session_factory, notified):
    mid, _ids = notified
    with pytest.raises(ValidationError) as err:
        update_meeting(session_factory, meeting_id=mid, data=data(start_date=START - dt.timedelta(days=5)))
    assert err.value.message.startswith("Сообщения о собрании уже направлены: изменить условия")
    assert f"начало голосования: {START:%d.%m.%Y} → {START - dt.timedelta(days=5):%d.%m.%Y}" in err.value.message
    assert get_meeting(session_factory, mid).start_date == START  # nothing saved
    with pytest.raises(ValidationError) as err:
        update_meeting(session_factory, meeting_id=mid, data=data(questions=[QuestionData("Выбор совета дома"),
                                                                              QuestionData("Ремонт крыши")]))
    assert "повестка дня" in err.value.message
    # what a notice does not say (the initiator's details, the ГИС number) changes without a reason
    assert update_meeting(session_factory, meeting_id=mid, data=data(initiator_details="ИНН 6900000000",
                                                                      gis_id="ГИС-1")) == []


def test_a_reasoned_change_makes_an_edition_and_the_earlier_notices_stay_on_old_terms(session_factory, notified):
    mid, ids = notified
    new_start = START + dt.timedelta(days=7)
    changed = update_meeting(session_factory, meeting_id=mid, user="анна",
                             data=data(start_date=new_start, change_reason="Перенос по просьбе совета дома"))
    assert changed == [f"начало голосования: {START:%d.%m.%Y} → {new_start:%d.%m.%Y}"]
    with session_factory() as s:
        first, second = editions(s, mid)
        assert (first.version, first.terms["start"], first.since) == (1, START.isoformat(), None)
        assert (second.version, second.terms["start"], second.reason, second.by) == (
            2, new_start.isoformat(), "Перенос по просьбе совета дома", "анна")
        assert notified_on_old_terms(s, mid) == ids  # to be notified again
        # the protocol's notice is the one in force: the owners were notified of the first terms only
        assert edition_in_force(s, mid).version == 1
    stage = {st.key: st for st in meeting_stages(session_factory, meeting_id=mid, today=TODAY)}["notify"]
    assert not stage.done
    assert "Условия собрания изменены после отправки сообщений: 2 собственника уведомлены только на прежних " \
           "условиях" in " ".join(stage.warnings)
    text = notice_text(session_factory, mid)
    assert f"с {START:%d.%m.%Y}" in text and f"с {new_start:%d.%m.%Y}" not in text

    # notified again on the new terms: nobody is left on the old ones, and the notice in force is edition 2
    record_paper_delivery(session_factory, meeting_id=mid, owner_ids=ids, channel="hand", on_date=TODAY,
                          user="t", today=TODAY)
    with session_factory() as s:
        assert notified_on_old_terms(s, mid) == []
        assert edition_in_force(s, mid).version == 2
    text = notice_text(session_factory, mid)
    assert f"с {new_start:%d.%m.%Y}" in text and text.startswith("Редакция 2 сообщения: условия собрания изменены "
                                                                 "(Перенос по просьбе совета дома)")
    assert {st.key: st for st in meeting_stages(session_factory, meeting_id=mid, today=TODAY)}["notify"].done


def test_a_notice_handed_before_the_change_but_recorded_after_it_carried_the_old_terms(session_factory, notified):
    mid, ids = notified
    update_meeting(session_factory, meeting_id=mid, data=data(end_date=END + dt.timedelta(days=5),
                                                              change_reason="Продление приёма решений"))
    record_paper_delivery(session_factory, meeting_id=mid, owner_ids=ids[:1], channel="hand",
                          on_date=TODAY - dt.timedelta(days=1), user="t", today=TODAY)
    with session_factory() as s:
        assert notified_on_old_terms(s, mid) == ids
