"""Scanned paper decisions from upload to count (issue 17): a batch is read (services/scan_reader),
its pages stored with their images; pages the reader is sure of are accepted, the others wait in the
review queue for the analyst to confirm or correct; confirmed sheets become paper decisions through
the same service as hand entry (sealed with the images' SHA-256, journaled, counted), with the
receipt date asked once for the batch. Nothing is registered before that.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.errors import DomainError, NotFound, ValidationError
from services.models import Meeting, OwnerRecord, ScanBatch, ScanPage, utcnow
from services.scan_reader import FileError, PageRead, owner_sheets, read_files

# what the analyst's review may set a question to, and what hand entry calls it
ANSWERS = ("for", "against", "abstain", "blank", "invalid")
TO_MARK = {"for": "for", "against": "against", "abstain": "abstain", "blank": "none", "invalid": "several"}
ANSWER_RU = {"for": "За", "against": "Против", "abstain": "Воздержался", "blank": "Нет отметки",
             "invalid": "Несколько отметок"}
STATUS_RU = {"accepted": "принято автоматически", "review": "на проверке", "manual": "внести вручную",
             "error": "не прочитано", "confirmed": "проверено", "registered": "внесено", "dismissed": "отложено"}
OPEN = ("review", "manual", "error")  # pages that wait for a person
READY = ("accepted", "confirmed")
STORE_EVERY = 20  # pages stored per transaction while reading: an interrupted read keeps what it read


def default_workers() -> int:
    """Processes a reading may take: all cores but one, at least one (the server keeps answering)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ReadReport:
    batch_id: int | None
    pages: int = 0
    accepted: int = 0
    review: int = 0  # review + manual + error pages
    skipped: int = 0  # pages of these files stored by an earlier reading: not read again
    file_errors: list[str] = field(default_factory=list)
    items: list[PageRead | FileError] = field(default_factory=list)


