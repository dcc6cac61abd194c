"""Issue 15 on the pages: «Закрыть подсчёт» with the list of what is missing, the lock and the
reopening with a reason; a заочное meeting without a ground asks for confirmation; «Провести
повторно»; the attendance list of an очно-заочное meeting."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from pagekit import assert_ran_cleanly, button, meeting_data, registry_xlsx, texts
from services.closing import count_state
from services.meetings import create_meeting, get_meeting, list_meetings
from services.models import AgendaQuestion, OwnerRecord
from services.registry import import_registry
from services.results import ProtocolData, save_protocol_data
from services.voting import register_paper_decision
from ui.state import PAGE_DECISIONS, PAGE_RESULTS, PAGE_STAGES

TODAY = dt.date.today()
START, END = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=2)


def past_meeting(session_factory, **over) -> int:
    data = dict(start_date=START, end_date=END, form="очно-заочное",
                in_person_at=dt.datetime.combine(START, dt.time(18, 30)), in_person_place="холл 1-го подъезда",
                initiator_ogrn="1027700000008", initiator_address="г. Тверь, ул. Ленина, д. 1",
                archive_place="офис ООО «УК Тверь»")
    data.update(over)
    mid = create_meeting(session_factory, data=meeting_data(**data))
    import_registry(session_factory, meeting_id=mid, data=registry_xlsx(), filename="реестр.xlsx", replace=True)
    return mid


def owner_ids(session_factory, mid) -> list[int]:
    with session_factory() as s:
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == mid).order_by(OwnerRecord.id)))


def vote_all(session_factory, mid, owners):
    with session_factory() as s:
        qs = list(s.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == mid)))
    for o in owners:
        register_paper_decision(session_factory, secret_key="k" * 32, meeting_id=mid, owner_id=o, received_on=END,
                                answers={q: "for" for q in qs}, user="t")


def voted_and_signed(session_factory) -> int:
    """A past очно-заочное meeting where every owner voted and the protocol's signers are entered."""
    mid = past_meeting(session_factory)
    vote_all(session_factory, mid, owner_ids(session_factory, mid))
    save_protocol_data(session_factory, meeting_id=mid, data=ProtocolData(
        "Андреев А. А.", "Борисова Б. Б.", "", END + dt.timedelta(days=1), "г. Тверь"))
    return mid


def test_the_results_page_lists_what_is_missing_and_closing_is_disabled(open_page, session_factory):
    mid = past_meeting(session_factory, archive_place="")
    at = open_page(PAGE_RESULTS, mid)
    assert_ran_cleanly(at)
    assert any(i.startswith("Протокол — ПРОЕКТ") for i in texts(at.info))
    [missing] = [w.replace("\\", "") for w in texts(at.warning) if w.startswith("Закрыть подсчёт пока нельзя")]
    assert "Место (адрес) хранения протокола и решений собственников." in missing
    assert "Председатель общего собрания." in missing
    assert button(at, "Закрыть подсчёт").disabled


def test_closing_locks_the_page_and_reopening_needs_a_reason(open_page, session_factory):
    mid = voted_and_signed(session_factory)
    at = open_page(PAGE_RESULTS, mid)
    at = button(at, "Закрыть подсчёт").click().run()
    assert_ran_cleanly(at)
    year = (END + dt.timedelta(days=1)).year
    assert texts(at.success)[0] == f"Подсчёт закрыт: протокол № 1/{year} от {END + dt.timedelta(days=1):%d.%m.%Y}."
    assert any("Решения, реестр и данные протокола заблокированы" in x for x in texts(at.success))
    assert button(at, "Сохранить данные протокола").disabled
    assert not [b for b in at.button if b.label == "Закрыть подсчёт"]
    # a reason too short is refused, and the count stays closed
    at.text_area(key="reopen_reason").input("надо")
    at = button(at, "Открыть подсчёт для изменения").click().run()
    assert "Укажите причину изменения протокола" in texts(at.error)[0]
    assert count_state(session_factory, meeting_id=mid).closed
    at.text_area(key="reopen_reason").input("Ошибка в решении кв. 3")
    at = button(at, "Открыть подсчёт для изменения").click().run()
    assert_ran_cleanly(at)
    state = count_state(session_factory, meeting_id=mid)
    assert not state.closed and state.versions[0].reason == "Ошибка в решении кв. 3"
    stages = open_page(PAGE_STAGES, mid)
    assert "Подсчёт открыт для изменения (причина: Ошибка в решении кв. 3); протокол — проект версии 2" in texts(
        stages.markdown)


