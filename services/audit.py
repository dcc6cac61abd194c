"""Журнал действий: who did what, when, to which meeting — counts, not personal data.

The table is append-only: the migration installs triggers that refuse UPDATE and DELETE on
SQLite and PostgreSQL alike, so not even a bug in Kvorum can rewrite history. Without the
triggers a rewrite still shows: every event is chained like the decisions — an HMAC under the
instance key over its content and the previous event's seal, the head kept in integrity_state and
locked by each append (appends of several processes are serialised). The time is the database's
(read in the append's transaction; a trigger refuses any other, migration 0007).

The key: `record(..., secret_key=...)`, or the one the runtime's session factory carries
(`session.info`, services/seals.py); without either the event is stored unsealed and the check
reports it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from services.exports import xlsx_bytes
from services.models import AuditEvent, IntegrityState

log = logging.getLogger("kvorum.audit")

ACTIONS = {
    "login": "Вход", "login_failed": "Неудачный вход", "logout": "Выход", "session_expired": "Сеанс истёк",
    "session_moved": "Сеанс открыт в другом браузере: завершён",
    "session_ended": "Сеанс завершён в другой вкладке или администратором",
    "user_created": "Создан сотрудник", "user_changed": "Изменён сотрудник", "password_reset": "Сброшен пароль",
    "meeting_created": "Создано собрание", "meeting_updated": "Изменено собрание",
    "registry_imported": "Импорт реестра", "registry_edited": "Изменение реестра",
    "registry_cleared": "Удалены все собственники",
    "notices_queued": "Отправка уведомлений", "notices_printed": "Печать уведомлений с кодами",
    "paper_delivery": "Отметка вручения", "notice_settings": "Решение ОСС / ГИС ЖКХ",
    "decision_registered": "Внесено письменное решение", "decisions_imported": "Загрузка решений",
    "electronic_setting": "Решения, подписанные кодом", "protocol_saved": "Данные протокола",
    "joint_conflict_settled": "Выбрано решение совместного собственника",
    "decision_corrected": "Исправлено письменное решение", "decision_annulled": "Аннулировано письменное решение",
    "export": "Выгрузка персональных данных", "backup": "Резервная копия", "restore": "Восстановление",
    "totals_rebuilt": "Текущие итоги пересчитаны заново",
    "seals_established": "Печати поставлены на данные прежней версии",
    "count_closed": "Подсчёт закрыт", "count_reopened": "Подсчёт открыт для изменения",
    "meeting_repeated": "Создано повторное собрание", "no_ground_confirmed": "Заочное без основания подтверждено",
    "attendance_recorded": "Лист регистрации очного обсуждения", "results_notice_queued": "Сообщение об итогах",
    "reminders_queued": "Напоминание о голосовании",
    "scans_read": "Распознаны сканы решений", "scan_reviewed": "Проверена страница скана",
    "scans_registered": "Внесены решения со сканов",
}
# Keys that may go into `details`: numbers and short labels, never names, addresses or codes.
ALLOWED_DETAILS = {"count", "owners", "premises", "rejected", "queued", "skipped", "edited", "added", "deleted",
                   "what", "mode", "status", "enabled", "role", "reason", "target_user", "file_rows", "late",
                   "decision", "set_aside", "differed", "meetings", "events", "version", "number",
                   "new_meeting", "replaced", "replacement", "pages", "batch", "review"}
# What the journal page says of each detail, in this order: «роль: наблюдатель, сотрудник: anna».
DETAIL_LABELS = {
    "what": "что", "mode": "способ", "target_user": "сотрудник", "role": "роль", "enabled": "учётная запись активна",
    "status": "статус", "reason": "причина", "decision": "учитывается решение", "set_aside": "не учитываются",
    "replaced": "заменено решение", "replacement": "новая запись",
    "new_meeting": "новое собрание №", "number": "номер", "version": "редакция", "count": "количество",
    "owners": "собственников", "premises": "помещений", "rejected": "отклонено строк", "queued": "в очереди отправки",
    "skipped": "без эл. почты", "late": "после срока", "edited": "изменено", "added": "добавлено",
    "deleted": "удалено", "differed": "расходились с полным пересчётом", "meetings": "собраний",
    "events": "записей журнала", "file_rows": "записей журнала",
    "batch": "пакет сканов №", "pages": "страниц", "review": "на проверку",
}
LOGIN_FAILURES = {"wrong password": "неверный пароль", "disabled": "учётная запись отключена",
                  "unknown name": "нет такого сотрудника"}
# a setting switched by `enabled` reads as such, not as an account («Решения, подписанные кодом: да»)
ENABLED_LABELS = {"electronic_setting": "учитываются"}


def database_now(s: Session) -> dt.datetime:
    """The database's clock (UTC, naive), read in the caller's transaction: the journal's time."""
    if s.bind.dialect.name == "postgresql":
        return s.scalar(text("SELECT timezone('utc', clock_timestamp())"))
    value = s.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
    return dt.datetime.fromisoformat(value)