def read_scans(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int,
               files: list[tuple[str, str]], user: str, dry_run: bool = False, workers: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> ReadReport:
    """Reads the files ((path, name shown)) and, unless `dry_run`, stores a batch of their pages.
    Pages are stored as they come, every STORE_EVERY in one transaction; the batch ends «read»."""
    from services.audit import record

    with session_factory() as s:
        if s.get(Meeting, meeting_id) is None:
            raise NotFound("Собрание не найдено.")
    owners = owner_sheets(session_factory, meeting_id=meeting_id)
    report = ReadReport(None)
    batch_id = None
    if not dry_run:
        with session_factory.begin() as s:
            batch = ScanBatch(meeting_id=meeting_id, created_by=user, status="reading",
                              files=json.dumps([{"name": n} for _p, n in files], ensure_ascii=False),
                              pages_total=0, pages_done=0, error="")
            s.add(batch)
            s.flush()
            batch_id = report.batch_id = batch.id
    pending: list[PageRead | FileError] = []
    digests = {name: _file_digest(path) for path, name in files}
    with session_factory() as s:  # a file read before (an interrupted read, a second upload): its new pages only
        done: dict[str, set[int]] = defaultdict(set)
        for digest, page in s.execute(select(ScanPage.file_sha256, ScanPage.file_page).where(
                ScanPage.meeting_id == meeting_id, ScanPage.file_sha256.in_(set(digests.values())),
                ScanPage.status != "error")):
            done[digest].add(page)
    skip = {name: done[d] for name, d in digests.items() if done.get(d)}
    report.skipped = sum(len(v) for v in skip.values())

    def flush() -> None:
        if dry_run or not pending:
            pending.clear()
            return
        with session_factory.begin() as s:
            for item in pending:
                s.add(_page_row(item, batch_id=batch_id, meeting_id=meeting_id))
            s.execute(update(ScanBatch).where(ScanBatch.id == batch_id)
                      .values(pages_done=ScanBatch.pages_done + sum(1 for i in pending if i.page is not None),
                              updated_at=utcnow()))
        for item in pending:  # stored: the report keeps what was read, not the images
            if isinstance(item, PageRead):
                item.image = b""
        pending.clear()

    announced = False

    def on_progress(done: int, total: int) -> None:
        nonlocal announced
        if not announced and batch_id is not None:  # how many pages there are, for any session to see
            announced = True
            with session_factory.begin() as s:
                s.execute(update(ScanBatch).where(ScanBatch.id == batch_id)
                          .values(pages_total=total, updated_at=utcnow()))
        if progress:
            progress(done, total)

    try:
        for item in read_files(files, secret_key=secret_key, meeting_id=meeting_id, owners=owners,
                               workers=default_workers() if workers is None else workers, keep_image=not dry_run,
                               progress=on_progress, skip=skip):
            report.items.append(item)
            if isinstance(item, FileError):
                report.file_errors.append(item.message)
                if item.page is None:
                    continue
                report.review += 1
            else:
                report.accepted += item.status == "accepted"
                report.review += item.status != "accepted"
            report.pages += 1
            if not dry_run:
                item.file_sha256 = digests.get(item.file, "")  # type: ignore[union-attr]
                pending.append(item)
                if len(pending) >= STORE_EVERY:
                    flush()
        flush()
    except BaseException as exc:
        if batch_id is not None:
            with session_factory.begin() as s:
                s.execute(update(ScanBatch).where(ScanBatch.id == batch_id)
                          .values(status="failed", error=str(exc)[:500] or type(exc).__name__, updated_at=utcnow()))
        raise
    if batch_id is not None:
        with session_factory.begin() as s:
            s.execute(update(ScanBatch).where(ScanBatch.id == batch_id)
                      .values(status="read", pages_total=report.pages, updated_at=utcnow()))
            record(s, actor=user, action="scans_read", meeting_id=meeting_id, batch=batch_id, pages=report.pages,
                   review=report.review, secret_key=secret_key)
    return report


def _page_row(item: PageRead | FileError, *, batch_id: int, meeting_id: int) -> ScanPage:
    if isinstance(item, FileError):
        return ScanPage(batch_id=batch_id, meeting_id=meeting_id, file_name=item.file[:300], file_page=item.page or 0,
                        status="error", reasons=json.dumps([item.message], ensure_ascii=False), answers="{}",
                        doubtful="[]", measures="[]", homography="", image=b"",
                        image_sha256=hashlib.sha256(b"").hexdigest(), reviewed_by="",
                        file_sha256=getattr(item, "file_sha256", ""))
    return ScanPage(batch_id=batch_id, meeting_id=meeting_id, file_name=item.file[:300], file_page=item.page,
                    status=item.status, reasons=json.dumps(item.reasons, ensure_ascii=False),
                    owner_id=item.owner_id if item.meeting_id == meeting_id and item.status != "manual" else None,
                    sheet=item.sheet, sheets=item.sheets,
                    answers=json.dumps({str(k): v for k, v in item.answers.items()}),
                    doubtful=json.dumps(item.doubtful),
                    measures=json.dumps([[m.question, m.option, m.inner, m.ring, m.state] for m in item.measures]),
                    signed=item.signed, homography=json.dumps(item.homography) if item.homography else "",
                    image=item.image, image_sha256=hashlib.sha256(item.image).hexdigest(), reviewed_by="",
                    file_sha256=getattr(item, "file_sha256", ""))


# ---------- the queue ----------

@dataclass
class QueuePage:
    id: int
    batch_id: int
    file_name: str
    file_page: int
    status: str
    reasons: list[str]
    owner_id: int | None
    owner: str
    premise: str
    sheet: int | None
    sheets: int | None
    answers: dict[int, str]
    doubtful: list[tuple[int, str]]
    signed: bool | None

    @property
    def status_ru(self) -> str:
        return STATUS_RU.get(self.status, self.status)

    @property
    def label(self) -> str:
        where = f"{self.file_name}, стр. {self.file_page}"
        if self.owner_id is None:
            return where
        return f"пом. {self.premise}, {self.owner} — лист {self.sheet} из {self.sheets} ({where})"


def _queue_page(p: ScanPage, owner: OwnerRecord | None, premise: str) -> QueuePage:
    return QueuePage(p.id, p.batch_id, p.file_name, p.file_page, p.status, json.loads(p.reasons or "[]"),
                     p.owner_id, owner.name if owner else "", premise, p.sheet, p.sheets,
                     {int(k): v for k, v in json.loads(p.answers or "{}").items()},
                     [tuple(d) for d in json.loads(p.doubtful or "[]")], p.signed)


def batch_pages(session_factory: sessionmaker[Session], *, meeting_id: int, batch_id: int | None = None,
                statuses: tuple[str, ...] | None = None) -> list[QueuePage]:
    """The batch's (or the meeting's) pages, by file and page; without images."""
    from services.models import Premise

    with session_factory() as s:
        stmt = (select(ScanPage, OwnerRecord, Premise.number)
                .outerjoin(OwnerRecord, OwnerRecord.id == ScanPage.owner_id)
                .outerjoin(Premise, Premise.id == OwnerRecord.premise_id)
                .where(ScanPage.meeting_id == meeting_id).order_by(ScanPage.batch_id, ScanPage.id))
        if batch_id is not None:
            stmt = stmt.where(ScanPage.batch_id == batch_id)
        if statuses:
            stmt = stmt.where(ScanPage.status.in_(statuses))
        return [_queue_page(p, o, n or "") for p, o, n in s.execute(stmt)]


STALE = dt.timedelta(minutes=10)  # a reading that stored nothing for this long was cut short (a restart)


@dataclass
class BatchSummary:
    id: int
    created_at: dt.datetime
    created_by: str
    status: str  # reading | read | failed | interrupted
    pages: int
    counts: dict[str, int]
    pages_total: int = 0

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(k, 0) for k in OPEN)

    @property
    def ready(self) -> int:
        return sum(self.counts.get(k, 0) for k in READY)


