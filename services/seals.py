"""Печать реестра: keyed tags over the registry a meeting is counted on, and the instance key's
way to the services that seal.

Every premise carries two 8-byte keyed tags (its area; its number and kind), every owner record
three (its share; its holding: premise and joint group; its name and legal-entity mark), each bound
to the row's natural identity (meeting, premise number, owner name), so a value moved to another row
does not fit there. The meeting keeps `registry_seal`: the counts of premises and records and an
HMAC over all the tags (sorted), the building and its passport area. A change made in the database
behind the app therefore shows (which premise, which field), and so does a row removed or added.

Cost: a registry write seals only the rows it touches plus one pass over the tags' column for the
meeting's seal; the count (services/tally.py) reads none of it. The full check runs only when an
administrator asks for it (`verify-decisions`, «Проверить печати решений»).

The key: services take `secret_key=` where a caller has it; otherwise the session factory the
runtime builds carries it (`session.info["secret_key"]`, services/runtime.py), so pages and
manage.py pass nothing new. A write without a key (a test's bare session factory) leaves a
registry that was never sealed unsealed; the meeting's first decision seals it (the moment
voting starts), and from then on an unsealed registry is reported.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from services import owner_fields as f
from services.models import AREA_SCALE, Building, Meeting, OwnerRecord, Premise

log = logging.getLogger("kvorum.seals")

TAG = 8  # bytes of each keyed tag: 2^-64 to guess one
MAX_LISTED = 50  # problems listed per meeting and kind; the rest counted


def instance_key(s: Session, explicit: str | None = None) -> str | None:
    """The instance secret key: the caller's, or the one the runtime's session factory carries."""
    return explicit or s.info.get("secret_key")


def _subkey(secret_key: str) -> bytes:
    return hashlib.sha256(b"kvorum-registry-seal:" + secret_key.encode("utf-8")).digest()


def _tag(key: bytes, *parts) -> str:
    data = "\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8")
    return hashlib.blake2b(data, key=key, digest_size=TAG).hexdigest()


def _units(area) -> int:
    return int((Decimal(area) * AREA_SCALE).to_integral_value())  # as the Area column stores it


def premise_seal(key: bytes, *, meeting_id: int, number_key: str, number: str, kind: str, area) -> str:
    ident = ("premise", meeting_id, number_key)
    return _tag(key, *ident, "area", _units(area)) + _tag(key, *ident, "number", number, kind)


def owner_seal(key: bytes, *, meeting_id: int, premise_key: str, name_key: str, name: str, legal: bool,
               share_num: int, share_den: int, joint_group: int | None) -> str:
    ident = ("owner", meeting_id, premise_key, name_key)
    return (_tag(key, *ident, "share", share_num, share_den) + _tag(key, *ident, "holding", joint_group)
            + _tag(key, *ident, "name", name, bool(legal)))


def _registry_hmac(secret_key: str, *, meeting_id: int, building_id: int, passport_units: int | None,
                   premises: int, owners: int, digest: str) -> str:
    text = f"registry:{meeting_id}:{building_id}:{passport_units}:{premises}:{owners}:{digest}"
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _tags_digest(premise_tags: list[str], owner_tags: list[str]) -> str:
    h = hashlib.sha256()
    for tag in sorted(premise_tags):
        h.update(tag.encode("ascii") + b"\n")
    h.update(b"--\n")
    for tag in sorted(owner_tags):
        h.update(tag.encode("ascii") + b"\n")
    return h.hexdigest()


def _passport_units(s: Session, meeting_id: int) -> tuple[int, int | None]:
    building_id, passport = s.execute(select(Meeting.building_id, Building.passport_area)
                                      .join(Building, Meeting.building_id == Building.id)
                                      .where(Meeting.id == meeting_id)).one()
    return building_id, (_units(passport) if passport is not None else None)


def _rows(s: Session, meeting_id: int, premise_ids=None, owner_ids=None):
    p = select(Premise.id, Premise.number_key, Premise.number, Premise.kind, Premise.area, Premise.seal).where(
        Premise.meeting_id == meeting_id)
    o = (select(OwnerRecord.id, Premise.number_key, Premise.number, OwnerRecord.name_key, OwnerRecord.name,
                OwnerRecord.is_legal_entity, OwnerRecord.share_num, OwnerRecord.share_den, OwnerRecord.joint_group,
                OwnerRecord.seal)
         .join(Premise, OwnerRecord.premise_id == Premise.id).where(OwnerRecord.meeting_id == meeting_id))
    if premise_ids is not None:
        p = p.where(Premise.id.in_(premise_ids))
    if owner_ids is not None:
        o = o.where(OwnerRecord.id.in_(owner_ids))
    return s.execute(p).all(), s.execute(o).all()


def _premise_tag(key: bytes, meeting_id: int, r) -> str:
    return premise_seal(key, meeting_id=meeting_id, number_key=r.number_key, number=r.number, kind=r.kind,
                        area=r.area)


def _owner_tag(key: bytes, meeting_id: int, r) -> str:
    return owner_seal(key, meeting_id=meeting_id, premise_key=r.number_key, name_key=r.name_key, name=r.name,
                      legal=r.is_legal_entity, share_num=r.share_num, share_den=r.share_den,
                      joint_group=r.joint_group)


def lock_meeting(s: Session, meeting_id: int) -> None:
    """Take the meeting's row lock first: two registry writes of one meeting seal in turn, each on
    the registry as the other left it (SQLite: the write lock)."""
    s.execute(update(Meeting).where(Meeting.id == meeting_id).values(registry_seal=Meeting.registry_seal))


def seal_rows(s: Session, secret_key: str, meeting_id: int, *, premise_ids=None, owner_ids=None) -> None:
    """(Re)compute the tags of the given rows (all of the meeting's when None) as they are now."""
    key = _subkey(secret_key)
    premises, owners = _rows(s, meeting_id, premise_ids, owner_ids)
    conn = s.connection()
    p_table, o_table = Premise.__table__, OwnerRecord.__table__
    changed = [{"pid": r.id, "tag": t} for r in premises if (t := _premise_tag(key, meeting_id, r)) != r.seal]
    if changed:
        conn.execute(update(p_table).where(p_table.c.id == bindparam("pid")).values(seal=bindparam("tag")), changed)
    changed = [{"oid": r.id, "tag": t} for r in owners if (t := _owner_tag(key, meeting_id, r)) != r.seal]
    if changed:
        conn.execute(update(o_table).where(o_table.c.id == bindparam("oid")).values(seal=bindparam("tag")), changed)


def seal_registry(s: Session, secret_key: str, meeting_id: int) -> str:
    """The meeting's registry seal over the tags now stored (the caller sealed the rows it wrote)."""
    premise_tags = list(s.scalars(select(Premise.seal).where(Premise.meeting_id == meeting_id)))
    owner_tags = list(s.scalars(select(OwnerRecord.seal).where(OwnerRecord.meeting_id == meeting_id)))
    building_id, passport = _passport_units(s, meeting_id)
    digest = _tags_digest([t or "" for t in premise_tags], [t or "" for t in owner_tags])
    mac = _registry_hmac(secret_key, meeting_id=meeting_id, building_id=building_id, passport_units=passport,
                         premises=len(premise_tags), owners=len(owner_tags), digest=digest)
    value = f"{len(premise_tags)}:{len(owner_tags)}:{passport if passport is not None else '-'}:{mac}"
    s.execute(update(Meeting).where(Meeting.id == meeting_id).values(registry_seal=value))
    return value


def after_registry_write(s: Session, meeting_id: int, *, secret_key: str | None = None, premise_ids=None,
                         owner_ids=None) -> None:
    """Re-seal after a legitimate registry write, in its transaction: the rows it touched (all when
    None) and the meeting's seal. Without a key a never-sealed registry stays unsealed; a sealed
    one cannot be re-sealed and will be reported, which a runtime-built app never does."""
    key = instance_key(s, secret_key)
    sealed = s.scalar(select(Meeting.registry_seal).where(Meeting.id == meeting_id)) is not None
    if key is None:
        if sealed:
            log.warning("registry of meeting %s changed without the instance key: its seal is now stale", meeting_id)
        return
    if not sealed:  # a registry written without the key so far: all its rows are sealed now
        premise_ids = owner_ids = None
    seal_rows(s, key, meeting_id, premise_ids=premise_ids, owner_ids=owner_ids)
    seal_registry(s, key, meeting_id)


def seal_unsealed_registry(s: Session, secret_key: str, meeting_id: int) -> None:
    """The moment voting starts (the meeting's first decision): seal a registry written without
    the key. A registry already sealed is left as it is."""
    if s.scalar(select(Meeting.registry_seal).where(Meeting.id == meeting_id)) is None:
        seal_rows(s, secret_key, meeting_id)
        seal_registry(s, secret_key, meeting_id)


def reseal_building(s: Session, building_id: int, *, secret_key: str | None = None) -> None:
    """The passport area belongs to the building: every sealed meeting of it is re-sealed."""
    key = instance_key(s, secret_key)
    for mid, sealed in s.execute(select(Meeting.id, Meeting.registry_seal).where(Meeting.building_id == building_id)):
        if sealed is None:
            continue
        if key is None:
            log.warning("passport area of meeting %s changed without the instance key", mid)
            continue
        seal_registry(s, key, mid)


# ---------- the check ----------

def check_registry_seal(s: Session, secret_key: str, meeting_id: int, *, has_decisions: bool) -> list[str]:
    """What changed in the registry behind the app, in Russian; reads only."""
    sealed = s.scalar(select(Meeting.registry_seal).where(Meeting.id == meeting_id))
    where = f"Собрание № {meeting_id}"
    if sealed is None:
        if has_decisions:
            return [f"{where}: реестр собственников не запечатан (печать удалена в базе данных) — "
                    "площади и доли, по которым считаются голоса, проверить нельзя."]
        return []
    key = _subkey(secret_key)
    premises, owners = _rows(s, meeting_id)
    problems: list[str] = []
    changed_p, changed_o = [], []
    for r in premises:
        want = _premise_tag(key, meeting_id, r)
        if r.seal == want:
            continue
        if not r.seal or len(r.seal) != len(want):
            changed_p.append(f"{where}: помещение {r.number} добавлено в базе данных в обход программы "
                             f"(нет печати; площадь {f.format_area(r.area)}).")
            continue
        fields = []
        if not hmac.compare_digest(r.seal[:2 * TAG], want[:2 * TAG]):
            fields.append(f"площадь (сейчас {f.format_area(r.area)})")
        if not hmac.compare_digest(r.seal[2 * TAG:], want[2 * TAG:]):
            fields.append("номер или вид помещения")
        changed_p.append(f"{where}: помещение {r.number} — в базе данных изменено: {', '.join(fields)}.")
    for r in owners:
        want = _owner_tag(key, meeting_id, r)
        if r.seal == want:
            continue
        who = f"помещение {r.number}, собственник «{r.name}»"
        if not r.seal or len(r.seal) != len(want):
            changed_o.append(f"{where}: {who} — запись добавлена в базе данных в обход программы (нет печати).")
            continue
        parts = [r.seal[i:i + 2 * TAG] for i in range(0, 6 * TAG, 2 * TAG)]
        wants = [want[i:i + 2 * TAG] for i in range(0, 6 * TAG, 2 * TAG)]
        bad = [not hmac.compare_digest(a, b) for a, b in zip(parts, wants)]
        if all(bad):
            fields = ["запись перенесена в другое помещение или переименована"]
        else:
            fields = [label for label, b in zip(
                (f"доля (сейчас {f.format_share(Fraction(r.share_num, r.share_den))})",
                 "совместная собственность (группа)", "ФИО/наименование"), bad) if b]
        changed_o.append(f"{where}: {who} — в базе данных изменено: {', '.join(fields)}.")
    for items in (changed_p, changed_o):
        problems.extend(items[:MAX_LISTED])
        if len(items) > MAX_LISTED:
            problems.append(f"{where}: и ещё изменённых записей реестра: {len(items) - MAX_LISTED}.")
    try:
        n_p, n_o, passport_text, mac = sealed.split(":", 3)
        n_p, n_o = int(n_p), int(n_o)
    except ValueError:
        return problems + [f"{where}: печать реестра повреждена в базе данных."]
    building_id, passport = _passport_units(s, meeting_id)
    digest = _tags_digest([_premise_tag(key, meeting_id, r) for r in premises],
                          [_owner_tag(key, meeting_id, r) for r in owners])
    sealed_passport = None if passport_text == "-" else int(passport_text)
    want_with_sealed_counts = _registry_hmac(secret_key, meeting_id=meeting_id, building_id=building_id,
                                             passport_units=sealed_passport, premises=n_p, owners=n_o, digest=digest)
    if n_p != len(premises) or n_o != len(owners):
        problems.append(f"{where}: в запечатанном реестре помещений {n_p}, собственников {n_o}; сейчас "
                        f"{len(premises)} и {len(owners)} — записи удалены или добавлены в базе данных.")
    elif sealed_passport != passport:
        shown = f.format_area(Decimal(passport) / AREA_SCALE) if passport is not None else "не указана"
        problems.append(f"{where}: площадь по техническому паспорту изменена в базе данных (сейчас {shown}).")
    elif not hmac.compare_digest(mac, want_with_sealed_counts) and not problems:
        problems.append(f"{where}: печать реестра не соответствует реестру (записи заменены или дом изменён "
                        "в базе данных).")
    return problems


# ---------- data from before the seals (migration 0007) ----------

@dataclass
class UpgradeSealing:
    decisions: int
    meetings: int
    events: int


def seal_upgraded_data(session_factory: sessionmaker[Session], *, secret_key: str) -> UpgradeSealing | None:
    """On the first start with the key after migration 0007: seal what the database already held
    (the migration has no key). Runs once — the mark is cleared in the same transaction — and is
    journaled. Returns None when there was nothing to do."""
    from services.audit import record, seal_legacy_journal
    from services.models import IntegrityState
    from services.voting import seal_state_of_unsealed

    with session_factory.begin() as s:
        state = s.get(IntegrityState, 1, with_for_update=True)
        if state is None or not state.upgrade_pending:
            return None
        decisions = seal_state_of_unsealed(s, secret_key)
        meetings = 0
        for mid in s.scalars(select(Meeting.id).where(Meeting.registry_seal.is_(None)).order_by(Meeting.id)):
            seal_rows(s, secret_key, mid)
            seal_registry(s, secret_key, mid)
            meetings += 1
        events = seal_legacy_journal(s, secret_key, state)
        state.upgrade_pending = False
        s.flush()
        record(s, actor="kvorum", action="seals_established", count=decisions, premises=meetings, file_rows=events,
               secret_key=secret_key)
    log.info("sealed data from before the seals: %s decisions, %s meetings, %s journal events",
             decisions, meetings, events)
    return UpgradeSealing(decisions, meetings, events)
