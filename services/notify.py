"""Уведомление собственников: who was notified, how and when; queuing the sending; paper notices;
the реестр вручения (delivery register, an attachment of the protocol).

Owner lists are searched, sorted and filtered in memory over an index built once from the
database (`owner_status_index`), so a page with 100,000 owners answers a keystroke in milliseconds.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.errors import NotFound, ValidationError
from services.exports import xlsx_bytes
from services.law import TIME_LIMITS
from services.models import AccessCode, Delivery, Meeting, OwnerRecord, Premise, SendJob, utcnow
from services.registry import natural_key

NOTICE_DAYS = TIME_LIMITS["notice"].days  # ЖК РФ ст. 45 ч. 4: not later than 10 days before the meeting
CHANNELS = {"email": "Эл. почта", "registered_mail": "Заказное письмо", "hand": "Вручено под роспись"}
STATUS_LABELS = {"queued": "в очереди", "sending": "отправляется", "sent": "отправлено", "failed": "ошибка",
                 "skipped": "нет адреса эл. почты"}
NO_EMAIL = "нет адреса эл. почты — нужно бумажное уведомление (под роспись или заказным письмом)"

SORT_DATE, SORT_PREMISE, SORT_NAME = "По дате уведомления", "По номеру помещения", "По ФИО"
SORTS = (SORT_DATE, SORT_PREMISE, SORT_NAME)
DESC, ASC = "По убыванию", "По возрастанию"
SHOW_UNNOTIFIED, SHOW_ALL = "Показать неуведомлённых", "Показать всех"
SHOW_NOT_VOTED = "Не проголосовали"  # no counted or online decision: whom to remind (services/reminders.py)
# What proves the meeting's notice (ЖК ст. 45 ч. 4): the results notice (purpose «results»,
# services/results_notice.py) is sent by the same queue but is no notice of the meeting, so every
# count, status and register of notices here reads only these deliveries.
NOTICE = "notice"
IS_NOTICE = Delivery.purpose == NOTICE


class LateNoticeError(ValidationError):
    """Sending after the 10-day limit needs the analyst's explicit confirmation."""


def _meeting(s: Session, meeting_id: int) -> Meeting:
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    return m


# ---------- the 10-day rule ----------

@dataclass(frozen=True)
class Deadline:
    last_day: dt.date
    days_left: int  # negative once the last day has passed

    @property
    def passed(self) -> bool:
        return self.days_left < 0

    @property
    def text(self) -> str:
        if self.days_left > 0:
            return f"Уведомить собственников нужно не позднее {self.last_day:%d.%m.%Y} — осталось дней: {self.days_left}."
        if self.days_left == 0:
            return f"Сегодня, {self.last_day:%d.%m.%Y}, — последний день для уведомления собственников."
        return (f"Срок уведомления истёк {self.last_day:%d.%m.%Y} (за {NOTICE_DAYS} дней до начала голосования). "
                "Отправленные сейчас уведомления будут отмечены как поздние.")


def notice_deadline(start_date: dt.date, today: dt.date | None = None) -> Deadline:
    today = today or dt.date.today()
    last = start_date - dt.timedelta(days=NOTICE_DAYS)
    return Deadline(last, (last - today).days)


# ---------- the owners' notification status ----------

INDEX_COLUMNS = ["id", "premise", "name", "emails", "last_notice", "code_used", "last_status", "last_error",
                 "last_channel", "voted", "last_reminder", "premise_rank", "name_key", "search_key", "name_rank"]