def batches(session_factory: sessionmaker[Session], *, meeting_id: int) -> list[BatchSummary]:
    with session_factory() as s:
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        for batch_id, status, n in s.execute(select(ScanPage.batch_id, ScanPage.status, func.count())
                                             .where(ScanPage.meeting_id == meeting_id)
                                             .group_by(ScanPage.batch_id, ScanPage.status)):
            counts[batch_id][status] = n
        now = utcnow()
        return [BatchSummary(b.id, b.created_at, b.created_by,
                             "interrupted" if b.status == "reading" and now - (b.updated_at or b.created_at) > STALE
                             else b.status, sum(counts[b.id].values()), counts[b.id], b.pages_total)
                for b in s.scalars(select(ScanBatch).where(ScanBatch.meeting_id == meeting_id)
                                   .order_by(ScanBatch.id.desc()))]


@dataclass
class PageImage:
    image: bytes
    homography: list | None
    boxes: dict  # (question number, option) -> (x, y, w, h) mm; (0, "signature") too


def page_image(session_factory: sessionmaker[Session], *, meeting_id: int, page_id: int) -> PageImage:
    """The stored image of a page, how it lies on the sheet, and where its boxes are."""
    with session_factory() as s:
        p = s.get(ScanPage, page_id)
        if p is None or p.meeting_id != meeting_id:
            raise NotFound("Страница скана не найдена.")
        homography = json.loads(p.homography) if p.homography else None
        boxes = {}
        if p.owner_id is not None and p.sheet:
            from services.ballot_sheet import sheet_pages

            pages = sheet_pages(s, meeting_id, p.owner_id)
            if pages and len(pages) >= p.sheet:
                layout = pages[p.sheet - 1]
                for q in layout.questions:
                    for option, b in q.boxes.items():
                        boxes[(q.number, option)] = (b.x, b.y, b.w, b.h)
                for b in layout.signatures:
                    boxes.setdefault((0, "signature"), (b.x, b.y, b.w, b.h))
        return PageImage(p.image, homography, boxes)


def confirm_page(session_factory: sessionmaker[Session], *, meeting_id: int, page_id: int, answers: dict,
                 signed: bool, user: str) -> None:
    """The analyst's check of a page: every question of the page given (as read or corrected)."""
    from services.audit import record

    with session_factory.begin() as s:
        p = s.get(ScanPage, page_id, with_for_update=True)
        if p is None or p.meeting_id != meeting_id:
            raise NotFound("Страница скана не найдена.")
        if p.status in ("registered",):
            raise ValidationError("Решение с этой страницы уже внесено: изменить его можно на странице решений "
                                  "(«Исправить или аннулировать решение»).")
        if p.owner_id is None:
            raise ValidationError("На странице нет кода бланка Kvorum: внесите решение вручную по изображению.")
        read = {int(k) for k in json.loads(p.answers or "{}")}
        given = {int(k): v for k, v in answers.items()}
        missing = sorted(read - {k for k, v in given.items() if v in ANSWERS})
        if missing:
            raise ValidationError(f"Не выбрана отметка по вопросам: {', '.join(map(str, missing))}.")
        if set(given) - read:
            raise ValidationError("Ответ дан на вопрос, которого нет на этой странице.")
        p.answers = json.dumps({str(k): given[k] for k in sorted(read)})
        p.signed = bool(signed) if p.signed is not None else None
        p.status, p.reviewed_by, p.reviewed_at = "confirmed", user, utcnow()
        p.doubtful = "[]"
        record(s, actor=user, action="scan_reviewed", meeting_id=meeting_id, batch=p.batch_id, what=p.file_name,
               number=p.file_page, status="confirmed")


def dismiss_page(session_factory: sessionmaker[Session], *, meeting_id: int, page_id: int, user: str) -> None:
    """Sets a page aside (entered by hand, a duplicate, not a decision): it is never registered."""
    from services.audit import record

    with session_factory.begin() as s:
        p = s.get(ScanPage, page_id, with_for_update=True)
        if p is None or p.meeting_id != meeting_id:
            raise NotFound("Страница скана не найдена.")
        if p.status == "registered":
            raise ValidationError("Решение с этой страницы уже внесено.")
        p.status, p.reviewed_by, p.reviewed_at = "dismissed", user, utcnow()
        record(s, actor=user, action="scan_reviewed", meeting_id=meeting_id, batch=p.batch_id, what=p.file_name,
               number=p.file_page, status="dismissed")


