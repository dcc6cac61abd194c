"""The background sender: drains queued e-mail deliveries, durably, from any number of processes.

A delivery is claimed by setting its status to «sending» with a lease (`claimed_until`); on
PostgreSQL the candidates are picked with `FOR UPDATE SKIP LOCKED`, so several workers never take
the same row; on SQLite the claim is a compare-and-set UPDATE under the single writer lock. A
process that dies mid-batch leaves leases that expire, and the rows are taken again — a job
survives a closed tab and a restart. The personal code is drawn at the moment of sending, put in
the message, and its HMAC becomes the owner's active code in the same transaction that marks the
delivery sent: a code that never left is never valid, and the previous code stops working.
A results notice (purpose «results», services/results_notice.py) goes the same way, with the same
headers, but carries no code and touches no owner's code; its text is rendered once per meeting
per batch. So does a reminder to vote (purpose «reminder», services/reminders.py), which names the
notice's code and carries none, and is not sent once the receiving of decisions is over.

Server-level failures (down, login refused) put the batch back with a growing delay, so a server
that comes back gets every message exactly once; a refused address fails that delivery only,
with the server's reason. The same refusal of the message itself (a 5xx to DATA) for several
recipients in a row is the server's fault (a full disk, a policy, a broken relay), not theirs:
those deliveries and the rest of the batch wait and are tried again, as for a server that is down.

The lease is short (a minute) and renewed while the batch is sent, so a live sender's claims are
never taken by another worker, however slow the server, and a killed process's claims are taken
again within a minute.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.headerregistry import Address
from fractions import Fraction
from typing import Callable

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.codes import generate_code, hash_code
from services.errors import DomainError
from services.mailer import MailError, Mailer
from services.models import AccessCode, Delivery, Meeting, OwnerRecord, Premise, utcnow
from services.notice import (
    MeetingView,
    NoticeError,
    NoticeRenderer,
    QuestionView,
    RenderedNotice,
    build_message,
    owner_view,
    sender_address,
)

log = logging.getLogger("kvorum.sender")

RESULTS = "results"  # Delivery.purpose of a results notice (services/results_notice.py)
REMINDER = "reminder"  # Delivery.purpose of a reminder to vote (services/reminders.py)

LEASE = dt.timedelta(seconds=60)  # a killed sender's claims are free again this long after its death
BATCH = 200
# This many refusals of the message (DATA) with the same reply in a row: the server is at fault.
SERVER_FAULT_STREAK = 3


@dataclass
class SenderConfig:
    secret_key: str
    public_url: str
    mail_from: str | None
    throttle_seconds: float = 0.0
    retry_seconds: float = 10.0
    max_attempts: int = 8
    batch_size: int = BATCH
    lease_seconds: float = LEASE.total_seconds()  # renewed every quarter of it while a batch is sent
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    last_server_error: str = ""


def meeting_view(s: Session, meeting_id: int) -> MeetingView:
    from services.meeting_details import in_person_text, initiator_details_text

    m = s.get(Meeting, meeting_id)
    return MeetingView(
        id=m.id, address=m.building.address, initiator=m.initiator, initiator_details=initiator_details_text(m, s),
        form=m.form, start_date=m.start_date, end_date=m.end_date, decisions_place=m.decisions_place,
        materials_place=m.materials_place, gis_id=m.gis_id,
        questions=tuple(QuestionView(q.number, q.text, q.materials) for q in m.questions),
        kind=m.kind, in_person=in_person_text(m),
    )


def counts_electronic(s: Session, meeting_id: int) -> bool:
    m = s.get(Meeting, meeting_id)
    return bool(getattr(m, "electronic_decisions_count", False))


def claim_batch(session_factory: sessionmaker[Session], *, worker_id: str, limit: int,
                now: dt.datetime | None = None, meeting_id: int | None = None,
                lease: dt.timedelta = LEASE) -> list[int]:
    """Take up to `limit` due e-mail deliveries for this worker; returns their ids."""
    now = now or utcnow()
    due = and_(
        Delivery.channel == "email",
        or_(
            and_(Delivery.status == "queued", Delivery.next_attempt_at <= now),
            and_(Delivery.status == "sending", Delivery.claimed_until < now),
        ),
    )
    if meeting_id is not None:
        due = and_(due, Delivery.meeting_id == meeting_id)
    token = f"{worker_id}#{uuid.uuid4().hex[:8]}"[:100]
    claim = update(Delivery).values(status="sending", claimed_by=token, claimed_until=now + lease)
    with session_factory.begin() as s:
        pick = select(Delivery.id).where(due).order_by(Delivery.id).limit(limit)
        if s.bind.dialect.name == "postgresql":
            ids = list(s.scalars(pick.with_for_update(skip_locked=True)))
            if not ids:
                return []
            s.execute(claim.where(Delivery.id.in_(ids)), execution_options={"synchronize_session": False})
        else:
            # SQLite: one UPDATE takes the write lock at once, so two processes cannot both claim
            # a row (a SELECT first would let them, or fail with a stale snapshot in WAL mode).
            s.execute(claim.where(Delivery.id.in_(pick), due),
                      execution_options={"synchronize_session": False})
        return list(s.scalars(
            select(Delivery.id).where(Delivery.claimed_by == token, Delivery.status == "sending").order_by(Delivery.id)
        ))


def _load(s: Session, ids: list[int]):
    stmt = (
        select(Delivery, OwnerRecord.name, OwnerRecord.share_num, OwnerRecord.share_den, Premise.number, Premise.area)
        .join(OwnerRecord, Delivery.owner_id == OwnerRecord.id)
        .join(Premise, OwnerRecord.premise_id == Premise.id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    )
    return s.execute(stmt).all()


# Core statements with bound parameters: compiled once and cached, and no ORM bookkeeping per
# message — the outcome of every message is committed on its own, so this runs 10,000 times a job.
_MARK_SENT = (
    update(Delivery.__table__).where(Delivery.__table__.c.id == bindparam("b_id"))
    .values(status="sent", sent_at=bindparam("b_now"), attempts=Delivery.__table__.c.attempts + 1, error="",
            message_id=bindparam("b_message_id"), claimed_until=None)
)
_REPLACE_CODE = (
    update(AccessCode.__table__).where(AccessCode.__table__.c.owner_id == bindparam("b_owner_id"))
    .values(code_hash=bindparam("b_hash"), issued_at=bindparam("b_now"), delivery_id=bindparam("b_delivery"))
)
_ADD_CODE = insert(AccessCode.__table__)


def _finish_sent(s: Session, d: Delivery, *, code_hash: str | None, message_id: str, now: dt.datetime) -> None:
    conn = s.connection()
    conn.execute(_MARK_SENT, {"b_id": d.id, "b_now": now, "b_message_id": message_id})
    if code_hash is None:  # a results notice or a reminder: no code left with it, the owner's code stays
        return
    changed = conn.execute(_REPLACE_CODE, {"b_owner_id": d.owner_id, "b_hash": code_hash, "b_now": now,
                                           "b_delivery": d.id}).rowcount
    if not changed:
        conn.execute(_ADD_CODE, {"meeting_id": d.meeting_id, "owner_id": d.owner_id, "code_hash": code_hash,
                                 "issued_at": now, "delivery_id": d.id})


def process_batch(session_factory: sessionmaker[Session], ids: list[int], *, mailer: Mailer, config: SenderConfig,
                  renderer: NoticeRenderer | None = None, stats: SenderStats | None = None,
                  stop: threading.Event | None = None, clock: Callable[[], dt.datetime] = utcnow) -> SenderStats:
    """Send the claimed deliveries one by one; every outcome is committed before the next message."""
    stats = stats or SenderStats()
    renderer = renderer or NoticeRenderer()
    with session_factory() as s:
        rows = _load(s, ids)
        meetings: dict[int, tuple[MeetingView, bool, Address | str]] = {}
        for d, *_rest in rows:
            if d.meeting_id not in meetings:
                view = meeting_view(s, d.meeting_id)
                try:
                    sender = sender_address(config.mail_from, view.initiator)
                except NoticeError as exc:
                    sender = str(exc)  # every message of this meeting fails with the reason, below
                meetings[d.meeting_id] = (view, counts_electronic(s, d.meeting_id), sender)
        s.expunge_all()
    # One results text per meeting, not per owner: it holds no personal data.
    results: dict[int, RenderedNotice | str] = {}
    wanted = sorted({r[0].meeting_id for r in rows if r[0].purpose == RESULTS})
    if wanted:
        from services.results_notice import compose as compose_results
    for meeting_id in wanted:
        try:
            results[meeting_id] = compose_results(session_factory, meeting_id=meeting_id).rendered()
        except DomainError as exc:  # e.g. the count was reopened: every such message fails with the reason
            results[meeting_id] = exc.message
    # One reminder text per meeting too; none once decisions are no longer received (a queue that
    # waited out a server outage must not remind of a date that has passed).
    reminders: dict[int, RenderedNotice | str] = {}
    wanted = sorted({r[0].meeting_id for r in rows if r[0].purpose == REMINDER})
    if wanted:
        from services.owner_fields import format_date
        from services.reminders import render_reminder
    for meeting_id in wanted:
        view, electronic, _sender = meetings[meeting_id]
        if clock().date() > view.end_date:
            reminders[meeting_id] = (f"Приём решений окончен {format_date(view.end_date)}: "
                                     "напоминание не отправлено")
            continue
        try:
            reminders[meeting_id] = render_reminder(meeting=view, public_url=config.public_url,
                                                    counted_electronic=electronic)
        except NoticeError as exc:
            reminders[meeting_id] = str(exc)
    pending = [r[0].id for r in rows]

    def prepare(row):
        """Code, rendered notice and serialized bytes of one delivery (or the reason it cannot go)."""
        d, name, num, den, number, area = row
        meeting, electronic, sender = meetings[d.meeting_id]
        code = None
        try:
            if d.purpose in (RESULTS, REMINDER):
                rendered = (results if d.purpose == RESULTS else reminders)[d.meeting_id]
                if isinstance(rendered, str):
                    raise NoticeError(rendered)
            else:
                code = generate_code()
                rendered = renderer.render(
                    meeting=meeting, owner=owner_view(name=name, premise=number, area=area, share=Fraction(num, den)),
                    code=code, public_url=config.public_url, counted_electronic=electronic,
                )
            if isinstance(sender, str):
                raise NoticeError(sender)
            message = build_message(rendered=rendered, to=[a.strip() for a in d.address.split(",") if a.strip()],
                                    sender=sender)
            message["X-Kvorum-Meeting"] = str(d.meeting_id)
            message.as_bytes()  # written here, ahead, not while the server waits
        except NoticeError as exc:
            return d, code, None, str(exc)
        return d, code, message, ""

    # The next messages are built while the server takes the current one: building is CPU work
    # and sending mostly waits on the network, so one thread of each keeps both busy.
    prepared = _prefetch(prepare, rows, stop)
    # Deliveries whose message the server refused (DATA) with one and the same reply, in a row: not
    # yet failed. The next message the server takes shows the refusals were about those messages
    # (they fail then); SERVER_FAULT_STREAK of them show the server refuses everything (they wait).
    streak: list[tuple[Delivery, str]] = []

    def settle_streak() -> None:
        for refused, reason in streak:
            _fail(session_factory, refused.id, reason, clock())
            stats.failed += 1
        streak.clear()

    for index, (d, code, message, problem) in enumerate(prepared):
        if stop is not None and stop.is_set():
            _release(session_factory, [r.id for r, _ in streak] + pending[index:], config.worker_id)
            streak.clear()
            break
        if message is None:
            _fail(session_factory, d.id, problem, clock())
            stats.failed += 1
            continue
        try:
            mailer.send(message)
        except MailError as exc:
            if exc.scope == "server":
                stats.last_server_error = exc.message
                first = streak[0][0] if streak else d
                _back_off(session_factory, first, [r.id for r, _ in streak] + pending[index:], exc.message,
                          config, clock())
                streak.clear()
                stats.retried += 1
                break  # nothing else can go now; the rest of the batch waits with the same delay
            if exc.reply and exc.permanent:
                if streak and streak[-1][1] != exc.message:
                    settle_streak()
                streak.append((d, exc.message))
                if len(streak) >= SERVER_FAULT_STREAK:
                    reason = (f"{exc.message} — так сервер ответил на {len(streak)} письма подряд: "
                              "отправка повторится позже")
                    stats.last_server_error = reason
                    log.warning("the SMTP server refused %d messages in a row with «%s»: backing off",
                                len(streak), exc.reply)
                    _back_off(session_factory, streak[0][0], [r.id for r, _ in streak] + pending[index + 1:],
                              reason, config, clock())
                    streak.clear()
                    stats.retried += 1
                    break
                continue
            if exc.permanent or d.attempts + 1 >= config.max_attempts:
                _fail(session_factory, d.id, exc.message, clock())
                stats.failed += 1
            else:
                _back_off(session_factory, d, [d.id], exc.message, config, clock())
                stats.retried += 1
            continue
        settle_streak()  # the server takes messages: the refused ones were refused for themselves
        now = clock()
        for attempt in range(5):
            try:
                with session_factory.begin() as s:
                    _finish_sent(s, d, code_hash=None if code is None else hash_code(config.secret_key, code),
                                 message_id=str(message["Message-ID"]), now=now)
                break
            except IntegrityError:
                # another worker activated a code for this owner at the same moment: update it instead
                if attempt == 4:
                    raise
        stats.sent += 1
        if config.throttle_seconds:
            time.sleep(config.throttle_seconds)
    settle_streak()  # too few in a row to blame the server
    return stats


def _prefetch(work: Callable, items: list, stop: threading.Event | None, depth: int = 32):
    """Yield work(item) for every item, in order, computed ahead in one background thread."""
    import queue

    out: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    cancelled = threading.Event()

    def produce():
        try:
            for item in items:
                if cancelled.is_set() or (stop is not None and stop.is_set()):
                    break
                out.put(("ok", work(item)))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            out.put(("error", exc))
        out.put(("done", done))

    thread = threading.Thread(target=produce, name="kvorum-notice-builder", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = out.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        cancelled.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def _fail(session_factory, delivery_id: int, reason: str, now: dt.datetime) -> None:
    with session_factory.begin() as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            status="failed", error=reason[:1000], attempts=Delivery.attempts + 1, claimed_until=None,
        ))


def _back_off(session_factory, d: Delivery, ids: list[int], reason: str, config: SenderConfig,
              now: dt.datetime) -> None:
    attempts = d.attempts + 1
    with session_factory.begin() as s:
        if attempts >= config.max_attempts:
            s.execute(update(Delivery).where(Delivery.id == d.id).values(
                status="failed", error=reason[:1000], attempts=attempts, claimed_until=None))
            ids = [i for i in ids if i != d.id]
        else:
            s.execute(update(Delivery).where(Delivery.id == d.id).values(attempts=attempts))
        delay = dt.timedelta(seconds=min(config.retry_seconds * 2 ** (attempts - 1), 600))
        if ids:
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == "sending").values(
                status="queued", error=reason[:1000], next_attempt_at=now + delay, claimed_until=None,
            ))


def _release(session_factory, ids: list[int], worker_id: str) -> None:
    if not ids:
        return
    with session_factory.begin() as s:
        s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.claimed_by.startswith(worker_id),
                                         Delivery.status == "sending").values(status="queued", claimed_until=None))


def pending_count(session_factory: sessionmaker[Session], *, meeting_id: int | None = None) -> int:
    with session_factory() as s:
        stmt = select(func.count()).select_from(Delivery).where(
            Delivery.channel == "email", Delivery.status.in_(("queued", "sending")))
        if meeting_id is not None:
            stmt = stmt.where(Delivery.meeting_id == meeting_id)
        return s.scalar(stmt) or 0


def run_sender(session_factory: sessionmaker[Session], *, mailer_factory: Callable[[], Mailer], config: SenderConfig,
               stop: threading.Event | None = None, until_idle: bool = False, poll_seconds: float = 1.0,
               meeting_id: int | None = None, on_batch: Callable[[SenderStats], None] | None = None,
               clock: Callable[[], dt.datetime] = utcnow) -> SenderStats:
    """The sender loop. `until_idle`: return when nothing is queued any more (deliveries waiting
    for a retry count as queued, so `--wait` outlasts a short server outage)."""
    stats = SenderStats()
    renderer = NoticeRenderer()
    mailer: Mailer | None = None
    stop = stop or threading.Event()
    try:
        lease = dt.timedelta(seconds=config.lease_seconds)
        while not stop.is_set():
            ids = claim_batch(session_factory, worker_id=config.worker_id, limit=config.batch_size,
                              now=clock(), meeting_id=meeting_id, lease=lease)
            if ids:
                mailer = mailer or mailer_factory()
                with _LeaseKeeper(session_factory, worker_id=config.worker_id, lease=lease, clock=clock):
                    process_batch(session_factory, ids, mailer=mailer, config=config, renderer=renderer,
                                  stats=stats, stop=stop, clock=clock)
                if on_batch:
                    on_batch(stats)
                continue
            if mailer is not None:
                mailer.close()  # idle: do not hold a connection the server will drop anyway
                mailer = None
            if until_idle and pending_count(session_factory, meeting_id=meeting_id) == 0:
                break
            stop.wait(poll_seconds)
    finally:
        if mailer is not None:
            mailer.close()
    return stats


class _LeaseKeeper:
    """While a batch is sent, push its claims' lease forward every quarter of the lease: another
    worker never takes a live sender's deliveries, however slowly the server takes them."""

    def __init__(self, session_factory, *, worker_id: str, lease: dt.timedelta, clock: Callable[[], dt.datetime]):
        self.session_factory = session_factory
        self.mine = and_(Delivery.status == "sending", Delivery.claimed_by.startswith(f"{worker_id}#", autoescape=True))
        self.lease = lease
        self.clock = clock
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kvorum-sender-lease", daemon=True)

    def renew(self) -> int:
        with self.session_factory.begin() as s:
            return s.execute(update(Delivery).where(self.mine).values(claimed_until=self.clock() + self.lease),
                             execution_options={"synchronize_session": False}).rowcount

    def _run(self) -> None:
        while not self.done.wait(self.lease.total_seconds() / 4):
            try:
                self.renew()
            except Exception:  # a busy database: the next renewal comes well before the lease ends
                log.warning("could not renew the sender's lease", exc_info=True)

    def __enter__(self) -> "_LeaseKeeper":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


class BackgroundSender:
    """The sender thread of one server process (started once per process by services/process.py)."""

    runtime = None  # the services.runtime.Runtime it sends for (set by services/process.py)

    def __init__(self, session_factory, *, mailer_factory, config: SenderConfig, poll_seconds: float = 1.0):
        self.stop = threading.Event()
        self.error = ""

        def loop():
            while not self.stop.is_set():
                try:
                    run_sender(session_factory, mailer_factory=mailer_factory, config=config, stop=self.stop,
                               poll_seconds=poll_seconds)
                except Exception as exc:  # the thread must outlive a database hiccup; it retries
                    self.error = f"{type(exc).__name__}: {exc}"
                    log.exception("sender loop failed; restarting in 5 s")
                    self.stop.wait(5)

        self.thread = threading.Thread(target=loop, name="kvorum-sender", daemon=True)
        self.thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the message in hand; unsent claims of the batch are released for others."""
        self.stop.set()
        self.thread.join(timeout)