def owner_status_index(session_factory: sessionmaker[Session], *, meeting_id: int) -> pd.DataFrame:
    """One row per owner record: premise, name, e-mails, the last notice, the code mark, the last
    delivery's status and error, whether the owner voted and the last reminder sent; plus
    precomputed keys for search and natural sorting."""
    from services.reminders import REMINDER, voted_owner_ids

    with session_factory() as s:
        owners = s.execute(
            select(OwnerRecord.id, Premise.number, OwnerRecord.name, OwnerRecord.emails)
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(OwnerRecord.meeting_id == meeting_id)
        ).all()
        sent = dict(s.execute(
            select(Delivery.owner_id, func.max(Delivery.sent_at))
            .where(Delivery.meeting_id == meeting_id, IS_NOTICE, Delivery.status == "sent",
                   Delivery.sent_at.is_not(None))
            .group_by(Delivery.owner_id)
        ).all())
        latest_ids = (
            select(func.max(Delivery.id)).where(Delivery.meeting_id == meeting_id, IS_NOTICE)
            .group_by(Delivery.owner_id)
        )
        latest = {oid: (st, err, ch) for oid, st, err, ch in s.execute(
            select(Delivery.owner_id, Delivery.status, Delivery.error, Delivery.channel)
            .where(Delivery.id.in_(latest_ids))
        )}
        used = set(s.scalars(
            select(AccessCode.owner_id).where(AccessCode.meeting_id == meeting_id, AccessCode.first_used_at.is_not(None))
        ))
        voted = voted_owner_ids(s, meeting_id)
        reminded = dict(s.execute(
            select(Delivery.owner_id, func.max(Delivery.sent_at))
            .where(Delivery.meeting_id == meeting_id, Delivery.purpose == REMINDER, Delivery.status == "sent",
                   Delivery.sent_at.is_not(None))
            .group_by(Delivery.owner_id)
        ).all())
    if not owners:
        return pd.DataFrame(columns=INDEX_COLUMNS)
    ids = [o[0] for o in owners]
    numbers = [o[1] for o in owners]
    names = [o[2] for o in owners]
    df = pd.DataFrame({
        "id": ids, "premise": numbers, "name": names, "emails": [", ".join(o[3] or []) for o in owners],
        "last_notice": pd.to_datetime([sent.get(i) for i in ids]),
        "code_used": [i in used for i in ids],
        "last_status": [latest.get(i, ("", "", ""))[0] for i in ids],
        "last_error": [latest.get(i, ("", "", ""))[1] for i in ids],
        "last_channel": [latest.get(i, ("", "", ""))[2] for i in ids],
        "voted": pd.Series([i in voted for i in ids], dtype=bool),
        "last_reminder": pd.to_datetime([reminded.get(i) for i in ids]),
    })
    order = sorted(set(numbers), key=natural_key)
    rank = {n: r for r, n in enumerate(order)}
    df["premise_rank"] = np.array([rank[n] for n in numbers], dtype=np.int64)
    df["name_key"] = [f.name_key(n) for n in names]
    df["search_key"] = [f"{f.name_key(n)}\x00{f.text_key(p)}" for n, p in zip(names, numbers)]
    df["name_rank"] = _name_rank(df["name_key"])
    return df


def _name_rank(name_keys: pd.Series) -> np.ndarray:
    """Position of each name key in alphabetical order (equal keys, equal rank): sorting by name
    becomes sorting integers."""
    return pd.factorize(name_keys, sort=True)[0].astype(np.int64)


def status_version(session_factory: sessionmaker[Session], *, meeting_id: int) -> tuple:
    """A cheap fingerprint of what `owner_status_index` reads: it changes whenever the index would."""
    with session_factory() as s:
        owners = s.execute(select(func.count(), func.max(OwnerRecord.id), func.max(OwnerRecord.created_at))
                           .where(OwnerRecord.meeting_id == meeting_id)).one()
        deliveries = s.execute(select(func.count(), func.max(Delivery.id), func.max(Delivery.sent_at),
                                      func.count(Delivery.sent_at), func.sum(Delivery.attempts))
                               .where(Delivery.meeting_id == meeting_id, IS_NOTICE)).one()
        codes = s.execute(select(func.count(AccessCode.first_used_at), func.max(AccessCode.issued_at))
                          .where(AccessCode.meeting_id == meeting_id)).one()
        from services.reminders import reminder_version

        reminders = reminder_version(s, meeting_id)
    return (*owners, *deliveries, *codes, *reminders)


