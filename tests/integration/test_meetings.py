"""Meetings: creating, editing, validation, the stage list, meeting.json."""
from __future__ import annotations

import datetime as dt

import pytest

from services.errors import ValidationError
from services.meetings import (
    MeetingData,
    QuestionData,
    create_meeting,
    get_meeting,
    list_meetings,
    meeting_from_json,
    meeting_stages,
    update_meeting,
)


def data(**over) -> MeetingData:
    base = dict(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК»", start_date=dt.date(2026, 12, 10),
        end_date=dt.date(2026, 12, 30),
        questions=[QuestionData("Выбор совета дома"), QuestionData("Капремонт", "two_thirds")],
    )
    base.update(over)
    return MeetingData(**base)


def test_creates_a_meeting_with_numbered_questions(session_factory):
    mid = create_meeting(session_factory, data=data(decisions_place="офис УК", gis_id="abc-1"))
    m = get_meeting(session_factory, mid)
    assert [(q.number, q.text, q.majority) for q in m.questions] == [
        (1, "Выбор совета дома", "simple"), (2, "Капремонт", "two_thirds"),
    ]
    assert (m.decisions_place, m.gis_id, m.form) == ("офис УК", "abc-1", "заочное")


@pytest.mark.parametrize("over,reason", [
    ({"address": " "}, "адрес"),
    ({"initiator": ""}, "инициатор"),
    ({"end_date": dt.date(2026, 12, 1)}, "раньше даты начала"),
    ({"questions": []}, "хотя бы один вопрос"),
    ({"questions": [QuestionData("X", "most")]}, "неизвестный вид большинства"),
])
def test_rejects_an_incomplete_meeting(session_factory, over, reason):
    with pytest.raises(ValidationError) as exc:
        create_meeting(session_factory, data=data(**over))
    assert reason in " ".join([exc.value.message, *exc.value.details]).lower()
    assert list_meetings(session_factory) == []


def test_editing_keeps_remaining_questions_and_renumbers(session_factory):
    mid = create_meeting(session_factory, data=data(questions=[QuestionData("A"), QuestionData("B"), QuestionData("C")]))
    update_meeting(session_factory, meeting_id=mid, data=data(
        address="г. Тверь, ул. Ленина, д. 7", questions=[QuestionData("B2", "more_than_half"), QuestionData("D")],
    ))
    m = get_meeting(session_factory, mid)
    assert [(q.number, q.text, q.majority) for q in m.questions] == [(1, "B2", "more_than_half"), (2, "D", "simple")]
    assert m.address == "г. Тверь, ул. Ленина, д. 7"


def test_same_address_reuses_the_building(session_factory):
    a = create_meeting(session_factory, data=data())
    b = create_meeting(session_factory, data=data(address="г. Тверь,  ул. Ленина, д. 5"))
    assert get_meeting(session_factory, a).building_id == get_meeting(session_factory, b).building_id
    assert len(list_meetings(session_factory)) == 2


def test_stage_list_tells_the_notice_deadline_and_the_gis_warning(session_factory):
    mid = create_meeting(session_factory, data=data())
    stages = meeting_stages(session_factory, meeting_id=mid, today=dt.date(2026, 11, 24))
    assert [s.title for s in stages] == ["Реестр собственников", "Уведомление собственников", "Голосование", "Итоги и протокол"]
    assert stages[0].state == "Реестр не загружен"
    assert "30.11.2026" in stages[1].state
    assert any("ГИС ЖКХ" in w for w in stages[1].warnings)
    assert "начнётся 10.12.2026" in stages[2].state


def test_meeting_json_is_read_with_clear_errors(tmp_path):
    good = meeting_from_json(text='{"address": "A", "initiator": "I", "form": "заочное", "start": "2026-12-10", '
                                  '"end": "2026-12-30", "questions": [{"text": "Q", "majority": "unanimous"}]}')
    assert good.questions[0].majority == "unanimous" and good.start_date == dt.date(2026, 12, 10)
    with pytest.raises(ValidationError, match="нет полей: end"):
        meeting_from_json(text='{"address": "A", "initiator": "I", "start": "2026-12-10", "questions": []}')
    with pytest.raises(ValidationError, match="ГГГГ-ММ-ДД"):
        meeting_from_json(text='{"address": "A", "initiator": "I", "start": "10.12.2026", "end": "2026-12-30", "questions": []}')
    with pytest.raises(ValidationError, match="не найден"):
        meeting_from_json(tmp_path / "missing.json")
