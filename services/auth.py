"""Staff accounts: argon2-hashed passwords, login with a growing lockout after failures, counted per
account and per client address before the password is checked."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.audit import record
from services.errors import AuthError, NotFound, ValidationError
from services.models import User, utcnow
from services.throttle import Bucket, Policy, bucket_key, locks, prune, release, reserve
from services.throttle import clear as clear_throttle
from services.web_sessions import IDLE_TIMEOUT, revoke_user  # noqa: F401 (IDLE_TIMEOUT: app.py reads it here)

ROLES = {"admin": "Администратор", "operator": "Оператор", "observer": "Наблюдатель"}
MIN_PASSWORD = 8
FREE_FAILURES = 5  # failures on one account before the lockout starts
MAX_LOCK = dt.timedelta(minutes=15)
ACCOUNT_POLICY = Policy(free=FREE_FAILURES, first_wait=dt.timedelta(seconds=30), max_wait=MAX_LOCK)
ADDRESS_FREE_FAILURES = 20  # failures from one client address (a whole office may share one)
ADDRESS_POLICY = Policy(free=ADDRESS_FREE_FAILURES, first_wait=dt.timedelta(seconds=30), max_wait=MAX_LOCK)
PRUNE_CHANCE = 0.01  # one login in a hundred drops counters quiet for a day

COMMON_PASSWORDS = {"password1", "password123", "qwerty123", "qwerty12", "1q2w3e4r", "1q2w3e4r5t", "abc12345",
                    "passw0rd", "admin123", "administrator1", "welcome1", "zaq12wsx", "йцукен123", "пароль123",
                    "iloveyou1", "letmein1", "kvorum123"}

_hasher = PasswordHasher()
# Verified against when the user does not exist, so the timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("kvorum-dummy-password")


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    full_name: str
    role: str


def _dto(user: User) -> StaffUser:
    return StaffUser(user.id, user.username, user.full_name, user.role)


def check_password_rules(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"Пароль должен быть не короче {MIN_PASSWORD} символов.")
    if password.isdigit():
        raise ValidationError("Пароль не должен состоять только из цифр.")
    if username and password.lower() == username.lower():
        raise ValidationError("Пароль не должен совпадать с именем пользователя.")
    if not any(c.isalpha() for c in password) or all(c.isalpha() for c in password):
        raise ValidationError("Пароль должен содержать буквы и хотя бы одну цифру или другой знак.")
    if password.lower() in COMMON_PASSWORDS:
        raise ValidationError("Этот пароль слишком распространён — придумайте другой.")


def has_users(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as s:
        return bool(s.scalar(select(func.count()).select_from(User)))


def create_user(
    session_factory: sessionmaker[Session], *, username: str, password: str, role: str = "admin", full_name: str = "",
    actor: str = "",
) -> StaffUser:
    # Stored folded: SQLite's lower() does not fold Cyrillic, so lookups compare folded values.
    username = username.strip().lower()
    if not username:
        raise ValidationError("Укажите имя пользователя.")
    if len(username) > 100 or any(c.isspace() for c in username):
        raise ValidationError("Имя пользователя — без пробелов, не длиннее 100 символов.")
    if role not in ROLES:
        raise ValidationError(f"Неизвестная роль «{role}». Возможные: {', '.join(ROLES)}.")
    check_password_rules(password, username)
    with session_factory.begin() as s:
        if s.scalar(select(User.id).where(User.username == username)):
            raise ValidationError(f"Пользователь «{username}» уже существует.")
        user = User(username=username, full_name=full_name.strip(), password_hash=_hasher.hash(password), role=role)
        s.add(user)
        s.flush()
        record(s, actor=actor or username, action="user_created", target_user=username, role=role)
        return _dto(user)


def create_first_admin(session_factory, *, username: str, password: str, full_name: str = "") -> StaffUser:
    """Only while there is no account at all: the set-up screen of a fresh installation."""
    if has_users(session_factory):
        raise AuthError("Администратор уже создан. Войдите со своим именем и паролем.")
    return create_user(session_factory, username=username, password=password, role="admin", full_name=full_name)


def lock_delay(failures: int) -> dt.timedelta:
    """The wait after the `failures`-th wrong password in a row on one account."""
    return ACCOUNT_POLICY.wait(failures)


def _user_key(user_id: int) -> str:
    return bucket_key("", "login", "user", str(user_id))


def _account_key(user: User | None, name: str, secret_key: str) -> str:
    # A name without an account has its own counter too (a row in `throttles`, no user is
    # created): known and unknown names lock alike, so the answer tells nothing about which exist.
    # Its digest is keyed, since a typed «name» may be somebody's password.
    return _user_key(user.id) if user is not None else bucket_key(secret_key, "login", "name", name)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session_factory, *, username: str, password: str, client_address: str | None = None,
                 secret_key: str = "", now: dt.datetime | None = None) -> StaffUser:
    """Log a staff member in, or raise AuthError with one message for every wrong name or password.

    The attempt is counted before the password is checked (services/throttle.py), in two buckets:
    the account (5 free, then 30 s doubling to 15 min) and the client address `client_address`
    (services/clientaddr.py; 20 free — an office shares one — then the same waits), so parallel
    tries cannot outrun the count and one address guessing many names is slowed as well.
    A right password clears its account's count; the address only gets this attempt back.
    `secret_key` (the instance key) keys the digests of unknown names and of addresses.
    """
    now = now or utcnow()
    name = username.strip().lower()
    with session_factory() as s:
        user = s.scalar(select(User).where(User.username == name)) if name else None
    account = _account_key(user, name, secret_key)
    buckets = [Bucket(account, ACCOUNT_POLICY)]
    if client_address:
        buckets.append(Bucket(bucket_key(secret_key, "login", "address", client_address), ADDRESS_POLICY))
    if random.random() < PRUNE_CHANCE:
        prune(session_factory, now=now, older_than=ACCOUNT_POLICY.forget_after)
    attempt = reserve(session_factory, buckets, now=now)
    if not attempt.allowed:
        raise AuthError(f"Слишком много неудачных попыток входа. Повторите через {attempt.wait_seconds} с.")
    active = user is not None and user.is_active
    # an unknown or disabled name costs the same hash check as a known one
    if _verify(user.password_hash if active else _DUMMY_HASH, password if active else password + "x"):
        with session_factory.begin() as s:
            user = s.get(User, user.id)
            if user is not None and user.is_active:
                user.last_login_at = now
                user.failed_logins, user.locked_until = 0, None
                if _hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = _hasher.hash(password)
                release(s, attempt, clear=(account,))
                record(s, actor=user.username, action="login")
                return _dto(user)
    # The journal names an existing account; a name without one is not written at all: it may be a
    # password typed into the wrong field.
    reason = "wrong password" if active else ("disabled" if user is not None else "unknown name")
    record(session_factory, actor=user.username if user is not None else "", action="login_failed", reason=reason,
           count=attempt.failures[account])
    raise AuthError("Неверное имя пользователя или пароль.")


def get_user(session_factory, user_id: int) -> StaffUser | None:
    with session_factory() as s:
        user = s.get(User, user_id)
        return _dto(user) if user and user.is_active else None


# ---------- administration of staff accounts ----------

@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    full_name: str
    role: str
    is_active: bool
    last_login_at: dt.datetime | None
    locked_until: dt.datetime | None


def list_users(session_factory) -> list[UserRow]:
    with session_factory() as s:
        users = s.scalars(select(User).order_by(User.username)).all()
        running = locks(s, [_user_key(u.id) for u in users], now=utcnow())
        return [UserRow(u.id, u.username, u.full_name, u.role, u.is_active, u.last_login_at,
                        running.get(_user_key(u.id))) for u in users]


def _admins_left(s, excluding: int) -> int:
    return s.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.is_active.is_(True), User.id != excluding)) or 0


def update_user(session_factory, *, admin: StaffUser, user_id: int, role: str, is_active: bool) -> None:
    """Change a colleague's role or switch the account off; the last active administrator stays."""
    if admin.role != "admin":
        raise AuthError("Только администратор управляет учётными записями.")
    if role not in ROLES:
        raise ValidationError(f"Неизвестная роль «{role}».")
    with session_factory.begin() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("Сотрудник не найден.")
        if (role != "admin" or not is_active) and user.role == "admin" and not _admins_left(s, user.id):
            raise ValidationError("Нельзя отключить или понизить последнего администратора.")
        user.role, user.is_active = role, is_active
        if not is_active:
            revoke_user(s, user.id)  # a disabled account's open browsers sign out at their next click
        record(s, actor=admin.username, action="user_changed", target_user=user.username, role=role,
               enabled=is_active)


def reset_password(session_factory, *, admin: StaffUser, user_id: int, new_password: str) -> None:
    """An administrator sets a new password for a colleague (and lifts a lockout)."""
    if admin.role != "admin":
        raise AuthError("Только администратор сбрасывает пароли.")
    with session_factory.begin() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("Сотрудник не найден.")
        check_password_rules(new_password, user.username)
        user.password_hash = _hasher.hash(new_password)
        user.failed_logins, user.locked_until = 0, None
        clear_throttle(s, _user_key(user.id))
        revoke_user(s, user.id)  # whoever knew the old password is signed out everywhere
        record(s, actor=admin.username, action="password_reset", target_user=user.username)


def can(user: StaffUser | None, permission: str) -> bool:
    """Roles: administrator — everything; operator — meetings, registry, sending, paper entry;
    observer — charts and results, with owners' contacts masked."""
    if user is None:
        return False
    allowed = {
        "admin": {"manage_users", "view_audit", "edit", "view_personal", "view"},
        "operator": {"edit", "view_personal", "view"},
        "observer": {"view"},
    }
    return permission in allowed.get(user.role, set())