def filter_owners(index: pd.DataFrame, *, search: str = "", sort: str = SORT_DATE, descending: bool = True,
                  only_unnotified: bool = False, only_not_voted: bool = False) -> pd.DataFrame:
    """Search (ФИО or premise number: substring, case-insensitive, ё = е), filter and sort."""
    view = index
    if only_unnotified:
        view = view[view["last_notice"].isna()]
    if only_not_voted:
        view = view[~view["voted"].astype(bool)]
    needle = f.name_key(search) if search and search.strip() else ""
    if needle:
        premise_needle = f.text_key(search)
        mask = view["search_key"].str.contains(needle, regex=False)
        if premise_needle != needle:
            mask |= view["search_key"].str.contains("\x00" + premise_needle, regex=False)
        view = view[mask]
    # Sorted on integer keys with one stable np.lexsort (its last key is the primary one): the same
    # order as sort_values over the string and date columns, a few times faster on 100,000 owners.
    premise = view["premise_rank"].to_numpy(dtype=np.int64)
    sign = -1 if descending else 1
    if sort in (SORT_PREMISE, SORT_NAME):
        names = view["name_rank"].to_numpy(dtype=np.int64) if "name_rank" in view else _name_rank(view["name_key"])
        keys = (names, sign * premise) if sort == SORT_PREMISE else (premise, sign * names)
    else:
        dates = view["last_notice"].to_numpy(dtype="datetime64[ns]")
        never = np.isnat(dates)
        # Owners never notified stay at the end whichever way the dates run.
        keys = (premise, np.where(never, 0, sign * dates.view(np.int64)), never)
    return view.take(np.lexsort(keys))


# ---------- queuing the sending ----------

@dataclass
class QueueResult:
    job_id: int
    queued: int
    skipped: int
    late: bool
    existed: bool = False


def queue_notices(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int], request_key: str,
                  user: str = "", confirm_late: bool = False, today: dt.date | None = None) -> QueueResult:
    """Store one delivery per selected owner and return at once; the sender does the rest.

    The same `request_key` (one per confirmation) returns the job it already created: a double
    click or a rerun never queues twice.
    """
    owner_ids = sorted(set(int(i) for i in owner_ids))
    if not owner_ids:
        raise ValidationError("Не выбран ни один собственник.")

    def queue(s: Session) -> QueueResult:
        meeting = _meeting(s, meeting_id)
        deadline = notice_deadline(meeting.start_date, today)
        if deadline.passed and not confirm_late:
            raise LateNoticeError(deadline.text + " Подтвердите отправку после срока.")
        owners = s.execute(
            select(OwnerRecord.id, OwnerRecord.emails).where(
                OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(owner_ids))
        ).all()
        if len(owners) != len(owner_ids):
            raise ValidationError("Часть выбранных собственников не найдена в реестре — обновите страницу.")
        return add_send_job(s, meeting_id=meeting_id, request_key=request_key, user=user, owners=owners,
                            lawful=meeting.email_notice_decision_date is not None, late=deadline.passed)

    return once_per_key(session_factory, request_key=request_key, queue=queue)


def once_per_key(session_factory: sessionmaker[Session], *, request_key: str,
                 queue: Callable[[Session], QueueResult]) -> QueueResult:
    """Run `queue` in one transaction, once per `request_key`: a job the key already created is
    returned instead, so a double click or a rerun never queues twice."""
    with session_factory() as s:
        existing = s.scalar(select(SendJob).where(SendJob.request_key == request_key))
        if existing is not None:
            return _result_of(s, existing)
    try:
        with session_factory.begin() as s:
            return queue(s)
    except IntegrityError:
        # the same confirmation arrived twice at once: the other request created the job
        with session_factory() as s:
            existing = s.scalar(select(SendJob).where(SendJob.request_key == request_key))
            if existing is None:
                raise
            return _result_of(s, existing)