def test_a_zaochnoe_meeting_without_ground_warns_and_takes_a_confirmation(open_page, session_factory):
    mid = past_meeting(session_factory, form="заочное", in_person_at=None, in_person_place="")
    at = open_page(PAGE_STAGES, mid)
    [warning] = [w for w in texts(at.warning) if "ЖК РФ ст. 47 ч. 1" in w]
    assert warning.startswith("Заочное голосование проводится, если очное собрание")
    assert button(at, "Подтвердить проведение без указания основания").disabled
    at.checkbox(key="stages_ground_ack").check().run()
    at = button(at, "Подтвердить проведение без указания основания").click().run()
    assert_ran_cleanly(at)
    assert get_meeting(session_factory, mid).no_ground_confirmed_by == "admin"
    assert any("Проведение без указания основания подтвердил(а) admin." in w for w in texts(at.warning))
    assert not [b for b in at.button if b.label == "Подтвердить проведение без указания основания"]


def test_a_meeting_without_quorum_is_repeated_from_the_stages_page(open_page, session_factory):
    mid = past_meeting(session_factory)
    vote_all(session_factory, mid, owner_ids(session_factory, mid)[:1])  # far from a quorum
    at = open_page(PAGE_STAGES, mid)
    at = button(at, "Провести повторно").click().run()
    assert_ran_cleanly(at)
    new = max(m.id for m in list_meetings(session_factory))
    assert new != mid and at.session_state["meeting_id"] == new
    repeated = get_meeting(session_factory, new)
    assert (repeated.form, repeated.ground_meeting_id) == ("заочное", mid)
    assert texts(at.success)[0].startswith(f"Создано повторное заочное собрание № {new}")
    assert len(owner_ids(session_factory, new)) == len(owner_ids(session_factory, mid))


def test_attendance_is_recorded_on_the_decisions_page(open_page, session_factory):
    mid = past_meeting(session_factory)
    owners = owner_ids(session_factory, mid)
    at = open_page(PAGE_DECISIONS, mid)
    assert_ran_cleanly(at)
    [chooser] = [m for m in at.multiselect if m.label.startswith("Присутствовали")]
    chooser.set_value(owners[:2])
    at = button(at, "Отметить присутствующих").click().run()
    assert_ran_cleanly(at)
    assert "Отмечено присутствующих: 2." in texts(at.success)
    from services.attendance import attendance

    assert {p.owner_id for p in attendance(session_factory, meeting_id=mid)} == set(owners[:2])


def test_the_results_notice_is_offered_once_the_count_is_closed_and_queued_once(open_page, session_factory):
    from services.closing import close_count
    from services.results_notice import results_notice_summary

    mid = voted_and_signed(session_factory)
    at = open_page(PAGE_RESULTS, mid)
    assert not [b for b in at.button if b.label == "Разослать сообщение об итогах по эл. почте"]  # a draft
    close_count(session_factory, meeting_id=mid, user="t")
    at = open_page(PAGE_RESULTS, mid)
    with_email = results_notice_summary(session_factory, meeting_id=mid).owners_with_email
    assert with_email > 0
    assert any(f"не позднее {END + dt.timedelta(days=11):%d.%m.%Y}" in c for c in texts(at.caption))
    at = button(at, "Разослать сообщение об итогах по эл. почте").click().run()
    assert_ran_cleanly(at)
    assert texts(at.success)[0].startswith(f"Сообщение об итогах поставлено в очередь отправки: {with_email};")
    assert results_notice_summary(session_factory, meeting_id=mid).queued == with_email
    assert button(at, "Разослать сообщение об итогах по эл. почте").disabled  # everyone is queued


def test_the_stages_page_counts_the_owners_without_snils(open_page, session_factory):
    from services.figures import count_of
    from services.registry import snils_missing

    mid = past_meeting(session_factory)
    lacking = snils_missing(session_factory, meeting_id=mid)
    with session_factory() as s:
        persons = s.scalar(select(func.count()).select_from(OwnerRecord).where(
            OwnerRecord.meeting_id == mid, OwnerRecord.is_legal_entity.is_(False)))
    assert lacking == persons > 0  # the seed registry has no СНИЛС column
    at = open_page(PAGE_STAGES, mid)
    [warning] = [w for w in texts(at.warning) if w.startswith("Нет СНИЛС")]
    assert warning.startswith(f"Нет СНИЛС или он неверен: {count_of(lacking, 'собственник', 'собственника', 'собственников')}")
