"""Word documents from replaceable templates (docxtpl) and simple generated sheets (python-docx).

Templates live in `templates/`; a company may replace them with its own made in Word with the
same tags. docxtpl escapes what it inserts, so text users typed cannot alter the document's XML.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import io
from pathlib import Path

import segno

from services.errors import DomainError
from services.exports import xml_text
from services.notice import MeetingView, OwnerView, ru_date, vote_url
from services.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
NOTICE_PAPER_TEMPLATE = TEMPLATES_DIR / "notice_paper.docx"


class DocumentError(DomainError):
    """A document could not be made; the message names it and says why, in Russian."""


def xml_safe(value):
    """A template's context with the control characters removed from every text in it (see
    exports.xml_text): docxtpl escapes <, > and &, but a control character makes the XML invalid."""
    if value.__class__ is str:
        return xml_text(value)
    if isinstance(value, dict):
        return {k: xml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(xml_safe(v) for v in value) if value.__class__ in (list, tuple) else value
    return value


def failure_reason(exc: BaseException) -> str:
    """Why a document was not made, for the page: a domain error's message, a template's mistake,
    or the error's own text (shortened)."""
    if isinstance(exc, DomainError):
        return exc.message
    name = type(exc).__name__
    text = " ".join(str(exc).split())[:300] or name
    if "jinja2" in type(exc).__module__ or name == "TemplateSyntaxError":
        return f"ошибка в шаблоне документа ({text})"
    if name in ("PackageNotFoundError", "BadZipFile", "KeyError") or "zip" in text.lower():
        return f"шаблон документа повреждён или не является файлом Word ({text})"
    if "XML compatible" in text or "xml" in name.lower():
        return f"в тексте есть символы, недопустимые в документе ({text})"
    return f"{name}: {text}"