def add_send_job(s: Session, *, meeting_id: int, request_key: str, user: str, owners, lawful: bool, late: bool,
                 purpose: str = NOTICE, total: int | None = None) -> QueueResult:
    """A SendJob and one e-mail delivery per owner of `owners` ((id, e-mails) pairs): queued, or
    «skipped» without an address. `total` (the owners the job concerns) may exceed `owners` when
    owners without an address get no delivery row; they count as skipped."""
    job = SendJob(meeting_id=meeting_id, request_key=request_key, created_by=user,
                  total=len(owners) if total is None else total, late=late)
    s.add(job)
    s.flush()
    now = utcnow()
    rows = []
    for oid, emails in owners:
        emails = [e for e in (emails or []) if e]
        rows.append({
            "meeting_id": meeting_id, "owner_id": oid, "job_id": job.id, "channel": "email", "purpose": purpose,
            "lawful": lawful, "address": ", ".join(emails), "status": "queued" if emails else "skipped",
            "late": late, "attempts": 0, "error": "" if emails else NO_EMAIL,
            "created_at": now, "next_attempt_at": now, "claimed_by": "", "message_id": "",
            "created_by": user,
        })
    if rows:
        s.execute(Delivery.__table__.insert(), rows)
    queued = sum(1 for r in rows if r["status"] == "queued")
    return QueueResult(job.id, queued, job.total - queued, late)


def _result_of(s: Session, job: SendJob) -> QueueResult:
    queued = s.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.job_id == job.id, Delivery.status != "skipped")) or 0
    return QueueResult(job.id, queued, job.total - queued, job.late, existed=True)


