"""Сообщение об итогах общего собрания: the decisions and the results of the voting made known to
the owners within 10 days after the decisions, in the place the owners chose (ЖК РФ ст. 46 ч. 3;
DOMAIN.md rule 12).

It exists once the count is closed (the figures are fixed): a text to post on the notice boards
(`results_notice_docx`) and an e-mail to every owner with an address, queued as deliveries of
purpose «results» and sent by the same durable sender as the meeting's notices
(services/sender.py), without a personal code. These deliveries are no proof of the meeting's
notice: the notice's counts, statuses and the delivery register leave them out.
"""
from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services import owner_fields as f
from services.closing import results_notice_due
from services.errors import NotFound, ValidationError
from services.exports import xml_text
from services.figures import format_percent, format_votes
from services.law import MAJORITY_KINDS
from services.models import Delivery, Meeting, OwnerRecord
from services.notice import RenderedNotice, header_safe
from services.results import resolution
from services.tally import recount

PURPOSE = "results"
# ЖК РФ ст. 46 ч. 3: not later than 10 days after the decisions were taken
TITLE = "Сообщение об итогах общего собрания собственников помещений"
COUNT_OPEN = "Сообщение об итогах формируется после закрытия подсчёта."
ANSWERS = (("for", "«за»"), ("against", "«против»"), ("abstain", "«воздержались»"))
FORM_GENITIVE = {"заочное": "заочного", "очно-заочное": "очно-заочного", "очное": "очного"}


@dataclass(frozen=True)
class ResultsText:
    """The notice as lines: the heading, then one paragraph each."""

    subject: str
    heading: tuple[str, ...]
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.heading) + "\n\n" + "\n\n".join(self.paragraphs) + "\n"

    @property
    def html(self) -> str:
        head = "<br>".join(html.escape(x) for x in self.heading)
        body = "".join(f'<p style="white-space: pre-line;">{html.escape(p)}</p>' for p in self.paragraphs)
        return f'<!DOCTYPE html><html><body><p style="font-weight: bold;">{head}</p>{body}</body></html>'

    def rendered(self) -> RenderedNotice:
        return RenderedNotice(subject=self.subject, text=self.text, html=self.html)


def _clean(value: str) -> str:
    """What a user typed, without control characters (kept out of the e-mail and the document)."""
    return xml_text(str(value or "")).strip()


def _one_line(value: str) -> str:
    return " ".join(_clean(value).split())


def _closed_meeting(s: Session, meeting_id: int) -> Meeting:
    m = s.get(Meeting, meeting_id, options=[selectinload(Meeting.building), selectinload(Meeting.questions)])
    if m is None:
        raise NotFound(f"Собрание № {meeting_id} не найдено.")
    if m.count_closed_at is None:
        raise ValidationError(COUNT_OPEN)
    return m


def compose(session_factory: sessionmaker[Session], *, meeting_id: int) -> ResultsText:
    """The notice's content from the closed count (the full recount, as the protocol prints it)."""
    with session_factory() as s:
        m = _closed_meeting(s, meeting_id)
        address = _one_line(m.building.address)
        proposals = {q.number: _clean(q.proposal) for q in m.questions}
        form, kind, initiator = _one_line(m.form), _one_line(m.kind), _one_line(m.initiator)
        start, end = f.format_date(m.start_date), f.format_date(m.end_date)
        in_person = (m.in_person_at, _one_line(m.in_person_place))
        number, drawn = _one_line(m.protocol_number) or "б/н", f.format_date(m.protocol_date)
        archive, decisions_place = _clean(m.archive_place), _one_line(m.decisions_place)
    tally = recount(session_factory, meeting_id=meeting_id)

    paragraphs = [
        f"Собственники помещений в многоквартирном доме по адресу: {address}, провели {kind} общее собрание "
        f"в форме {FORM_GENITIVE.get(form, form)} голосования. Инициатор собрания: {initiator}.",
    ]
    if form == "очно-заочное" and in_person[0] is not None:
        place = f" по адресу: {in_person[1]}" if in_person[1] else ""
        paragraphs.append(f"Очное обсуждение вопросов повестки дня состоялось {in_person[0]:%d.%m.%Y в %H:%M}"
                          f"{place}.")
    paragraphs.append(f"Голосование проводилось с {start} по {end}; решения собственников принимались до {end} "
                      f"включительно{f' по адресу: {decisions_place}' if decisions_place else ''}.")
    paragraphs.append(f"Итоги голосования оформлены протоколом общего собрания № {number}"
                      f"{f' от {drawn}' if drawn else ''}.")
    quorum = ("Кворум имеется, общее собрание правомочно." if tally.quorum else
              "Кворум отсутствует, общее собрание неправомочно; решения не приняты (ЖК РФ ст. 45 ч. 3).")
    paragraphs.append(
        f"Общее количество голосов собственников помещений в доме: {format_votes(tally.all_votes)} "
        f"(1 голос = 1 м² площади помещения). В собрании приняли участие собственники, обладающие "
        f"{format_votes(tally.participants)} голосов, что составляет {format_percent(tally.participation)} "
        f"от общего числа голосов. {quorum}")
    paragraphs.append("Итоги голосования по вопросам повестки дня:")
    for q in tally.questions:
        lines = [f"{q.number}. {_clean(q.text)}",
                 f"Необходимое большинство: {MAJORITY_KINDS[q.majority].rule}."]
        for key, label in ANSWERS:
            lines.append(f"{label} — {format_votes(q.votes[key])} голосов "
                         f"({format_percent(q.share_of_participants(key))} от числа голосов участников, "
                         f"{format_percent(q.share_of_all(key))} от общего числа голосов);")
        if q.votes["invalid"]:
            lines.append(f"недействительные ответы — {format_votes(q.votes['invalid'])} голосов;")
        said = resolution(q, proposal=proposals.get(q.number) or _clean(q.text),
                          quorum=tally.quorum)
        lines.append(f"Решение принято: {said}" if q.adopted else said)
        paragraphs.append("\n".join(lines))
    where = archive or f"у инициатора собрания ({initiator})"
    paragraphs.append(f"С протоколом общего собрания и решениями собственников можно ознакомиться: {where}.")
    paragraphs.append(initiator)
    return ResultsText(
        subject=header_safe(f"{TITLE}: {address}"),
        heading=("СООБЩЕНИЕ", "об итогах общего собрания собственников помещений в многоквартирном доме",
                 f"по адресу: {address}"),
        paragraphs=tuple(paragraphs),
    )