def qr_png(data: str, scale: int = 5) -> bytes:
    buf = io.BytesIO()
    segno.make(data, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def meeting_context(meeting: MeetingView) -> dict:
    ctx = dataclasses.asdict(meeting)
    ctx["start_date"], ctx["end_date"] = ru_date(meeting.start_date), ru_date(meeting.end_date)
    return ctx


def paper_notices_docx(*, meeting: MeetingView, items: list[tuple[OwnerView, str]], public_url: str,
                       template: Path = NOTICE_PAPER_TEMPLATE) -> bytes:
    """Сообщения для печати: one page per owner with the personal code and a QR code of the link."""
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage

    tpl = DocxTemplate(str(template))
    url = vote_url(public_url)
    qr = qr_png(url)
    notices = [{"owner": dataclasses.asdict(owner), "code": code,
                "qr": InlineImage(tpl, io.BytesIO(qr), width=Mm(32))} for owner, code in items]
    tpl.render(xml_safe({"meeting": meeting_context(meeting), "notices": notices, "vote_url": url}), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


SIGNATURE_HEADERS = ("№", "Помещение", "ФИО/Наименование собственника", "Дата вручения", "Подпись")
SIGNATURE_FOOTER = "Сообщение вручил: ____________________ / ____________________ /   «___» __________ 20___ г."


def signature_sheet_docx(*, meeting: MeetingView, rows: list[tuple[str, ...]], title: str,
                         headers: tuple[str, ...] = SIGNATURE_HEADERS, lines: tuple[str, ...] = (),
                         footer: str = SIGNATURE_FOOTER) -> bytes:
    """A list to sign by hand: the numbered rows' cells, then empty columns to the last header —
    the лист вручения под роспись, or the attendance list of an in-person discussion."""
    from docx import Document
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    section.left_margin = section.right_margin = Mm(15)
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(11)
    head = doc.add_paragraph()
    head.alignment = 1
    head.add_run(xml_text(title)).bold = True
    doc.add_paragraph(xml_text(f"Многоквартирный дом: {meeting.address}"))
    doc.add_paragraph(xml_text(f"Собрание: {meeting.form} голосование с {ru_date(meeting.start_date)} по "
                               f"{ru_date(meeting.end_date)}; инициатор: {meeting.initiator}"))
    for line in lines:
        doc.add_paragraph(xml_text(line))
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers):
        cell.paragraphs[0].add_run(text).bold = True
    for i, row in enumerate(rows, start=1):
        cells = table.add_row().cells
        cells[0].text = str(i)
        for cell, value in zip(cells[1:], row):
            cell.text = xml_text(value)
    widths = (Mm(10), Mm(22), Mm(80), Mm(28), Mm(40)) if len(headers) == 5 else \
        (Mm(10), Mm(20), Mm(62), Mm(48), Mm(40))
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width
    doc.add_paragraph()
    doc.add_paragraph(xml_text(footer))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


DECISION_TEMPLATE = TEMPLATES_DIR / "decision.docx"
BOX_ON, BOX_OFF = "☒", "☐"


@dataclass
class BallotOwner:
    name: str
    snils: str  # a person's СНИЛС when it passes its check digits, else '' (a line to fill in)
    premise: str
    area: str
    share: str
    votes: str
    doc_number: str
    doc_date: str
    # Who may sign: the owner, or each joint owner of a joint holding (any one of them signs for
    # the holding, ГК РФ ст. 253 ч. 2; each gets a line)
    signers: list[str] = field(default_factory=list)
    joint: bool = False
    legal_entity: bool = False
    ogrn: str = ""  # a legal entity's ОГРН (ОГРНИП) when it passes its check digit, else ''


@dataclass
class BallotRepresentative:
    """Who signs for the owner, as far as known (ЖК РФ ст. 48 ч. 2; ГК РФ ст. 185.1): empty texts
    leave the form's lines blank to fill in by hand."""

    name: str = ""  # by a power of attorney
    poa_number: str = ""
    poa_date: str = ""
    poa_certified_by: str = ""
    in_person: str = ""  # a legal entity's «в лице (должность, ФИО)»


@dataclass
class Ballot:
    """One owner's decision form: answers by question id (empty: a blank ballot)."""

    owner: BallotOwner
    answers: dict[int, str]
    fingerprint: str = ""
    submitted: str = ""
    representative: BallotRepresentative = field(default_factory=BallotRepresentative)


def _ballot_context(ballot: Ballot, questions: tuple) -> dict:
    rows = []
    for q in questions:
        a = ballot.answers.get(q.id)
        rows.append({"number": q.number, "text": q.text, "proposal": getattr(q, "proposal", ""),
                     "for_box": BOX_ON if a == "for" else BOX_OFF,
                     "against_box": BOX_ON if a == "against" else BOX_OFF,
                     "abstain_box": BOX_ON if a == "abstain" else BOX_OFF})
    return {"owner": dataclasses.asdict(ballot.owner), "questions": rows, "fingerprint": ballot.fingerprint,
            "submitted": ballot.submitted, "representative": dataclasses.asdict(ballot.representative)}


_LISTING_CHARS = ("\t", "\n", "\a", "\f")


def _fast_template(template: Path):
    """docxtpl's DocxTemplate, skipping its «listing» pass when it has nothing to do.

    After rendering, docxtpl rewrites every paragraph, run and text of the document with nested
    regular expressions to turn a tab, newline, \\a or \\f inside a value into Word's tab, line
    break, paragraph or page break — over half of the time of a 2 000-ballot document. When the
    rendered XML holds none of those characters anywhere, that pass returns it unchanged, so
    returning it at once gives the same document; otherwise the full pass runs as before.
    """
    from docxtpl import DocxTemplate

    class FastListingTemplate(DocxTemplate):
        def resolve_listing(self, xml):
            if not any(c in xml for c in _LISTING_CHARS):
                return xml
            return super().resolve_listing(xml)

    return FastListingTemplate(str(template))


def decisions_docx(*, meeting: MeetingView, questions: tuple, ballots: list[Ballot],
                   template: Path = DECISION_TEMPLATE) -> bytes:
    """Решения собственников: one page per owner, filled or blank, from the replaceable template.

    `questions` are objects with id, number and text (the meeting's agenda)."""
    tpl = _fast_template(template)
    tpl.render(xml_safe({"meeting": meeting_context(meeting),
                         "ballots": [_ballot_context(b, questions) for b in ballots]}), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
