"""Напоминание о голосовании: a short e-mail to the owners who have not voted yet.

Who has voted: an owner whose holding holds a counted decision, or who answered online (a
preliminary answer whose signed paper is still to come: a reminder would only confuse). Any one
joint owner's decision speaks for the holding (ГК РФ ст. 253 ч. 2), so the co-owners of a holding
that voted are not reminded either.

A reminder is no notice of the meeting (ЖК ст. 45 ч. 4): it is queued as deliveries of purpose
«reminder», sent by the durable sender (services/sender.py) once per request key, and the counts,
statuses and register of notices leave it out; the register lists reminders on a sheet of their
own. It carries no personal code: a new code would silently replace the one the owner got with the
notice (and may have written down), so the reminder names the code of the notice and the link only.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.errors import NotFound, ValidationError
from services.holdings import joint_slots
from services.models import Decision, Delivery, Meeting, OwnerRecord, Premise
from services.notice import MeetingView, RenderedNotice, _env, header_safe, vote_url
from services.notice import TEMPLATES_DIR

REMINDER = "reminder"  # Delivery.purpose
SUBJECT_TEMPLATE = "reminder_subject.txt.j2"
TEXT_TEMPLATE = "reminder_email.txt.j2"
HTML_TEMPLATE = "reminder_email.html.j2"
REGISTER_SHEET = "Напоминания"
REGISTER_HEADER = ["Номер помещения", "ФИО/Наименование собственника", "Адрес эл. почты",
                   "Дата отправки напоминания", "Результат", "Причина"]


def voted_owner_ids(s: Session, meeting_id: int) -> set[int]:
    """Owner records that need no reminder: their holding's decision is counted, or they (or a
    joint co-owner) answered online."""
    slots = joint_slots(s, meeting_id)
    taken = set(s.scalars(select(Decision.counted_slot).where(
        Decision.meeting_id == meeting_id, Decision.counted_slot.is_not(None))))
    taken |= {slots.get(oid, oid) for oid in s.scalars(select(Decision.online_slot).where(
        Decision.meeting_id == meeting_id, Decision.online_slot.is_not(None)))}
    owners = s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id))
    return {oid for oid in owners if slots.get(oid, oid) in taken}


def not_voted_owner_ids(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[int]:
    """«Не проголосовали»: the owners a reminder is for, in id order."""
    with session_factory() as s:
        voted = voted_owner_ids(s, meeting_id)
        return [oid for oid in s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)
                                         .order_by(OwnerRecord.id)) if oid not in voted]


def reminder_window_problem(*, start_date: dt.date, end_date: dt.date, count_closed: bool,
                            today: dt.date) -> str | None:
    """Why no reminder can go now (voting not started, or over), or None."""
    if count_closed:
        return "Подсчёт голосов закрыт: напоминать о голосовании поздно."
    if today > end_date:
        return f"Приём решений окончен {f.format_date(end_date)}: напоминать о голосовании поздно."
    if today < start_date:
        return (f"Голосование начнётся {f.format_date(start_date)}: напоминать о нём рано — собственникам "
                "нужно сообщение о проведении собрания.")
    return None


def queue_reminders(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int],
                    request_key: str, user: str = "", today: dt.date | None = None):
    """One reminder e-mail per selected owner who has not voted and has an address; returns
    notify.QueueResult (queued; skipped: not voted but without an e-mail). Owners who voted
    meanwhile are left out. The same `request_key` returns the job it already created."""
    from services.notify import add_send_job, once_per_key

    owner_ids = sorted(set(int(i) for i in owner_ids))
    if not owner_ids:
        raise ValidationError("Не выбран ни один собственник.")

    def queue(s: Session):
        meeting = s.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound(f"Собрание № {meeting_id} не найдено.")
        problem = reminder_window_problem(start_date=meeting.start_date, end_date=meeting.end_date,
                                          count_closed=meeting.count_closed_at is not None,
                                          today=today or dt.date.today())
        if problem:
            raise ValidationError(problem)
        owners = s.execute(select(OwnerRecord.id, OwnerRecord.emails).where(
            OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(owner_ids)).order_by(OwnerRecord.id)).all()
        if len(owners) != len(owner_ids):
            raise ValidationError("Часть выбранных собственников не найдена в реестре — обновите страницу.")
        voted = voted_owner_ids(s, meeting_id)
        waiting = [(oid, emails) for oid, emails in owners if oid not in voted]
        if not waiting:
            raise ValidationError("Все выбранные собственники уже проголосовали: напоминать некому.")
        with_email = [(oid, emails) for oid, emails in waiting if any(e for e in (emails or []))]
        if not with_email:
            raise ValidationError("Ни у кого из выбранных, кто ещё не проголосовал, нет адреса эл. почты.")
        return add_send_job(s, meeting_id=meeting_id, request_key=request_key, user=user, owners=with_email,
                            lawful=False, late=False, purpose=REMINDER, total=len(waiting))

    return once_per_key(session_factory, request_key=request_key, queue=queue)


def render_reminder(*, meeting: MeetingView, public_url: str, counted_electronic: bool = False,
                    templates_dir=TEMPLATES_DIR) -> RenderedNotice:
    """The reminder's subject, text and HTML: the same for every owner of the meeting (no personal
    data, no code), so the sender renders it once per meeting per batch."""
    text_env, html_env = _env(str(templates_dir))
    ctx = {"meeting": meeting, "vote_url": vote_url(public_url), "counted_electronic": counted_electronic}
    subject = header_safe(text_env.get_template(SUBJECT_TEMPLATE).render(ctx))
    text = re.sub(r"\n{3,}", "\n\n", text_env.get_template(TEXT_TEMPLATE).render(ctx)).strip() + "\n"
    return RenderedNotice(subject=subject, text=text, html=html_env.get_template(HTML_TEMPLATE).render(ctx))


def reminder_register_rows(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[list]:
    """The reminders for the register's sheet «Напоминания» (REGISTER_HEADER), in premise order."""
    from services.notify import STATUS_LABELS
    from services.registry import natural_key

    with session_factory() as s:
        rows = s.execute(
            select(Delivery, OwnerRecord.name, Premise.number)
            .join(OwnerRecord, Delivery.owner_id == OwnerRecord.id)
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(Delivery.meeting_id == meeting_id, Delivery.purpose == REMINDER)
        ).all()
    rows.sort(key=lambda r: (natural_key(r[2]), r[1], r[0].id))
    return [[number, name, d.address, d.sent_at, STATUS_LABELS.get(d.status, d.status), d.error]
            for d, name, number in rows]


def reminder_version(s: Session, meeting_id: int) -> tuple:
    """A cheap fingerprint of the reminders and decisions the owners' index reads."""
    reminders = s.execute(select(func.count(), func.max(Delivery.id), func.count(Delivery.sent_at))
                          .where(Delivery.meeting_id == meeting_id, Delivery.purpose == REMINDER)).one()
    decisions = s.execute(select(func.count(), func.max(Decision.id), func.count(Decision.counted_slot),
                                 func.count(Decision.online_slot))
                          .where(Decision.meeting_id == meeting_id)).one()
    return (*reminders, *decisions)