def _canonical(*, seq: int, at: dt.datetime, actor: str, action: str, meeting_id: int | None, details: dict) -> str:
    return json.dumps({"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor, "action": action,
                       "meeting": meeting_id, "details": details or {}},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_seal(secret_key: str, prev_seal: str, canonical: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), b"journal:" + prev_seal.encode("ascii") + b"\n" +
                    canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _take_head(s: Session) -> tuple[int, str]:
    """Lock the chain's head (PostgreSQL: its row; SQLite: the write lock) and advance its count."""
    table = IntegrityState.__table__
    stmt = (update(table).where(table.c.id == 1).values(journal_count=table.c.journal_count + 1)
            .returning(table.c.journal_count, table.c.journal_head))
    row = s.execute(stmt).first()
    if row is None:  # a database emptied by hand (or a test's truncation): the chain starts again
        if s.bind.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        s.execute(upsert(table).values(id=1, journal_head="", journal_count=0, legacy_events=0, legacy_seal="",
                                       upgrade_pending=False).on_conflict_do_nothing(index_elements=["id"]))
        row = s.execute(stmt).one()
    return row[0], row[1]


def _append(s: Session, key: str | None, values: dict) -> None:
    conn = s.connection()
    events, heads = AuditEvent.__table__, IntegrityState.__table__
    if key is None:
        log.warning("journal event %s stored without the instance key: it is not sealed", values["action"])
        conn.execute(insert(events).values(at=database_now(s), prev_seal="", seal=None, seq=None, **values))
        return
    seq, prev = _take_head(s)
    at = database_now(s)
    seal = event_seal(key, prev, _canonical(seq=seq, at=at, **values))
    conn.execute(insert(events).values(at=at, seq=seq, prev_seal=prev, seal=seal, **values))
    conn.execute(update(heads).where(heads.c.id == 1).values(journal_head=seal))


def record(target: Session | sessionmaker[Session], *, actor: str, action: str, meeting_id: int | None = None,
           secret_key: str | None = None, **details) -> None:
    """Append one event (the chain's next link); in the caller's transaction when given a Session."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    unknown = set(details) - ALLOWED_DETAILS
    if unknown:
        raise ValueError(f"audit details may not hold {sorted(unknown)}")
    clean = {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v)[:100]) for k, v in details.items()}
    values = dict(actor=(actor or "—")[:100], action=action, meeting_id=meeting_id, details=clean)
    if isinstance(target, Session):
        _append(target, secret_key or target.info.get("secret_key"), values)
        return
    with target.begin() as s:
        _append(s, secret_key or s.info.get("secret_key"), values)


# ---------- the check ----------

@dataclass
class JournalReport:
    events: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """The check's outcome in one line (the problems are listed under it), for the page and the CLI."""
        if self.ok:
            return f"Проверено записей журнала: {self.events}. Журнал цел: ничего не изменено, не удалено и не вставлено."
        return f"Журнал изменён в базе данных ({len(self.problems)}):"


def _legacy_digest(events) -> str:
    h = hashlib.sha256()
    for e in events:
        h.update(_canonical(seq=e.seq, at=e.at, actor=e.actor, action=e.action, meeting_id=e.meeting_id,
                            details=e.details).encode("utf-8") + b"\n")
    return h.hexdigest()


def _legacy_seal(secret_key: str, count: int, digest: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), f"journal-legacy:{count}:{digest}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def seal_legacy_journal(s: Session, secret_key: str, state: IntegrityState) -> int:
    """The journal written before the seals (positions given by migration 0007), sealed as one block;
    the chain of new events continues from that block's seal. Returns the events sealed."""
    n = state.legacy_events
    if not n:
        return 0
    legacy = s.scalars(select(AuditEvent).where(AuditEvent.seq <= n, AuditEvent.seal.is_(None))
                       .order_by(AuditEvent.seq)).all()
    seal = _legacy_seal(secret_key, n, _legacy_digest(legacy))
    state.legacy_seal = seal
    if state.journal_count == n:  # nothing appended since the upgrade: the chain starts at the block
        state.journal_head = seal
    return len(legacy)


def _where(e: AuditEvent) -> str:
    from services.figures import format_local

    return (f"запись журнала № {e.seq if e.seq is not None else '?'} ({format_local(e.at, seconds=True)}, "
            f"{ACTIONS.get(e.action, e.action)})")


def verify_journal(session_factory: sessionmaker[Session], *, secret_key: str) -> JournalReport:
    """Re-check the journal's chain: every event's seal, the links, the positions, the head. Reads only."""
    problems: list[str] = []
    with session_factory() as s:
        state = s.get(IntegrityState, 1)
        head, count = (state.journal_head, state.journal_count) if state else ("", 0)
        legacy_n = state.legacy_events if state else 0
        legacy_seal = state.legacy_seal if state else ""
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    legacy = [e for e in events if e.seal is None and e.seq is not None and e.seq <= legacy_n]
    prev, expected = "", 1
    if legacy_n:
        if not legacy_seal:
            problems.append(f"Записи журнала, сделанные до обновления ({legacy_n}), ещё не запечатаны: "
                            "запустите приложение с ключом экземпляра.")
        elif len(legacy) != legacy_n or [e.seq for e in legacy] != list(range(1, legacy_n + 1)) or \
                not hmac.compare_digest(_legacy_seal(secret_key, legacy_n, _legacy_digest(legacy)), legacy_seal):
            problems.append(f"Записи журнала, сделанные до обновления ({legacy_n}), изменены, удалены или "
                            "дополнены в базе данных.")
        prev, expected = legacy_seal, legacy_n + 1
    legacy_ids = {e.id for e in legacy}
    for e in events:
        if e.id in legacy_ids:
            continue
        if e.seal is None or e.seq is None:
            problems.append(f"{_where(e)}: без печати — добавлена в базе данных в обход программы.")
            continue
        if e.seq < expected:
            problems.append(f"{_where(e)}: номер повторяется — запись добавлена в базе данных.")
        elif e.seq > expected:
            problems.append(f"Перед записью журнала № {e.seq} удалено записей: {e.seq - expected}.")
        if e.prev_seal != prev and e.seq >= expected:
            problems.append(f"{_where(e)}: нарушена цепочка (предыдущая запись изменена, удалена или вставлена).")
        canonical = _canonical(seq=e.seq, at=e.at, actor=e.actor, action=e.action, meeting_id=e.meeting_id,
                               details=e.details)
        if not hmac.compare_digest(event_seal(secret_key, e.prev_seal, canonical), e.seal):
            problems.append(f"{_where(e)}: изменена в базе данных (время, сотрудник, действие, собрание или "
                            "подробности) или запечатана не этим ключом.")
        if e.seq >= expected:
            prev, expected = e.seal, e.seq + 1
    if count != expected - 1 or head != prev:
        problems.append(f"Последние записи журнала удалены или изменены (по заголовку записей {count}, "
                        f"найдено {expected - 1}).")
    return JournalReport(len(events), problems)


def describe_details(action: str, details: dict | None) -> str:
    """An event's details in words, for people: «сотрудник: anna, роль: наблюдатель, учётная запись
    активна: да»; counts as counts («1 234»), never a raw key, `None` or True."""
    from services.auth import ROLES
    from services.figures import format_count
    from services.voting import STATUSES

    def word(key: str, value) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "да" if value else "нет"
        if isinstance(value, int):
            return format_count(value)
        if key == "role":
            return ROLES.get(value, value).lower()
        if key == "status":
            return STATUSES.get(value, value)
        if key == "reason" and action == "login_failed":
            return LOGIN_FAILURES.get(value, value)
        return str(value)

    details = details or {}
    order = [k for k in DETAIL_LABELS if k in details] + sorted(k for k in details if k not in DETAIL_LABELS)
    labels = {**DETAIL_LABELS, "enabled": ENABLED_LABELS.get(action, DETAIL_LABELS["enabled"])}
    return ", ".join(f"{labels.get(k, k)}: {word(k, details[k])}" for k in order)


def audit_frame(session_factory: sessionmaker[Session], *, since: dt.date | None = None, until: dt.date | None = None,
                actor: str = "", actions: list[str] | None = None, meeting_id: int | None = None,
                limit: int = 10_000) -> pd.DataFrame:
    """The journal as people read it: times in the company's time zone, details in words; `since` and
    `until` are days of the company's calendar."""
    from services.figures import format_local, local_day_start

    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since:
        stmt = stmt.where(AuditEvent.at >= local_day_start(since))
    if until:
        stmt = stmt.where(AuditEvent.at < local_day_start(until + dt.timedelta(days=1)))
    if actor.strip():
        stmt = stmt.where(AuditEvent.actor == actor.strip().lower())
    if actions:
        stmt = stmt.where(AuditEvent.action.in_(actions))
    if meeting_id is not None:
        stmt = stmt.where(AuditEvent.meeting_id == meeting_id)
    with session_factory() as s:
        events = s.scalars(stmt).all()
    return pd.DataFrame([{
        "Время": format_local(e.at, seconds=True), "Сотрудник": e.actor, "Действие": ACTIONS.get(e.action, e.action),
        "Собрание": e.meeting_id, "Подробности": describe_details(e.action, e.details),
    } for e in events], columns=["Время", "Сотрудник", "Действие", "Собрание", "Подробности"]).astype(
        {"Собрание": "Int64"})  # a number, or none (a login): not 12.0 and NaN


def audit_xlsx(frame: pd.DataFrame) -> bytes:
    return xlsx_bytes([("Журнал действий", list(frame.columns),
                        [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)])])
