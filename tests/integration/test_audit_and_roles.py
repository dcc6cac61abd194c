"""The audit trail is append-only and holds counts, not personal data; roles and account rules."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.audit import audit_frame, record
from services.auth import (
    AuthError,
    authenticate,
    can,
    create_user,
    list_users,
    reset_password,
    update_user,
)
from services.errors import ValidationError


def test_logins_and_failures_are_recorded(session_factory):
    create_user(session_factory, username="anna", password="secret123", role="admin")
    authenticate(session_factory, username="anna", password="secret123")
    with pytest.raises(AuthError):
        authenticate(session_factory, username="anna", password="wrong-pass")
    with pytest.raises(AuthError):
        authenticate(session_factory, username="nobody", password="wrong-pass")
    frame = audit_frame(session_factory)
    assert list(frame["Действие"])[:3] == ["Неудачный вход", "Неудачный вход", "Вход"]
    assert "wrong-pass" not in frame.to_string() and "secret123" not in frame.to_string()


def test_the_audit_log_cannot_be_changed_or_deleted(session_factory, engine):
    record(session_factory, actor="anna", action="export", meeting_id=1, what="реестр", count=48)
    for statement in ("UPDATE audit_events SET actor = 'eve'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    assert list(audit_frame(session_factory)["Сотрудник"]) == ["anna"]


def test_personal_data_cannot_be_put_into_the_log(session_factory):
    with pytest.raises(ValueError, match="may not hold"):
        record(session_factory, actor="anna", action="export", name="Иванов Иван", email="a@b.ru")


def test_an_administrator_resets_a_password_and_keeps_the_last_admin(session_factory):
    admin = create_user(session_factory, username="anna", password="secret123", role="admin")
    op = create_user(session_factory, username="oleg", password="secret456", role="operator", actor="anna")
    with pytest.raises(AuthError):
        reset_password(session_factory, admin=op, user_id=admin.id, new_password="another-1")
    reset_password(session_factory, admin=admin, user_id=op.id, new_password="another-1")
    assert authenticate(session_factory, username="oleg", password="another-1").role == "operator"
    with pytest.raises(ValidationError, match="последнего администратора"):
        update_user(session_factory, admin=admin, user_id=admin.id, role="observer", is_active=True)
    update_user(session_factory, admin=admin, user_id=op.id, role="observer", is_active=False)
    with pytest.raises(AuthError):
        authenticate(session_factory, username="oleg", password="another-1")
    assert {u.username: (u.role, u.is_active) for u in list_users(session_factory)}["oleg"] == ("observer", False)


@pytest.mark.parametrize("password", ["short1", "12345678901", "onlyletters", "qwerty123", "anna"])
def test_weak_passwords_are_refused(session_factory, password):
    with pytest.raises(ValidationError):
        create_user(session_factory, username="anna", password=password)


@pytest.mark.parametrize("role, permission, allowed", [
    ("admin", "manage_users", True), ("operator", "manage_users", False), ("operator", "edit", True),
    ("observer", "edit", False), ("observer", "view_personal", False), ("observer", "view", True),
])
def test_roles_grant_what_they_say(role, permission, allowed):
    from services.auth import StaffUser

    assert can(StaffUser(1, "u", "", role), permission) is allowed
