"""Журнал действий: who did what, when, to which meeting — counts, not personal data.

The table is append-only: the migration installs triggers that refuse UPDATE and DELETE on
SQLite and PostgreSQL alike, so not even a bug in Kvorum can rewrite history.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.exports import xlsx_bytes
from services.models import AuditEvent, utcnow

ACTIONS = {
    "login": "Вход", "login_failed": "Неудачный вход", "logout": "Выход", "session_expired": "Сеанс истёк",
    "user_created": "Создан сотрудник", "user_changed": "Изменён сотрудник", "password_reset": "Сброшен пароль",
    "meeting_created": "Создано собрание", "meeting_updated": "Изменено собрание",
    "registry_imported": "Импорт реестра", "registry_edited": "Изменение реестра",
    "registry_cleared": "Удалены все собственники",
    "notices_queued": "Отправка уведомлений", "notices_printed": "Печать уведомлений с кодами",
    "paper_delivery": "Отметка вручения", "notice_settings": "Решение ОСС / ГИС ЖКХ",
    "decision_registered": "Внесено письменное решение", "decisions_imported": "Загрузка решений",
    "electronic_setting": "Решения, подписанные кодом", "protocol_saved": "Данные протокола",
    "joint_conflict_settled": "Выбрано решение совместного собственника",
    "export": "Выгрузка персональных данных", "backup": "Резервная копия", "restore": "Восстановление",
}
# Keys that may go into `details`: numbers and short labels, never names, addresses or codes.
ALLOWED_DETAILS = {"count", "owners", "premises", "rejected", "queued", "skipped", "edited", "added", "deleted",
                   "what", "mode", "status", "enabled", "role", "reason", "target_user", "file_rows", "late",
                   "decision", "set_aside"}


def record(target: Session | sessionmaker[Session], *, actor: str, action: str, meeting_id: int | None = None,
           **details) -> None:
    """Append one event; in the caller's transaction when given a Session."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    unknown = set(details) - ALLOWED_DETAILS
    if unknown:
        raise ValueError(f"audit details may not hold {sorted(unknown)}")
    clean = {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v)[:100]) for k, v in details.items()}
    event = AuditEvent(at=utcnow(), actor=(actor or "—")[:100], action=action, meeting_id=meeting_id, details=clean)
    if isinstance(target, Session):
        target.add(event)
        return
    with target.begin() as s:
        s.add(event)


def audit_frame(session_factory: sessionmaker[Session], *, since: dt.date | None = None, until: dt.date | None = None,
                actor: str = "", actions: list[str] | None = None, meeting_id: int | None = None,
                limit: int = 10_000) -> pd.DataFrame:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since:
        stmt = stmt.where(AuditEvent.at >= dt.datetime.combine(since, dt.time()))
    if until:
        stmt = stmt.where(AuditEvent.at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time()))
    if actor.strip():
        stmt = stmt.where(AuditEvent.actor == actor.strip().lower())
    if actions:
        stmt = stmt.where(AuditEvent.action.in_(actions))
    if meeting_id is not None:
        stmt = stmt.where(AuditEvent.meeting_id == meeting_id)
    with session_factory() as s:
        events = s.scalars(stmt).all()
    return pd.DataFrame([{
        "Время (UTC)": e.at, "Сотрудник": e.actor, "Действие": ACTIONS.get(e.action, e.action),
        "Собрание": e.meeting_id, "Подробности": ", ".join(f"{k}: {v}" for k, v in sorted((e.details or {}).items())),
    } for e in events], columns=["Время (UTC)", "Сотрудник", "Действие", "Собрание", "Подробности"])


def audit_xlsx(frame: pd.DataFrame) -> bytes:
    return xlsx_bytes([("Журнал действий", list(frame.columns),
                        [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)])])
