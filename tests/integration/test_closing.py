"""Issue 15 items 2–4: the meeting's details, очно-заочное with its attendance list, «Провести
повторно», and the count closed: numbered, dated, locked, versioned — on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from docx import Document
from sqlalchemy import select

from services.attendance import attendance, record_attendance, remove_attendance
from services.closing import CountClosed, close_count, closing_problems, count_state, reopen_count, \
    stored_protocol, terms
from services.errors import ValidationError
from services.meeting_details import group_share, ogrn_ok
from services.meetings import MeetingData, QuestionData, create_meeting, get_meeting, meeting_stages, \
    repeat_meeting, update_meeting
from services.models import AgendaQuestion, Meeting, OwnerRecord, Premise
from services.registry import apply_registry_changes, import_registry
from services.results import ProtocolData, protocol_docx, protocol_package_zip, save_protocol_data
from services.tally import set_passport_area
from services.voting import register_paper_decision

KEY = "k" * 32
TODAY = dt.date(2026, 12, 1)
START, END = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=2)
REGISTRY = ("Номер помещения;Площадь;ФИО;Доля\n1;40;Андреев Андрей Андреевич;1\n2;40;Борисова Бэлла Борисовна;1\n"
            "3;40;Власов Виктор Викторович;1/2\n3;40;Власова Вера Викторовна;1/2\n").encode("utf-8")
OGRN = "1027700000008"  # check digit: 102770000000 mod 11 mod 10 = 8


def details(**changes) -> MeetingData:
    data = MeetingData(
        address="г. Тверь, ул. Ленина, д. 5", initiator="ООО «УК Тверь»", start_date=START, end_date=END,
        form="очно-заочное", in_person_at=dt.datetime.combine(START, dt.time(19, 0)), in_person_place="двор дома",
        initiator_ogrn=OGRN, initiator_address="г. Тверь, ул. Ленина, д. 1", archive_place="офис ООО «УК Тверь»",
        questions=[QuestionData("Выбор совета дома", "simple", proposal="Избрать совет дома: Андреев А. А."),
                   QuestionData("Капитальный ремонт", "two_thirds", proposal="Провести ремонт крыши в 2027 году.")],
    )
    return dataclasses.replace(data, **changes)


def meeting_with_registry(session_factory, **changes) -> int:
    mid = create_meeting(session_factory, data=details(**changes))
    import_registry(session_factory, meeting_id=mid, data=REGISTRY, filename="реестр.csv", replace=True)
    return mid


def owners(session_factory, mid) -> dict[str, int]:
    with session_factory() as s:
        return {n.split()[0]: i for i, n in s.execute(
            select(OwnerRecord.id, OwnerRecord.name).where(OwnerRecord.meeting_id == mid))}


def vote(session_factory, mid, owner_id, answer="for"):
    with session_factory() as s:
        qs = list(s.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == mid)))
    return register_paper_decision(session_factory, secret_key=KEY, meeting_id=mid, owner_id=owner_id,
                                   received_on=END, answers={q: answer for q in qs}, user="t", today=TODAY)


def sign(session_factory, mid, counters=""):
    save_protocol_data(session_factory, meeting_id=mid, data=ProtocolData(
        "Андреев А. А.", "Борисова Б. Б.", counters, END + dt.timedelta(days=3), "г. Тверь"))


def text_of(docx: bytes) -> str:
    doc = Document(io.BytesIO(docx))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_ogrn_check_digit():
    assert ogrn_ok(OGRN) and ogrn_ok("1 027 700 000 008")
    assert not ogrn_ok("1027700000000") and not ogrn_ok("102770000000") and not ogrn_ok("")
    # ОГРНИП: 15 digits, the first 14 mod 13 mod 10
    base = "30450011600015"
    assert ogrn_ok(base + str(int(base) % 13 % 10)) and not ogrn_ok(base + str((int(base) % 13 % 10 + 1) % 10))


def test_a_wrong_ogrn_or_an_incomplete_in_person_part_is_not_saved(session_factory):
    with pytest.raises(ValidationError) as err:
        create_meeting(session_factory, data=details(initiator_ogrn="1027700000000"))
    assert "ОГРН инициатора «1027700000000» неверен" in err.value.message
    with pytest.raises(ValidationError) as err:
        create_meeting(session_factory, data=details(in_person_at=None, in_person_place=""))
    assert any("дату и время очного обсуждения" in d for d in err.value.details)
    assert any("место очного обсуждения" in d for d in err.value.details)
    with pytest.raises(ValidationError) as err:
        create_meeting(session_factory, data=details(in_person_at=dt.datetime.combine(END + dt.timedelta(days=1),
                                                                                      dt.time(19)),))
    assert "должно пройти в период собрания" in err.value.message


def test_the_count_cannot_close_before_the_end_or_without_the_protocols_details(session_factory):
    mid = meeting_with_registry(session_factory, archive_place="", initiator_ogrn="", initiator_address="")
    problems = closing_problems(session_factory, meeting_id=mid, today=END)
    assert problems[0] == f"Приём решений продолжается до {END:%d.%m.%Y} включительно: подсчёт закрывается после этой даты."
    for wanted in ("ОГРН инициатора-организации.", "Адрес инициатора-организации.",
                   "Место (адрес) хранения протокола и решений собственников.", "Председатель общего собрания.",
                   "Секретарь общего собрания.", "Место составления протокола."):
        assert wanted in problems
    with pytest.raises(ValidationError) as err:
        close_count(session_factory, meeting_id=mid, user="t", today=TODAY)
    assert err.value.message.startswith("Подсчёт не закрыт") and "Председатель общего собрания." in err.value.details
    assert not count_state(session_factory, meeting_id=mid).closed


def test_closing_numbers_dates_locks_and_a_double_click_does_nothing(session_factory):
    first = meeting_with_registry(session_factory)
    second = meeting_with_registry(session_factory, gis_id="ГИС-77-0001")
    third = meeting_with_registry(session_factory)
    ids = owners(session_factory, first)
    vote(session_factory, first, ids["Андреев"])
    vote(session_factory, first, ids["Борисова"])
    draft = text_of(protocol_docx(session_factory, meeting_id=first))
    assert "ПРОЕКТ" in draft and "ПРОТОКОЛ № ____" in draft
    for mid in (first, second, third):
        sign(session_factory, mid)
    state = close_count(session_factory, meeting_id=first, user="analyst", today=TODAY)
    assert (state.closed, state.number, state.drawn_up_on, state.version) == (True, "1/2026", END + dt.timedelta(days=3), 1)
    assert close_count(session_factory, meeting_id=first, user="analyst", today=TODAY).version == 1  # no second version
    assert close_count(session_factory, meeting_id=second, user="analyst", today=TODAY).number == "ГИС-77-0001"
    assert close_count(session_factory, meeting_id=third, user="analyst", today=TODAY).number == "2/2026"
    final = text_of(protocol_docx(session_factory, meeting_id=first))
    assert "ПРОЕКТ" not in final and "ПРОТОКОЛ № 1/2026" in final
    assert f"{END + dt.timedelta(days=3):%d.%m.%Y}" in final
    # the stage is ticked only now
    results_stage = meeting_stages(session_factory, meeting_id=first, today=TODAY)[-1]
    assert results_stage.done and "Подсчёт закрыт" in results_stage.state and "№ 1/2026" in results_stage.state

    # locked: decisions, registry, area, protocol details, the meeting's card
    with pytest.raises(CountClosed):
        vote(session_factory, first, ids["Власов"])
    with pytest.raises(CountClosed):
        set_passport_area(session_factory, meeting_id=first, area=Decimal("200"))
    with pytest.raises(CountClosed):
        apply_registry_changes(session_factory, meeting_id=first, deleted=[ids["Власова"]])
    with pytest.raises(CountClosed):
        sign(session_factory, first, counters="Власов В. В.")
    with pytest.raises(CountClosed):
        update_meeting(session_factory, meeting_id=first, data=details(initiator="Другой"))
    with session_factory() as s:
        assert s.get(Meeting, first).seal_count == 2  # the refused decision left nothing behind


def test_a_reopened_count_closes_into_a_new_version_and_keeps_the_first(session_factory):
    mid = meeting_with_registry(session_factory)
    ids = owners(session_factory, mid)
    vote(session_factory, mid, ids["Андреев"])
    sign(session_factory, mid)
    close_count(session_factory, meeting_id=mid, user="analyst", today=TODAY)
    first = stored_protocol(session_factory, meeting_id=mid)
    with pytest.raises(ValidationError):
        reopen_count(session_factory, meeting_id=mid, user="analyst", reason="надо")
    assert count_state(session_factory, meeting_id=mid).closed
    reopened = reopen_count(session_factory, meeting_id=mid, user="analyst",
                            reason="Не внесено решение кв. 2, поступившее в срок")
    assert not reopened.closed and reopened.versions[0].reason == "Не внесено решение кв. 2, поступившее в срок"
    assert "ПРОЕКТ" in text_of(protocol_docx(session_factory, meeting_id=mid))
    vote(session_factory, mid, ids["Борисова"])  # open again: decisions are taken
    state = close_count(session_factory, meeting_id=mid, user="analyst", today=TODAY)
    assert [v.version for v in state.versions] == [1, 2] and state.number == "1/2026"
    assert stored_protocol(session_factory, meeting_id=mid, version=1) == first
    v1, v2 = text_of(first), text_of(stored_protocol(session_factory, meeting_id=mid))
    assert "принявших участие в голосовании: 40,00" in v1 and "принявших участие в голосовании: 80,00" in v2
    assert "Редакция 2 протокола" in v2 and "Не внесено решение кв. 2" in v2 and "Редакция" not in v1


def test_a_group_of_owners_must_hold_ten_percent_and_be_in_the_registry(session_factory):
    mid = meeting_with_registry(session_factory, initiator_kind="group", initiator="Инициативная группа",
                                initiator_ogrn="", initiator_group="Власова Вера Викторовна")
    with session_factory() as s:
        g = group_share(s, mid, "Власова Вера Викторовна")
    assert (g.votes, g.all_votes, g.enough) == (20, 120, True)  # half of flat 3: 16.67 % of the registry
    # the passport's area is the base: 20 of 400 is 5 %
    set_passport_area(session_factory, meeting_id=mid, area=Decimal("400"))
    with session_factory() as s:
        g = group_share(s, mid, "Власова Вера Викторовна")
    assert g.share * 100 == 5 and not g.enough
    sign(session_factory, mid)
    assert any("меньше 10 %" in p for p in closing_problems(session_factory, meeting_id=mid, today=TODAY))
    update_meeting(session_factory, meeting_id=mid, data=details(
        initiator_kind="group", initiator="Инициативная группа", initiator_ogrn="",
        initiator_group="Власова Вера Викторовна\nАндреев Андрей Андреевич\nНекто Неизвестный"))
    problems = closing_problems(session_factory, meeting_id=mid, today=TODAY)
    assert "Инициаторы не найдены в реестре собственников: Некто Неизвестный." in problems
    update_meeting(session_factory, meeting_id=mid, data=details(
        initiator_kind="group", initiator="Инициативная группа", initiator_ogrn="",
        initiator_group="Власова Вера Викторовна\nАндреев Андрей Андреевич"))
    assert closing_problems(session_factory, meeting_id=mid, today=TODAY) == []  # 60 of 400 = 15 %
    text = text_of(protocol_docx(session_factory, meeting_id=mid))
    assert "Инициатор общего собрания: Инициативная группа (группа собственников); собственники: Власова Вера " \
           "Викторовна; Андреев Андрей Андреевич; в совокупности 60,00 голосов (15,00\u00a0% от общего числа голосов)" in text


def test_an_owner_initiator_needs_passport_and_ownership_document(session_factory):
    mid = meeting_with_registry(session_factory, initiator_kind="owner", initiator="Андреев Андрей Андреевич",
                                initiator_ogrn="")
    sign(session_factory, mid)
    problems = closing_problems(session_factory, meeting_id=mid, today=TODAY)
    assert "Паспортные данные инициатора-собственника." in problems
    assert "Документ о праве собственности инициатора." in problems
    update_meeting(session_factory, meeting_id=mid, data=details(
        initiator_kind="owner", initiator="Андреев Андрей Андреевич", initiator_ogrn="",
        initiator_passport="28 04 123456, выдан ОВД г. Твери 01.02.2010",
        initiator_ownership_doc="выписка из ЕГРН № 69-69/001-69/001/2020-1 от 01.03.2020, кв. 1"))
    assert closing_problems(session_factory, meeting_id=mid, today=TODAY) == []
    text = text_of(protocol_docx(session_factory, meeting_id=mid))
    assert "(собственник помещения); паспорт: 28 04 123456, выдан ОВД г. Твери 01.02.2010; документ о праве " \
           "собственности: выписка из ЕГРН № 69-69/001-69/001/2020-1 от 01.03.2020, кв. 1." in text


def test_attendance_is_recorded_once_listed_and_attached(session_factory):
    mid = meeting_with_registry(session_factory)
    ids = owners(session_factory, mid)
    assert record_attendance(session_factory, meeting_id=mid, owner_ids=[ids["Андреев"], ids["Власова"]],
                             user="t") == 2
    assert record_attendance(session_factory, meeting_id=mid, owner_ids=[ids["Андреев"]], user="t",
                             representative="Петров П. П., доверенность № 5 от 01.11.2026") == 0
    assert [(p.premise, p.name) for p in attendance(session_factory, meeting_id=mid)] == [
        ("1", "Андреев Андрей Андреевич"), ("3", "Власова Вера Викторовна")]
    vote(session_factory, mid, ids["Андреев"])  # a decision handed in at the discussion counts with the rest
    with zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=mid, public_url="http://x"))) as zf:
        sheet = text_of(zf.read("Приложение 5. Список присутствовавших.docx"))
    assert "Андреев Андрей Андреевич" in sheet and "Борисова" not in sheet and "Подпись" in sheet
    assert "Очное обсуждение вопросов повестки дня: " + f"{START:%d.%m.%Y} в 19:00, двор дома" in sheet
    protocol = text_of(protocol_docx(session_factory, meeting_id=mid))
    assert "5. Список собственников, присутствовавших на очном обсуждении (лист регистрации с подписями)." in protocol
    assert f"Дата, время и место очного обсуждения вопросов повестки дня: {START:%d.%m.%Y} в 19:00, двор дома." in protocol
    assert remove_attendance(session_factory, meeting_id=mid, owner_ids=[ids["Власова"]]) == 1
    with pytest.raises(ValidationError):
        record_attendance(session_factory, meeting_id=mid, owner_ids=[10 ** 6], user="t")


def test_a_zaochnoe_meeting_has_no_attendance_list_and_needs_a_ground(session_factory):
    mid = meeting_with_registry(session_factory, form="заочное", in_person_at=None, in_person_place="")
    with pytest.raises(ValidationError) as err:
        record_attendance(session_factory, meeting_id=mid, owner_ids=list(owners(session_factory, mid).values()),
                          user="t")
    assert "для очно-заочного собрания" in err.value.message
    sign(session_factory, mid)
    assert any(p.startswith("Основание заочного собрания (ЖК РФ ст. 47 ч. 1)")
               for p in closing_problems(session_factory, meeting_id=mid, today=TODAY))
    assert get_meeting(session_factory, mid).ground_missing


def test_a_meeting_without_quorum_is_repeated_as_zaochnoe_with_its_registry_and_agenda(session_factory):
    mid = meeting_with_registry(session_factory, invited="Смирнова Е. В.; ООО «УК Тверь»; доклад")
    ids = owners(session_factory, mid)
    vote(session_factory, mid, ids["Андреев"])  # 40 of 120: no quorum
    with pytest.raises(ValidationError) as err:
        repeat_meeting(session_factory, meeting_id=mid, start_date=TODAY + dt.timedelta(days=11),
                       end_date=TODAY + dt.timedelta(days=40), today=END)
    assert "ещё идёт" in err.value.message
    new = repeat_meeting(session_factory, meeting_id=mid, start_date=TODAY + dt.timedelta(days=11),
                         end_date=TODAY + dt.timedelta(days=40), today=TODAY, secret_key=KEY)
    with pytest.raises(ValidationError) as err:  # a double click repeats once
        repeat_meeting(session_factory, meeting_id=mid, start_date=TODAY + dt.timedelta(days=11),
                       end_date=TODAY + dt.timedelta(days=40), today=TODAY)
    assert f"уже повторено: собрание № {new}" in err.value.message
    first, again = get_meeting(session_factory, mid), get_meeting(session_factory, new)
    assert (again.form, again.ground_meeting_id, again.in_person_at, again.ground_missing) == ("заочное", mid, None, False)
    assert [(q.text, q.majority, q.proposal) for q in again.questions] == [
        (q.text, q.majority, q.proposal) for q in first.questions]
    assert (again.initiator, again.initiator_ogrn, again.invited) == (first.initiator, first.initiator_ogrn, first.invited)
    with session_factory() as s:
        def registry(m):
            return sorted(s.execute(select(Premise.number, Premise.area, OwnerRecord.name, OwnerRecord.share_num,
                                           OwnerRecord.share_den).join(OwnerRecord)
                                    .where(Premise.meeting_id == m)).all())
        assert registry(new) == registry(mid) and len(registry(new)) == 4
        assert s.get(Meeting, new).registry_seal.startswith("3:4:")  # 3 premises, 4 owners, sealed
    from services.seals import check_registry_seal
    with session_factory() as s:
        assert check_registry_seal(s, KEY, new, has_decisions=False) == []
    text = text_of(protocol_docx(session_factory, meeting_id=new))
    assert (f"так как собрание с той же повесткой дня, проведённое в форме очно-заочного голосования с "
            f"{START:%d.%m.%Y} по {END:%d.%m.%Y}, не имело кворума (ЖК РФ ст. 47 ч. 1)") in text


def test_a_meeting_with_quorum_is_not_repeated(session_factory):
    mid = meeting_with_registry(session_factory)
    ids = owners(session_factory, mid)
    for name in ("Андреев", "Борисова"):
        vote(session_factory, mid, ids[name])
    with pytest.raises(ValidationError) as err:
        repeat_meeting(session_factory, meeting_id=mid, start_date=TODAY + dt.timedelta(days=11),
                       end_date=TODAY + dt.timedelta(days=40), today=TODAY)
    assert "имело кворум" in err.value.message


def test_the_deadlines_after_the_voting(session_factory):
    mid = meeting_with_registry(session_factory)
    by_title = {t.title: t for t in terms(session_factory, meeting_id=mid)}
    assert by_title["Оформить протокол"].due == END + dt.timedelta(days=10)
    assert by_title["Сообщить собственникам об итогах"].due == END + dt.timedelta(days=10)
    assert by_title["Сообщить собственникам об итогах"].source == "ЖК РФ ст. 46 ч. 3"
    # without a protocol date: 10 days to the company, then 5 to the inspectorate
    assert by_title["Передать подлинники решений и протокола в ГЖИ"].due == END + dt.timedelta(days=15)
    sign(session_factory, mid)  # drawn up on END + 3: the company holds the originals from then
    by_title = {t.title: t for t in terms(session_factory, meeting_id=mid)}
    assert by_title["Сообщить собственникам об итогах"].due == END + dt.timedelta(days=13)  # from the protocol
    assert by_title["Передать подлинники решений и протокола в ГЖИ"].due == END + dt.timedelta(days=8)
    assert not by_title["Оформить протокол"].done
    close_count(session_factory, meeting_id=mid, user="t", today=TODAY)
    assert {t.title: t for t in terms(session_factory, meeting_id=mid)}["Оформить протокол"].done


def test_a_protocol_date_before_the_end_of_voting_is_refused_and_nothing_closes(session_factory):
    mid = meeting_with_registry(session_factory)
    sign(session_factory, mid)
    with pytest.raises(ValidationError) as err:
        close_count(session_factory, meeting_id=mid, user="t", today=TODAY, drawn_up_on=END - dt.timedelta(days=1))
    assert err.value.message == (f"Дата протокола ({END - dt.timedelta(days=1):%d.%m.%Y}) раньше окончания приёма "
                                 f"решений ({END:%d.%m.%Y}).")
    state = count_state(session_factory, meeting_id=mid)
    assert not state.closed and state.versions == [] and state.number == ""


def test_the_participants_list_prints_the_snils_as_stored_once(session_factory):
    """A stored СНИЛС is already «112-233-445 95»: formatting it again garbled it («112--23-3-4 45»)."""
    import io as _io

    from openpyxl import load_workbook

    from services.results import participants_xlsx

    mid = create_meeting(session_factory, data=details())
    import_registry(session_factory, meeting_id=mid, filename="реестр.csv", replace=True, data=(
        "Номер помещения;Площадь;ФИО;Доля;СНИЛС\n1;40;Андреев Андрей Андреевич;1;11223344595\n").encode("utf-8"))
    vote(session_factory, mid, owners(session_factory, mid)["Андреев"])
    sheet = load_workbook(_io.BytesIO(participants_xlsx(session_factory, meeting_id=mid))).active
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("СНИЛС") + 1).value == "112-233-445 95"


def test_every_notice_of_an_ochno_zaochnoe_meeting_names_the_in_person_part(session_factory):
    """ЖК РФ ст. 45 ч. 5: the date, time and place of the in-person discussion; the kind too."""
    from services.notice import NoticeRenderer, owner_view
    from services.notify import notice_text
    from services.sender import meeting_view

    mid = meeting_with_registry(session_factory)
    wanted = f"Очное обсуждение вопросов повестки дня: {START:%d.%m.%Y} в 19:00, двор дома."
    text = notice_text(session_factory, meeting_id=mid, public_url="https://kvorum.example")
    assert wanted in text and "Вид собрания: внеочередное." in text
    assert "ОГРН 1027700000008; адрес: г. Тверь, ул. Ленина, д. 1" in text  # the initiator's details
    with session_factory() as s:
        view = meeting_view(s, mid)
    rendered = NoticeRenderer().render(meeting=view, owner=owner_view(name="Андреев А. А.", premise="1", area=40,
                                                                      share=1), code="ABCD-EFGH",
                                       public_url="https://kvorum.example", counted_electronic=False)
    assert wanted in rendered.text and "Очное обсуждение</td><td>" in rendered.html
    zaochnoe = meeting_with_registry(session_factory, form="заочное", in_person_at=None, in_person_place="")
    assert "Очное обсуждение" not in notice_text(session_factory, meeting_id=zaochnoe, public_url="https://x")


def test_the_missing_gis_id_warns_only_while_the_count_is_open(session_factory):
    from services.results import protocol_warnings

    mid = meeting_with_registry(session_factory)
    sign(session_factory, mid)
    assert any("порядковый номер управляющей организации" in w
               for w in protocol_warnings(session_factory, meeting_id=mid, today=TODAY))
    close_count(session_factory, meeting_id=mid, user="t", today=TODAY)
    assert not any("ГИС ЖКХ" in w for w in protocol_warnings(session_factory, meeting_id=mid, today=TODAY))
