"""Attempt counters against guessing secrets: staff passwords and owners' access codes.

Every attempt is counted BEFORE its secret is checked, in one transaction that also decides
whether the attempt may go on: an upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, SQLite ≥ 3.35
and PostgreSQL alike) adds one to each bucket of the attempt and returns the bucket's count and
lock; when no bucket is locked, the lock this attempt would earn if it failed is written before
the commit. The bucket's row stays locked until then (PostgreSQL's row lock, SQLite's write
lock), so of N parallel attempts on one bucket exactly `free` get through, and the others see the
lock — also with several app instances on one database. Checking the secret comes after the
commit; a right secret then takes its own attempt back (`release`), a wrong one has been paid for.

A refused attempt is counted too (`refused`), so failures + refused say how many tries were made;
the lock is set only by an attempt that was let through, so hammering a locked bucket cannot
extend the lock beyond the policy's longest wait.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from services.models import Throttle

_T = Throttle.__table__


@dataclass(frozen=True)
class Policy:
    """How a bucket slows guessing: `free` attempts in a row, then a wait that doubles from
    `first_wait` up to `max_wait`. A bucket quiet for `forget_after` starts again from zero.
    `locks=False` makes a rate bucket: never refused, it only reports being over `free`."""

    free: int
    first_wait: dt.timedelta = dt.timedelta(seconds=1)
    max_wait: dt.timedelta = dt.timedelta(minutes=5)
    forget_after: dt.timedelta = dt.timedelta(days=1)
    locks: bool = True

    def __post_init__(self):
        # a forgotten counter must never drop a lock that is still running
        assert self.forget_after > self.max_wait

    def wait(self, failures: int) -> dt.timedelta:
        """The lock earned by the `failures`-th attempt in a row that fails."""
        if not self.locks or failures < self.free:
            return dt.timedelta(0)
        return min(self.first_wait * 2 ** min(failures - self.free, 30), self.max_wait)


@dataclass(frozen=True)
class Bucket:
    key: str  # a digest (see `bucket_key`)
    policy: Policy


@dataclass
class Attempt:
    """The outcome of `reserve`: whether the secret may be checked now, the counts after this attempt,
    and the locks it set (taken back by `release` when the secret was right)."""

    allowed: bool
    now: dt.datetime
    failures: dict[str, int] = field(default_factory=dict)
    locks_set: dict[str, dt.datetime] = field(default_factory=dict)
    locked_until: dt.datetime | None = None  # when refused: the latest lock among the buckets
    over_rate: bool = False  # a rate bucket (locks=False) is past its `free` count
    order: list[str] = field(default_factory=list)  # the order rows were locked in: `release` keeps it

    @property
    def wait_seconds(self) -> int:
        if self.locked_until is None:
            return 0
        return int((self.locked_until - self.now).total_seconds()) + 1


def bucket_key(secret: str, *parts: str) -> str:
    """A keyed digest: the table never holds a typed username (it may be a password typed into the
    wrong field) nor a client address, and without the instance key the digest cannot be tested
    against guesses."""
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()[:40]


def _touch(s: Session, key: str, policy: Policy, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Create or lock the bucket's row (and forget a counter quiet for too long); its count and lock."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(_T).values(key=key, failures=0, refused=0, locked_until=None, last_failure_at=now)
    forgotten = _T.c.last_failure_at < now - policy.forget_after
    stmt = stmt.on_conflict_do_update(index_elements=[_T.c.key], set_={
        "failures": case((forgotten, 0), else_=_T.c.failures),
        "refused": case((forgotten, 0), else_=_T.c.refused),
        "last_failure_at": now,
    }).returning(_T.c.failures, _T.c.locked_until)
    failures, locked_until = s.execute(stmt).one()
    return failures, locked_until


def reserve(session_factory: sessionmaker[Session], buckets: list[Bucket], *, now: dt.datetime) -> Attempt:
    """Count one attempt in every bucket and decide, in the same committed transaction, whether it
    may be checked. Locking buckets are taken first, then — only for an attempt that goes on —
    the rate buckets; each group in key order, so concurrent transactions take row locks in one
    order and never deadlock. A let-through attempt adds to `failures` (the lock schedule), a
    refused one to `refused` only: honest visitors refused while others' checks were in flight
    do not make the next lock longer."""
    locking = sorted((b for b in buckets if b.policy.locks), key=lambda b: b.key)
    rate = sorted((b for b in buckets if not b.policy.locks), key=lambda b: b.key)
    attempt = Attempt(allowed=True, now=now, order=[b.key for b in locking + rate])
    with session_factory.begin() as s:
        counts, locks = {}, []
        for b in locking:
            counts[b.key], until = _touch(s, b.key, b.policy, now)
            if until is not None and until > now:
                locks.append(until)
        if locks:
            attempt.allowed, attempt.locked_until = False, max(locks)
            s.execute(update(Throttle).where(Throttle.key.in_(list(counts))).values(refused=Throttle.refused + 1))
            attempt.failures = counts
            return attempt
        for b in locking:
            failures = attempt.failures[b.key] = counts[b.key] + 1
            wait = b.policy.wait(failures)
            values = {"failures": failures}
            if wait:
                values["locked_until"] = attempt.locks_set[b.key] = now + wait
            s.execute(update(Throttle).where(Throttle.key == b.key).values(**values))
        for b in rate:
            counted, _until = _touch(s, b.key, b.policy, now)
            attempt.failures[b.key] = counted + 1
            s.execute(update(Throttle).where(Throttle.key == b.key).values(failures=counted + 1))
            attempt.over_rate |= attempt.failures[b.key] > b.policy.free
    return attempt


def release(s: Session, attempt: Attempt, *, clear: tuple[str, ...] = ()) -> None:
    """The secret was right: take this attempt back from each bucket — the failures before it stay,
    so entering one's own right code does not wipe a guesser's count — and lift the lock this
    attempt set, unless a failure since has set another. Buckets in `clear` start from zero (the
    account whose password was given)."""
    for key in (k for k in attempt.order if k in attempt.failures):  # reserve's order: no deadlock
        if key in clear:
            s.execute(update(Throttle).where(Throttle.key == key).values(failures=0, refused=0, locked_until=None))
            continue
        ours = attempt.locks_set.get(key)
        values = {"failures": case((Throttle.failures > 0, Throttle.failures - 1), else_=0)}
        if ours is not None:
            values["locked_until"] = case((Throttle.locked_until == ours, None), else_=Throttle.locked_until)
        s.execute(update(Throttle).where(Throttle.key == key).values(**values))


def clear(s: Session, key: str) -> None:
    """An administrator lifts a lock (a new password was set)."""
    s.execute(update(Throttle).where(Throttle.key == key).values(failures=0, refused=0, locked_until=None))


def locks(s: Session, keys: list[str], *, now: dt.datetime) -> dict[str, dt.datetime]:
    """The running locks of these buckets."""
    rows = s.execute(select(Throttle.key, Throttle.locked_until).where(
        Throttle.key.in_(keys), Throttle.locked_until > now))
    return {key: until for key, until in rows}


def prune(session_factory: sessionmaker[Session], *, now: dt.datetime, older_than: dt.timedelta) -> int:
    """Drop buckets quiet for longer than any policy remembers (a row per unknown username or per
    minute of the code page must not pile up)."""
    with session_factory.begin() as s:
        return s.execute(delete(Throttle).where(Throttle.last_failure_at < now - older_than)).rowcount or 0
