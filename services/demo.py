"""The demonstration meeting: a new user sees every page with data at once."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.errors import ValidationError
from services.law import AGENDA_TEMPLATES
from services.meetings import MeetingData, QuestionData, create_meeting
from services.registry import import_registry
from services.settings import PROJECT_ROOT

DEMO_REGISTRY = PROJECT_ROOT / "data" / "samples" / "registry_demo.xlsx"
DEMO_ADDRESS = "г. Москва, ул. Садовая, д. 10"


DEMO_SPEAKER = "Смирнова Е. В., представитель ООО «УК Пример»"
# The templates' proposals with their blanks filled in, as an analyst would: owners of the sample registry,
# by their initials as protocols name them.
DEMO_PROPOSALS = {
    "Председатель, секретарь и счётная комиссия": (
        "Избрать председателем общего собрания Иванова И. И. (кв. 1), секретарём общего собрания "
        "Петрову А. С. (кв. 2); наделить их полномочиями по подсчёту голосов и подписанию протокола "
        "общего собрания."),
    "Выбор управляющей организации": (
        "Выбрать управляющей организацией ООО «УК Пример» (ОГРН 1027700000000); утвердить условия договора "
        "управления многоквартирным домом в редакции, представленной собственникам вместе с сообщением о "
        "проведении собрания."),
    "Капитальный ремонт": (
        "Провести капитальный ремонт общего имущества: перечень работ — ремонт крыши; смета расходов — "
        "4 850 000,00 руб.; сроки проведения — с 01.06.2027 по 30.09.2027; источник финансирования — средства "
        "фонда капитального ремонта на специальном счёте. Уполномочить председателя совета многоквартирного дома "
        "участвовать в приёмке оказанных услуг и (или) выполненных работ, в том числе подписывать "
        "соответствующие акты."),
    "Совет дома и его председатель": (
        "Избрать совет многоквартирного дома в составе: Васильева О. Н. (кв. 3), Соколов С. П. (кв. 4), "
        "Михайлова Н. И. (кв. 5); председателем совета многоквартирного дома избрать Васильеву О. Н. (кв. 3)."),
    "Пользование общим имуществом иными лицами": (
        "Предоставить в пользование иным лицам общее имущество в многоквартирном доме (фасад, крыша — для "
        "размещения рекламы и оборудования связи) на условиях: плата не ниже 3 000,00 руб. в месяц за место, "
        "доход зачисляется на счёт дома; уполномочить ООО «УК Пример» заключать договоры об использовании общего "
        "имущества от имени собственников."),
}


def create_demo_meeting(session_factory: sessionmaker[Session], *, today: dt.date | None = None) -> int:
    """A meeting that starts in 12 days (so notices can still go out in time) with the sample registry."""
    today = today or dt.date.today()
    chosen = [t for t in AGENDA_TEMPLATES if t.title in (
        "Председатель, секретарь и счётная комиссия", "Выбор управляющей организации",
        "Капитальный ремонт", "Совет дома и его председатель", "Пользование общим имуществом иными лицами",
    )]
    data = MeetingData(
        address=DEMO_ADDRESS,
        initiator="ООО «УК Пример»",
        initiator_details="ИНН 7700000000",
        initiator_kind="organisation",
        initiator_ogrn="1027700000008",
        initiator_address="125000, г. Москва, ул. Садовая, д. 1, офис 5",
        kind="внеочередное",
        form="очно-заочное",
        start_date=today + dt.timedelta(days=12),
        end_date=today + dt.timedelta(days=42),
        in_person_at=dt.datetime.combine(today + dt.timedelta(days=12), dt.time(19, 0)),
        in_person_place="двор дома, у подъезда 1 (в непогоду — холл 1-го подъезда)",
        invited="Смирнова Е. В.; ООО «УК Пример»; доклад по вопросам повестки дня",
        archive_place="ООО «УК Пример»: г. Москва, ул. Садовая, д. 1, офис 5",
        decisions_place="г. Москва, ул. Садовая, д. 1, офис 5 (управляющая организация), пн–пт 9:00–18:00; "
        "почтовый ящик в холле 1-го подъезда",
        materials_place="офис управляющей организации: г. Москва, ул. Садовая, д. 1, офис 5; сайт uk-primer.example",
        questions=[QuestionData(t.text, t.majority, proposal=DEMO_PROPOSALS.get(t.title, t.proposal),
                                speaker=DEMO_SPEAKER) for t in chosen],
    )
    meeting_id = create_meeting(session_factory, data=data)
    import_registry(
        session_factory, meeting_id=meeting_id, data=DEMO_REGISTRY.read_bytes(), filename=DEMO_REGISTRY.name,
        replace=True,
    )
    return meeting_id


@dataclass(frozen=True)
class LiveDemo:
    meeting_id: int
    code: str  # a personal code to try the vote page with, shown once
    premise: str
    owner: str


def create_live_demo(session_factory: sessionmaker[Session], *, secret_key: str,
                     today: dt.date | None = None) -> LiveDemo:
    """The demonstration meeting in its voting period, as a working day finds one: started a week
    ago, every owner notified by hand in time (12 days before the start), the in-person discussion
    held with some owners present, a third of the written decisions in (received over the past
    days, so the charts have a history), two owners answered online; and a personal code for an
    owner who has not voted yet, to try the vote page without changing any date."""
    from sqlalchemy import select

    from services.attendance import record_attendance
    from services.models import AgendaQuestion, OwnerRecord, Premise
    from services.notify import issue_codes, record_paper_delivery
    from services.voting import register_paper_decision, submit_online_decision

    today = today or dt.date.today()
    start = today - dt.timedelta(days=7)
    meeting_id = create_demo_meeting(session_factory, today=start - dt.timedelta(days=12))
    with session_factory() as s:
        owners = s.execute(select(OwnerRecord.id, OwnerRecord.name, Premise.number, OwnerRecord.is_legal_entity)
                           .join(Premise, OwnerRecord.premise_id == Premise.id)
                           .where(OwnerRecord.meeting_id == meeting_id).order_by(OwnerRecord.id)).all()
        questions = list(s.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == meeting_id)
                                   .order_by(AgendaQuestion.number)))
    ids = [o.id for o in owners]
    record_paper_delivery(session_factory, meeting_id=meeting_id, owner_ids=ids, channel="hand",
                          on_date=start - dt.timedelta(days=12), user="демо", today=today)
    record_attendance(session_factory, meeting_id=meeting_id, owner_ids=ids[:6], user="демо")
    voted = ids[::3]  # a third of the owners, from every part of the house
    for i, owner_id in enumerate(voted):
        answers = {q: ("against" if (i + n) % 7 == 0 else "abstain" if (i + n) % 5 == 0 else "for")
                   for n, q in enumerate(questions)}
        received = start + dt.timedelta(days=i % 7)  # spread over the week so far
        try:
            register_paper_decision(session_factory, secret_key=secret_key, meeting_id=meeting_id,
                                    owner_id=owner_id, received_on=min(received, today), answers=answers,
                                    user="демо", today=today)
        except ValidationError:
            continue  # a joint co-owner whose holding already has its decision: nothing to add
    online = [i for i in ids if i not in voted][:2]
    for owner_id in online:
        submit_online_decision(session_factory, secret_key=secret_key, owner_id=owner_id,
                               answers={q: "for" for q in questions}, today=today)
    waiting = [o for o in owners if o.id not in voted and o.id not in online and not o.is_legal_entity]
    trial = waiting[len(waiting) // 2]
    code = issue_codes(session_factory, meeting_id=meeting_id, owner_ids=[trial.id], secret_key=secret_key)[trial.id]
    return LiveDemo(meeting_id, code, trial.number, trial.name)