def failed_owner_ids(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[int]:
    """Owners whose latest e-mail delivery failed: to retry."""
    index = owner_status_index(session_factory, meeting_id=meeting_id)
    return [int(i) for i in index.loc[(index["last_status"] == "failed") & (index["last_channel"] == "email"), "id"]]


@dataclass
class JobProgress:
    job_id: int
    total: int
    sent: int
    failed: int
    skipped: int
    pending: int
    last_error: str
    next_attempt_at: dt.datetime | None
    purpose: str = NOTICE  # what the job sends: notice | reminder | results

    @property
    def done(self) -> bool:
        return self.pending == 0

    @property
    def processed(self) -> int:
        return self.sent + self.failed + self.skipped


def job_progress(session_factory: sessionmaker[Session], *, job_id: int) -> JobProgress:
    with session_factory() as s:
        counts = dict(s.execute(
            select(Delivery.status, func.count()).where(Delivery.job_id == job_id).group_by(Delivery.status)
        ).all())
        # a delivery being retried right now («sending») keeps its last error too: while the next
        # attempt hangs on a silent server, the page must go on saying why nothing leaves
        waiting = s.execute(
            select(Delivery.error, Delivery.next_attempt_at, Delivery.status).where(
                Delivery.job_id == job_id, Delivery.status.in_(("queued", "sending")), Delivery.error != "")
            .order_by(Delivery.next_attempt_at).limit(1)
        ).first()
        purpose = s.scalar(select(Delivery.purpose).where(Delivery.job_id == job_id).limit(1)) or NOTICE
    total = sum(counts.values())
    return JobProgress(
        job_id, total, counts.get("sent", 0), counts.get("failed", 0), counts.get("skipped", 0),
        counts.get("queued", 0) + counts.get("sending", 0),
        waiting[0] if waiting else "", waiting[1] if waiting and waiting[2] == "queued" else None, purpose,
    )


def active_job_id(session_factory: sessionmaker[Session], *, meeting_id: int) -> int | None:
    """The newest job of notices or reminders of the meeting that still has deliveries to send (to
    show after a reload)."""
    from services.reminders import REMINDER

    with session_factory() as s:
        return s.scalar(
            select(func.max(Delivery.job_id)).where(
                Delivery.meeting_id == meeting_id, Delivery.purpose.in_((NOTICE, REMINDER)),
                Delivery.status.in_(("queued", "sending")))
        )


# What the page says of a job. In outbox mode (no SMTP server) nothing reaches an owner: the
# messages are files in data/outbox/, and the page must never call them sent.
_WHAT = {NOTICE: ("Уведомления", "уведомлений"), "reminder": ("Напоминания", "напоминаний")}


def job_progress_label(p: JobProgress, *, outbox: bool) -> str:
    """The progress bar's text."""
    plural, genitive = _WHAT.get(p.purpose, _WHAT[NOTICE])
    doing = f"Запись {genitive} в папку outbox" if outbox else f"Отправка {genitive}"
    return f"{doing}: {p.processed} из {p.total}" + (f", ошибок: {p.failed}" if p.failed else "")


def job_outcome(p: JobProgress, *, outbox: bool) -> tuple[str, str]:
    """(level, text) of a finished job: «success», «warning» or «error», and the Russian message."""
    plural, _genitive = _WHAT.get(p.purpose, _WHAT[NOTICE])
    extra = (f" Не доставлено: {p.failed} — причины в разделе «Не доставлено»." if p.failed else "") + (
        f" Без эл. почты: {p.skipped} — им нужно бумажное уведомление." if p.skipped else "")
    if not p.sent:
        return "error", f"{plural} не отправлены." + extra
    if outbox:
        return "warning", (f"{plural} записаны в папку outbox: {p.sent}. Почтовый сервер не настроен — "
                           "собственникам они не отправлены." + extra)
    done = "успешно отправлены" if p.purpose == NOTICE else "отправлены"
    return ("success" if not p.failed else "warning"), f"{plural} {done}: {p.sent}." + extra


def failures(session_factory: sessionmaker[Session], *, meeting_id: int) -> pd.DataFrame:
    """Owners whose latest delivery failed or could not go by e-mail, with the reason."""
    index = owner_status_index(session_factory, meeting_id=meeting_id)
    bad = index[index["last_status"].isin(["failed", "skipped"])].sort_values("premise_rank")
    return pd.DataFrame({
        "id": bad["id"], "Номер помещения": bad["premise"], "ФИО/Наименование": bad["name"],
        "Причина": bad["last_error"],
    })


# ---------- paper notices ----------

def record_paper_delivery(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int],
                          channel: str, on_date: dt.date, postal_number: str = "", user: str = "",
                          today: dt.date | None = None) -> int:
    """«Вручено под роспись» / «Заказное письмо» with its date (and postal number) for the owners."""
    if channel not in ("hand", "registered_mail"):
        raise ValidationError("Способ вручения: под роспись или заказным письмом.")
    owner_ids = sorted(set(int(i) for i in owner_ids))
    if not owner_ids:
        raise ValidationError("Не выбран ни один собственник.")
    today = today or dt.date.today()
    if on_date > today:
        raise ValidationError("Дата вручения не может быть позже сегодняшней.")
    postal_number = " ".join(str(postal_number).split())[:100]
    if channel == "registered_mail" and not postal_number:
        raise ValidationError("Укажите почтовый идентификатор заказного письма.")
    with session_factory.begin() as s:
        meeting = _meeting(s, meeting_id)
        found = set(s.scalars(select(OwnerRecord.id).where(
            OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(owner_ids))))
        if len(found) != len(owner_ids):
            raise ValidationError("Часть выбранных собственников не найдена в реестре — обновите страницу.")
        late = on_date > notice_deadline(meeting.start_date).last_day
        at = dt.datetime.combine(on_date, dt.time(12, 0))
        s.execute(Delivery.__table__.insert(), [{
            "meeting_id": meeting_id, "owner_id": oid, "job_id": None, "channel": channel, "purpose": NOTICE,
            "lawful": True,
            "address": postal_number, "status": "sent", "late": late, "attempts": 1, "error": "",
            "created_at": utcnow(), "next_attempt_at": utcnow(), "claimed_by": "", "sent_at": at,
            "delivered_on": on_date, "message_id": "", "created_by": user,
        } for oid in owner_ids])
    return len(owner_ids)


# ---------- settings of the notice ----------