# ---------- registering ----------

@dataclass
class RegisterReport:
    registered: int = 0
    counted: int = 0
    conflicts: int = 0
    late: int = 0
    waiting: list[str] = field(default_factory=list)  # sheets not registered, and why


def register_batch(session_factory: sessionmaker[Session], *, secret_key: str, meeting_id: int, batch_id: int,
                   received_on: dt.date, user: str, today: dt.date | None = None) -> RegisterReport:
    """Registers every owner sheet of the batch whose pages are all accepted or confirmed and
    signed: one paper decision each, sealed with the pages' SHA-256; the pages are marked
    «registered» in the decision's own transaction, so a repeated click registers nothing twice."""
    from services.audit import record
    from services.voting import question_numbers, register_paper_decision

    report = RegisterReport()
    if received_on > (today or dt.date.today()):
        raise ValidationError("Дата получения решений не может быть позже сегодняшней.")
    with session_factory() as s:
        if s.get(ScanBatch, batch_id) is None or s.get(ScanBatch, batch_id).meeting_id != meeting_id:
            raise NotFound("Пакет сканов не найден.")
        numbers = {n: q for q, n in question_numbers(s, meeting_id).items()}  # number -> question id
        pages = s.scalars(select(ScanPage).where(ScanPage.batch_id == batch_id, ScanPage.owner_id.is_not(None),
                                                 ScanPage.status.in_(READY + OPEN))
                          .order_by(ScanPage.owner_id, ScanPage.sheet, ScanPage.id)).all()
        by_owner: dict[int, list[ScanPage]] = defaultdict(list)
        for p in pages:
            by_owner[p.owner_id].append(p)
        owners = {o.id: o for o in s.scalars(select(OwnerRecord).where(OwnerRecord.id.in_(by_owner)))}
        plans, names = [], {}
        for owner_id, group in by_owner.items():
            owner = owners[owner_id]
            who = f"{owner.name}"
            if any(p.status in OPEN for p in group):
                report.waiting.append(f"{who}: лист ждёт проверки.")
                continue
            sheets = {p.sheet: p for p in group}
            total = group[0].sheets or 1
            if len(group) != len(sheets):
                report.waiting.append(f"{who}: один лист отсканирован дважды — отложите лишний.")
                continue
            missing = [str(n) for n in range(1, total + 1) if n not in sheets]
            if missing:
                report.waiting.append(f"{who}: нет листа {', '.join(missing)} из {total}.")
                continue
            last = sheets[total]
            if not last.signed:
                report.waiting.append(f"{who}: нет подписи — решение без подписи не учитывается (ЖК РФ ст. 48 ч. 5.1; Приказ Минстроя № 266/пр).")
                continue
            marks = {}
            for p in group:
                for number, answer in json.loads(p.answers or "{}").items():
                    marks[numbers[int(number)]] = TO_MARK[answer]
            if set(marks) != set(numbers.values()):
                report.waiting.append(f"{who}: на листах не все вопросы повестки — бланк другой редакции.")
                continue
            source = "скан: " + "; ".join(f"{p.file_name}, стр. {p.file_page}" for p in group)
            names[owner_id] = who
            plans.append((owner_id, marks, [p.id for p in group],
                          [{"sheet": p.sheet, "sha256": p.image_sha256} for p in group], source[:200]))

    for owner_id, marks, page_ids, scans, source in plans:
        def mark_pages(s: Session, stored, page_ids=page_ids) -> None:
            done = s.execute(update(ScanPage).where(ScanPage.id.in_(page_ids), ScanPage.status.in_(READY))
                             .values(status="registered", decision_id=stored.id))
            if done.rowcount != len(page_ids):  # another click registered them meanwhile: undo this one
                raise _AlreadyRegistered()
        try:
            stored = register_paper_decision(session_factory, secret_key=secret_key, meeting_id=meeting_id,
                                             owner_id=owner_id, received_on=received_on, answers=marks, user=user,
                                             source=source, today=today, scans=scans, then=mark_pages)
        except _AlreadyRegistered:
            continue
        except DomainError as exc:  # e.g. the count closed meanwhile: this one waits, the report tells why
            report.waiting.append(f"{names[owner_id]}: {exc.message}")
            continue
        report.registered += 1
        report.counted += stored.status == "counted"
        report.conflicts += stored.status in ("conflict", "joint_conflict")
        report.late += stored.status == "late"
    if report.registered:
        record(session_factory, actor=user, action="scans_registered", meeting_id=meeting_id, batch=batch_id,
               count=report.registered, late=report.late, secret_key=secret_key)
    return report


class _AlreadyRegistered(Exception):
    pass