def results_notice(session_factory: sessionmaker[Session], *, meeting_id: int) -> tuple[str, str]:
    """(subject, plain text) of «Сообщение об итогах общего собрания собственников помещений»."""
    notice = compose(session_factory, meeting_id=meeting_id)
    return notice.subject, notice.text


def results_notice_docx(session_factory: sessionmaker[Session], *, meeting_id: int) -> bytes:
    """The notice to post on the notice boards (.docx), with a place for the date it was posted."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    notice = compose(session_factory, meeting_id=meeting_id)
    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(12)
    for i, line in enumerate(notice.heading):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.add_run(xml_text(line)).bold = i < 2
    for paragraph in notice.paragraphs:
        doc.add_paragraph(xml_text(paragraph))
    doc.add_paragraph("Сообщение размещено «___» ____________ 20__ г.        Подпись ______________")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ---------- sending to the owners ----------

def results_deadline(session_factory: sessionmaker[Session], *, meeting_id: int) -> dt.date:
    """The last day to make the results known: 10 days after the protocol (or the end of voting)."""
    with session_factory() as s:
        m = _closed_meeting(s, meeting_id)
        return results_notice_due(m)


def queue_results_notice(session_factory: sessionmaker[Session], *, meeting_id: int, request_key: str,
                         user: str = "", today: dt.date | None = None):
    """One e-mail delivery of the results notice per owner record with an address, not yet sent one
    (or having one on its way); returns notify.QueueResult (queued, skipped: without an e-mail).

    The same `request_key` returns the job it already created: a double click queues nothing twice.
    """
    from services.notify import add_send_job, once_per_key

    def queue(s: Session):
        m = _closed_meeting(s, meeting_id)
        late = (today or dt.date.today()) > results_notice_due(m)
        already = select(Delivery.owner_id).where(
            Delivery.meeting_id == meeting_id, Delivery.purpose == PURPOSE,
            Delivery.status.in_(("queued", "sending", "sent")))
        owners = s.execute(select(OwnerRecord.id, OwnerRecord.emails).where(
            OwnerRecord.meeting_id == meeting_id, OwnerRecord.id.not_in(already)).order_by(OwnerRecord.id)).all()
        with_email = [(oid, emails) for oid, emails in owners if any(e for e in (emails or []))]
        return add_send_job(s, meeting_id=meeting_id, request_key=request_key, user=user, owners=with_email,
                            lawful=False, late=late, purpose=PURPOSE, total=len(owners))

    return once_per_key(session_factory, request_key=request_key, queue=queue)


@dataclass
class ResultsNoticeSummary:
    queued: int  # waiting or being sent
    sent: int
    failed: int
    owners_with_email: int


def results_notice_summary(session_factory: sessionmaker[Session], *, meeting_id: int) -> ResultsNoticeSummary:
    """Results notices by owner: the latest delivery of each owner decides («sent» wins)."""
    with session_factory() as s:
        rows = s.execute(select(Delivery.owner_id, Delivery.status).where(
            Delivery.meeting_id == meeting_id, Delivery.purpose == PURPOSE).order_by(Delivery.id)).all()
        emails = s.scalars(select(OwnerRecord.emails).where(OwnerRecord.meeting_id == meeting_id)).all()
    latest: dict[int, str] = {}
    sent: set[int] = set()
    for oid, status in rows:
        latest[oid] = status
        if status == "sent":
            sent.add(oid)
    pending = sum(1 for oid, st in latest.items() if oid not in sent and st in ("queued", "sending"))
    failed = sum(1 for oid, st in latest.items() if oid not in sent and st == "failed")
    return ResultsNoticeSummary(pending, len(sent), failed, sum(1 for e in emails if any(x for x in (e or []))))