def update_notice_settings(session_factory: sessionmaker[Session], *, meeting_id: int,
                           email_decision_date: dt.date | None, email_decision_number: str,
                           gis_id: str, gis_posted_on: dt.date | None) -> None:
    """The earlier meeting's decision on e-mail notices and the ГИС ЖКХ posting."""
    email_decision_number = " ".join(email_decision_number.split())[:100]
    if email_decision_number and email_decision_date is None:
        raise ValidationError("Укажите дату протокола, которым собственники решили уведомлять по эл. почте.")
    with session_factory.begin() as s:
        m = _meeting(s, meeting_id)
        m.email_notice_decision_date = email_decision_date
        m.email_notice_decision_number = email_decision_number
        m.gis_id = " ".join(gis_id.split())[:100]
        m.gis_posted_on = gis_posted_on
        # E-mail notices count as lawful only with that decision: keep the register consistent.
        s.execute(
            Delivery.__table__.update()
            .where(Delivery.meeting_id == meeting_id, Delivery.channel == "email", IS_NOTICE)
            .values(lawful=email_decision_date is not None)
        )


# ---------- the stage summary and the delivery register ----------

@dataclass
class NotifySummary:
    owners: int
    notified: int  # by a lawful channel
    in_time: int
    additional_only: int  # only an e-mail without the owners' decision
    failed: int
    no_email: int


def notify_summary(session_factory: sessionmaker[Session], *, meeting_id: int) -> NotifySummary:
    index = owner_status_index(session_factory, meeting_id=meeting_id)
    with session_factory() as s:
        rows = s.execute(
            select(Delivery.owner_id, Delivery.lawful, Delivery.late).where(
                Delivery.meeting_id == meeting_id, IS_NOTICE, Delivery.status == "sent")
        ).all()
    lawful, in_time, any_sent = set(), set(), set()
    for oid, is_lawful, late in rows:
        any_sent.add(oid)
        if is_lawful:
            lawful.add(oid)
            if not late:
                in_time.add(oid)
    failed = int(((index["last_status"] == "failed") & ~index["id"].isin(any_sent)).sum())
    no_email = int((index["emails"] == "").sum())
    return NotifySummary(len(index), len(lawful), len(in_time), len(any_sent - lawful), failed, no_email)


def delivery_register_rows(session_factory: sessionmaker[Session], *, meeting_id: int) -> tuple[list[str], list[list]]:
    """Реестр вручения сообщений: every delivery, lawful and additional apart."""
    with session_factory() as s:
        rows = s.execute(
            select(Delivery, OwnerRecord.name, Premise.number)
            .join(OwnerRecord, Delivery.owner_id == OwnerRecord.id)
            .join(Premise, OwnerRecord.premise_id == Premise.id)
            .where(Delivery.meeting_id == meeting_id, IS_NOTICE)
        ).all()
    rows.sort(key=lambda r: (natural_key(r[2]), r[1], r[0].id))
    header = ["Номер помещения", "ФИО/Наименование собственника", "Способ", "Вид уведомления",
              "Адрес эл. почты / почтовый идентификатор", "Дата отправки (вручения)", "Результат",
              "В срок (за 10 дней)", "Причина"]
    data = []
    for d, name, number in rows:
        kind = "законное" if d.lawful else "дополнительное (нет решения ОСС об эл. почте)"
        when = d.delivered_on or d.sent_at
        data.append([number, name, CHANNELS.get(d.channel, d.channel), kind, d.address, when,
                     STATUS_LABELS.get(d.status, d.status), "" if d.status != "sent" else (not d.late), d.error])
    return header, data


def delivery_register_xlsx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """The register's sheets: lawful notices, additional ones and, when any were sent, the
    reminders to vote (no notice of the meeting: a sheet of their own)."""
    from services.reminders import REGISTER_HEADER, REGISTER_SHEET, reminder_register_rows

    header, data = delivery_register_rows(session_factory, meeting_id=meeting_id)
    lawful = [r for r in data if r[3] == "законное"]
    other = [r for r in data if r[3] != "законное"]
    sheets = [("Законные уведомления", header, lawful), ("Дополнительные", header, other)]
    reminders = reminder_register_rows(session_factory, meeting_id=meeting_id)
    if reminders:
        sheets.append((REGISTER_SHEET, REGISTER_HEADER, reminders))
    return xlsx_bytes(sheets)


