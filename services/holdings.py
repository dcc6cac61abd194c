"""Совместная собственность: joint holdings (ГК РФ ст. 244 ч. 2, ст. 253; ЖК РФ ст. 48 ч. 3).

The records of one premise with the same `joint_group` are one holding owned jointly, without
shares (spouses, as a rule). Each record carries the holding's share; the holding's votes count
once. Any one joint owner's decision speaks for the holding (ГК РФ ст. 253 ч. 2: the consent of
the others is presumed); a second joint owner's decision that agrees is kept and counts once, one
that differs is a conflict for the analyst to settle (`services.voting.settle_joint_conflict`).

A holding's place in the count — the slot that the database keeps unique per meeting
(`Decision.counted_slot`) — is the smallest id of its records; a record of its own is its own slot.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.models import OwnerRecord


def slot_of(s: Session, owner: OwnerRecord) -> int:
    """The counted slot of the holding the record belongs to."""
    if owner.joint_group is None:
        return owner.id
    return s.scalar(select(func.min(OwnerRecord.id)).where(
        OwnerRecord.premise_id == owner.premise_id, OwnerRecord.joint_group == owner.joint_group))


def member_ids(s: Session, owner: OwnerRecord) -> list[int]:
    """The records of the holding (the record alone when it is not joint)."""
    if owner.joint_group is None:
        return [owner.id]
    return sorted(s.scalars(select(OwnerRecord.id).where(
        OwnerRecord.premise_id == owner.premise_id, OwnerRecord.joint_group == owner.joint_group)))


def joint_slots(s: Session, meeting_id: int) -> dict[int, int]:
    """Owner id -> slot, for every record of a joint holding in the meeting (others are their own)."""
    rows = s.execute(select(OwnerRecord.id, OwnerRecord.premise_id, OwnerRecord.joint_group).where(
        OwnerRecord.meeting_id == meeting_id, OwnerRecord.joint_group.is_not(None))).all()
    first: dict[tuple[int, int], int] = {}
    for oid, premise_id, group in rows:
        key = (premise_id, group)
        first[key] = min(first.get(key, oid), oid)
    return {oid: first[(premise_id, group)] for oid, premise_id, group in rows}