# ---------- printed notices ----------

def _owner_rows(s: Session, meeting_id: int, owner_ids: list[int]):
    rows = s.execute(
        select(OwnerRecord.id, OwnerRecord.name, OwnerRecord.share_num, OwnerRecord.share_den, Premise.number,
               Premise.area)
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .where(OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.in_(owner_ids))
    ).all()
    if len(rows) != len(set(owner_ids)):
        raise ValidationError("Часть выбранных собственников не найдена в реестре — обновите страницу.")
    return sorted(rows, key=lambda r: (natural_key(r[4]), r[1]))


def print_notices(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int], secret_key: str,
                  public_url: str) -> bytes:
    """Сообщения для печати (.docx, a page per owner) with a NEW personal code for each owner.

    The codes exist only in the document: their HMACs replace the owners' previous codes in the
    same transaction, after the document was rendered, so a failed rendering changes nothing.
    """
    from fractions import Fraction

    from services.codes import generate_code
    from services.documents import paper_notices_docx
    from services.notice import owner_view
    from services.sender import meeting_view

    owner_ids = sorted(set(int(i) for i in owner_ids))
    if not owner_ids:
        raise ValidationError("Не выбран ни один собственник.")
    with session_factory.begin() as s:
        _meeting(s, meeting_id)
        view = meeting_view(s, meeting_id)
        rows = _owner_rows(s, meeting_id, owner_ids)
        items = [(oid, owner_view(name=name, premise=number, area=area, share=Fraction(num, den)), generate_code())
                 for oid, name, num, den, number, area in rows]
        data = paper_notices_docx(meeting=view, items=[(o, c) for _i, o, c in items], public_url=public_url)
        activate_codes(s, meeting_id=meeting_id, codes={oid: code for oid, _o, code in items}, secret_key=secret_key)
    return data


def activate_codes(s: Session, *, meeting_id: int, codes: dict[int, str], secret_key: str) -> None:
    """Make these codes the owners' active ones (the previous codes stop working)."""
    from services.codes import hash_code

    now = utcnow()
    for oid, code in codes.items():
        values = {"code_hash": hash_code(secret_key, code), "issued_at": now, "delivery_id": None}
        if not s.execute(AccessCode.__table__.update().where(AccessCode.owner_id == oid).values(**values)).rowcount:
            s.add(AccessCode(meeting_id=meeting_id, owner_id=oid, **values))


def issue_codes(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int],
                secret_key: str) -> dict[int, str]:
    """New codes for these owners, returned once (for a printout made elsewhere, and the tests)."""
    from services.codes import generate_code

    codes = {int(oid): generate_code() for oid in owner_ids}
    with session_factory.begin() as s:
        activate_codes(s, meeting_id=meeting_id, codes=codes, secret_key=secret_key)
    return codes


def signature_sheet(session_factory: sessionmaker[Session], *, meeting_id: int, owner_ids: list[int]) -> bytes:
    """Лист вручения сообщений под роспись for the selected owners."""
    from services.documents import signature_sheet_docx
    from services.sender import meeting_view

    owner_ids = sorted(set(int(i) for i in owner_ids))
    if not owner_ids:
        raise ValidationError("Не выбран ни один собственник.")
    with session_factory() as s:
        _meeting(s, meeting_id)
        view = meeting_view(s, meeting_id)
        rows = [(r[4], r[1]) for r in _owner_rows(s, meeting_id, owner_ids)]
    return signature_sheet_docx(meeting=view, rows=rows,
                                title="Лист вручения сообщений о проведении общего собрания собственников под роспись")


def notice_text(session_factory: sessionmaker[Session], *, meeting_id: int, public_url: str) -> str:
    """The notice without personal data or a code, ready to copy into ГИС ЖКХ."""
    from services.notice import notice_text_for_gis
    from services.sender import meeting_view

    with session_factory() as s:
        _meeting(s, meeting_id)
        return notice_text_for_gis(meeting_view(s, meeting_id), public_url)
