"""Machine-readable paper decisions (issue 17): one layout that the printer draws and the scan
reader measures.

Every page of a sheet carries four filled squares at the corners (to straighten a scan), a QR code
naming the meeting, the owner record, the page and the layout, with a keyed check value (a forged or
foreign code is refused), and the answer boxes at places computed here. The same function lays the
page out for the PDF and for the reader; the QR code's layout digest tells the reader when the sheet
was printed for another layout (an agenda edited since), and such a page goes to manual entry.

Geometry is in millimetres from the page's top-left corner (A4 portrait). The wording is the
company's, in templates/ballot_sheet.toml; the fonts ship with Kvorum (assets/fonts), so a layout is
the same on every machine.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
import tomllib
from dataclasses import dataclass, field

from services.documents import TEMPLATES_DIR, Ballot
from services.settings import PROJECT_ROOT

FONTS_DIR = PROJECT_ROOT / "assets" / "fonts"
WORDING_FILE = TEMPLATES_DIR / "ballot_sheet.toml"
FONT, FONT_BOLD = "KvorumSans", "KvorumSans-Bold"

PAGE_W, PAGE_H = 210.0, 297.0
MARK = 6.0  # side of a corner mark
MARK_CENTERS = ((10.0, 10.0), (200.0, 10.0), (10.0, 287.0), (200.0, 287.0))  # TL, TR, BL, BR
QR_MODULE = 1.0  # 25 mm: read on a blurred phone photo too
QR_LEFT, QR_TOP = 169.0, 17.0
LEFT, RIGHT = 15.0, 195.0
HEAD_RIGHT = 164.0  # header text stops before the QR code's quiet zone
NUM_RIGHT = 23.0
ANSWER_LEFT = 141.0
COLUMN = 18.0
BOX = 7.0
ROW_MIN = 14.0  # a row at least this tall: a box's ring (±7 mm) never reaches the next row's
LINE = 3.9  # leading of 9 pt text
BODY_BOTTOM = 276.0
FOOTER_Y = 281.0
SIGN_W, SIGN_H = 80.0, 18.0
OPTIONS = ("for", "against", "abstain")
OPTION_LABELS = {"for": "За", "against": "Против", "abstain": "Воздерж."}
TOKEN_PREFIX = "KV1"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class SheetQuestion:
    question_id: int
    number: int
    boxes: dict[str, Box]  # option -> its answer box


@dataclass
class SheetPage:
    page: int
    pages: int
    questions: list[SheetQuestion]
    signatures: list[Box]  # signature boxes (last page only); any one signed signs a joint holding
    ops: list[tuple] = field(default_factory=list, repr=False)  # what the PDF draws
    digest: str = ""

    @property
    def qr_box(self) -> Box:
        return Box(QR_LEFT, QR_TOP, 25 * QR_MODULE, 25 * QR_MODULE)


@dataclass(frozen=True)
class Token:
    meeting_id: int
    owner_id: int
    page: int
    pages: int
    digest: str
    check: str

    def text(self) -> str:
        return ":".join((TOKEN_PREFIX, str(self.meeting_id), str(self.owner_id), str(self.page), str(self.pages),
                         self.digest, self.check))


# ---------- the keyed code ----------

def _b32(data: bytes, n: int) -> str:
    return base64.b32encode(data).decode("ascii")[:n]


def _check(secret_key: str, meeting_id: int, owner_id: int, page: int, pages: int, digest: str) -> str:
    key = hashlib.sha256(b"kvorum-ballot-sheet:" + secret_key.encode("utf-8")).digest()
    msg = f"{meeting_id}:{owner_id}:{page}:{pages}:{digest}".encode("ascii")
    return _b32(hmac.new(key, msg, hashlib.sha256).digest(), 10)  # 50 bits


def make_token(secret_key: str, meeting_id: int, owner_id: int, page: SheetPage) -> Token:
    return Token(meeting_id, owner_id, page.page, page.pages, page.digest,
                 _check(secret_key, meeting_id, owner_id, page.page, page.pages, page.digest))


def parse_token(text: str | None) -> Token | None:
    """The QR code's text as a Token, or None when it is not a Kvorum sheet's code at all."""
    parts = (text or "").strip().split(":")
    if len(parts) != 7 or parts[0] != TOKEN_PREFIX:
        return None
    try:
        meeting_id, owner_id, page, pages = (int(p) for p in parts[1:5])
    except ValueError:
        return None
    if not (1 <= page <= pages <= 99) or len(parts[5]) != 4 or len(parts[6]) != 10:
        return None
    return Token(meeting_id, owner_id, page, pages, parts[5], parts[6])


def token_valid(secret_key: str, token: Token) -> bool:
    expected = _check(secret_key, token.meeting_id, token.owner_id, token.page, token.pages, token.digest)
    return hmac.compare_digest(expected, token.check)


# ---------- wording and fonts ----------

@functools.lru_cache(maxsize=1)
def _fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))


def load_wording(path=WORDING_FILE) -> dict[str, str]:
    with open(path, "rb") as fh:
        return {k: str(v) for k, v in tomllib.load(fh).items()}


@functools.lru_cache(maxsize=256)
def _template(text: str):
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False).from_string(text)


def _say(wording: dict[str, str], key: str, **values) -> str:
    return " ".join(_template(wording.get(key, "")).render(**values).split())


def _wrap(text: str, width_mm: float, size: float, bold: bool = False) -> list[str]:
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit

    _fonts()
    return simpleSplit(text, FONT_BOLD if bold else FONT, size, width_mm * mm) if text else []


# ---------- layout ----------

class _Pager:
    """Lays out blocks top to bottom over pages; ops are kept per page."""

    def __init__(self, first_header, next_header):
        self.pages: list[list[tuple]] = []
        self.questions: list[list[SheetQuestion]] = []
        self.signatures: list[list[Box]] = []
        self.next_header = next_header
        self._new(first_header)

    def _new(self, header) -> None:
        self.pages.append([])
        self.questions.append([])
        self.signatures.append([])
        self.y = 17.0
        header(self)

    def new_page(self, table: bool = True) -> None:
        self._new(lambda p: self.next_header(p, table))

    @property
    def ops(self) -> list[tuple]:
        return self.pages[-1]

    def text(self, lines: list[str], x: float, size: float = 9.0, bold: bool = False, lead: float | None = None) -> None:
        lead = lead or size * 0.3528 * 1.22
        for line in lines:
            self.ops.append(("text", x, self.y + size * 0.3528, FONT_BOLD if bold else FONT, size, line))
            self.y += lead

    def fits(self, height: float) -> bool:
        return self.y + height <= BODY_BOTTOM


def _table_header(p: _Pager) -> None:
    top = p.y
    p.ops.append(("line", LEFT, top, RIGHT, top, 0.3))
    p.ops.append(("text", LEFT + 1, top + 5.2, FONT_BOLD, 8, "№"))
    p.ops.append(("text", NUM_RIGHT + 1, top + 5.2, FONT_BOLD, 8, "Вопрос повестки дня"))
    for i, option in enumerate(OPTIONS):
        cx = ANSWER_LEFT + COLUMN * (i + 0.5)
        p.ops.append(("ctext", cx, top + 5.2, FONT_BOLD, 7.5, OPTION_LABELS[option]))
    p.ops.append(("line", LEFT, top + 7.5, ANSWER_LEFT, top + 7.5, 0.3))
    p.y = top + 8.0


def _question_rows(q) -> list[str]:
    lines = _wrap(q.text, ANSWER_LEFT - NUM_RIGHT - 4, 9)
    proposal = getattr(q, "proposal", "") or ""
    if proposal:
        lines += _wrap(f"Предложено: {proposal}", ANSWER_LEFT - NUM_RIGHT - 4, 9)
    limit = int((BODY_BOTTOM - 60) / LINE)  # a question never needs more than a page
    if len(lines) > limit:
        lines = lines[:limit - 1] + ["… (полный текст — в сообщении о проведении собрания)"]
    return lines


def _body_ops(p: _Pager, lines: list[str], top: float) -> None:
    y = top + 2.0
    for line in lines:
        p.ops.append(("text", NUM_RIGHT + 1, y + 3.2, FONT, 9, line))
        y += LINE


def layout(meeting: dict, ballot: Ballot, questions: tuple, wording: dict[str, str] | None = None) -> list[SheetPage]:
    """The sheet's pages for one owner record: `meeting` as services.documents.meeting_context
    gives it, `ballot` the owner's block (answers given online are printed as crosses)."""
    wording = wording or load_wording()
    owner = ballot.owner

    def first_header(p: _Pager) -> None:
        p.text(_wrap(_say(wording, "title"), HEAD_RIGHT - LEFT, 12, bold=True), LEFT, 12, bold=True)
        p.y += 1
        for key in ("subtitle", "terms"):
            p.text(_wrap(_say(wording, key, **meeting), HEAD_RIGHT - LEFT, 9), LEFT)
        p.y = max(p.y, QR_TOP + 25 * QR_MODULE + 4) + 1
        rows = [("Собственник (ФИО / наименование)", owner.name), ("Помещение №", owner.premise),
                ("Общая площадь помещения, м²", owner.area), ("Доля в праве собственности", owner.share),
                ("Количество голосов", owner.votes),
                ("Документ о праве собственности", owner.doc_number + (f" от {owner.doc_date}" if owner.doc_date else "")),
                (("ОГРН" if owner.legal_entity else "СНИЛС"),
                 (owner.ogrn if owner.legal_entity else owner.snils) or "______________________")]
        if owner.legal_entity:
            rows.append(("в лице (должность, ФИО)", ballot.representative.in_person or "______________________"))
        for label, value in rows:
            top = p.y
            values = _wrap(value or "", RIGHT - 78, 9)[:3] or [""]
            p.ops.append(("text", LEFT, top + 3.2, FONT, 8, label))
            y = top
            for line in values:
                p.ops.append(("text", 78, y + 3.2, FONT, 9, line))
                y += LINE
            p.y = y + 0.6
        p.y += 1
        if not owner.legal_entity:
            p.text(_wrap(_say(wording, "representative"), RIGHT - LEFT, 8), LEFT, 8)
        p.text(_wrap(_say(wording, "instruction"), RIGHT - LEFT, 8), LEFT, 8)
        p.y += 2
        _table_header(p)

    def next_header(p: _Pager, table: bool) -> None:
        p.text(_wrap(_say(wording, "continued", owner=owner.name, premise=owner.premise), HEAD_RIGHT - LEFT, 9),
               LEFT)
        p.y = max(p.y, QR_TOP + 25 * QR_MODULE + 4) + 1
        if table:
            _table_header(p)

    p = _Pager(first_header, next_header)
    for q in questions:
        lines = _question_rows(q)
        height = max(ROW_MIN, 4.0 + len(lines) * LINE)
        if not p.fits(height):
            p.new_page()
        top = p.y
        p.ops.append(("text", LEFT + 1, top + 5.2, FONT_BOLD, 9, str(q.number)))
        _body_ops(p, lines, top)
        boxes = {}
        for i, option in enumerate(OPTIONS):
            cx, cy = ANSWER_LEFT + COLUMN * (i + 0.5), top + ROW_MIN / 2
            box = Box(round(cx - BOX / 2, 2), round(cy - BOX / 2, 2), BOX, BOX)
            boxes[option] = box
            p.ops.append(("rect", box.x, box.y, box.w, box.h, 0.35, False))
            if ballot.answers.get(q.id) == option:
                p.ops.append(("cross", box.x, box.y, box.w, box.h))
        p.questions[-1].append(SheetQuestion(q.id, q.number, boxes))
        p.ops.append(("line", LEFT, top + height, ANSWER_LEFT, top + height, 0.2))
        p.y = top + height

    # the closing block: deadline, joint note, one signature box per signer, the date
    closing = [_wrap(_say(wording, "deadline", **meeting), RIGHT - LEFT, 8)]
    if ballot.fingerprint:  # filled from the owner's page: which sealed answers it prints
        closing.insert(0, _wrap(_say(wording, "filled", submitted=ballot.submitted, fingerprint=ballot.fingerprint),
                                RIGHT - LEFT, 8))
    if owner.joint:
        closing.append(_wrap(_say(wording, "joint"), RIGHT - LEFT, 8))
    signers = owner.signers or [owner.name]
    need = 4 + sum(len(c) for c in closing) * 3.5 + len(signers) * (SIGN_H + 4) + 8
    if not p.fits(need):
        p.new_page(table=False)
    p.y += 3
    for lines in closing:
        p.text(lines, LEFT, 8)
    p.y += 2
    for signer in signers:
        top = p.y
        p.ops.append(("text", LEFT, top + 6, FONT_BOLD, 9, _say(wording, "signature")))
        for i, line in enumerate(_wrap(_say(wording, "signature_of", signer=signer), 48, 8)[:3]):
            p.ops.append(("text", LEFT, top + 10 + i * 3.4, FONT, 8, line))
        box = Box(68.0, round(top, 2), SIGN_W, SIGN_H)
        p.ops.append(("rect", box.x, box.y, box.w, box.h, 0.35, False))
        p.signatures[-1].append(box)
        p.y = top + SIGN_H + 4
    p.text([_say(wording, "filled_on")], LEFT, 8)

    pages = len(p.pages)
    out = []
    for i, ops in enumerate(p.pages, start=1):
        page = SheetPage(i, pages, p.questions[i - 1], p.signatures[i - 1], ops)
        page.digest = layout_digest(page)
        ops.append(("text", LEFT, FOOTER_Y, FONT, 7, _say(wording, "footer", page=i, pages=pages)))
        out.append(page)
    return out


def layout_digest(page: SheetPage) -> str:
    """Four characters naming where this page's boxes are: a page read against another layout is
    refused (it was printed before the agenda or the owner's block changed)."""
    data = {"p": [page.page, page.pages],
            "q": [[q.number, [[round(v, 1) for v in (b.x, b.y, b.w, b.h)] for b in q.boxes.values()]]
                  for q in page.questions],
            "s": [[round(v, 1) for v in (b.x, b.y, b.w, b.h)] for b in page.signatures]}
    return _b32(hashlib.sha256(json.dumps(data, sort_keys=True).encode("ascii")).digest(), 4)


# ---------- the PDF ----------

def _draw_page(c, page: SheetPage, token: Token) -> None:
    import segno
    from reportlab.lib.units import mm

    def Y(y: float) -> float:
        return (PAGE_H - y) * mm

    c.setFillColorRGB(0, 0, 0)
    c.setStrokeColorRGB(0, 0, 0)
    for cx, cy in MARK_CENTERS:
        c.rect((cx - MARK / 2) * mm, Y(cy + MARK / 2), MARK * mm, MARK * mm, stroke=0, fill=1)
    qr = segno.make(token.text(), error="m", micro=False)
    n = len(qr.matrix)
    if n != 25:  # version 2: what the page reserves; a longer code would not fit the layout
        raise ValueError(f"QR code of version {qr.version} does not fit the sheet")
    for r, row in enumerate(qr.matrix):
        for col, bit in enumerate(row):
            if bit & 1:
                c.rect((QR_LEFT + col * QR_MODULE) * mm, Y(QR_TOP + (r + 1) * QR_MODULE), QR_MODULE * mm + 0.05,
                       QR_MODULE * mm + 0.05, stroke=0, fill=1)
    for op in page.ops:
        kind = op[0]
        if kind == "text":
            _x, x, y, font, size, text = op
            c.setFont(font, size)
            c.drawString(x * mm, Y(y), text)
        elif kind == "ctext":
            _x, x, y, font, size, text = op
            c.setFont(font, size)
            c.drawCentredString(x * mm, Y(y), text)
        elif kind == "line":
            _x, x1, y1, x2, y2, width = op
            c.setLineWidth(width * mm)
            c.line(x1 * mm, Y(y1), x2 * mm, Y(y2))
        elif kind == "rect":
            _x, x, y, w, h, width, fill = op
            c.setLineWidth(width * mm)
            c.rect(x * mm, Y(y + h), w * mm, h * mm, stroke=1, fill=1 if fill else 0)
        elif kind == "cross":
            _x, x, y, w, h = op
            c.setLineWidth(0.6 * mm)
            c.line((x + 1.2) * mm, Y(y + 1.2), (x + w - 1.2) * mm, Y(y + h - 1.2))
            c.line((x + 1.2) * mm, Y(y + h - 1.2), (x + w - 1.2) * mm, Y(y + 1.2))


def sheets_pdf(*, secret_key: str, meeting_id: int, meeting: dict, questions: tuple,
               ballots: list[tuple[int, Ballot]], wording: dict[str, str] | None = None) -> bytes:
    """One machine-readable sheet per (owner record id, ballot), in one PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    _fonts()
    wording = wording or load_wording()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    c.setTitle("Решения собственников")
    c.setCreator("Kvorum")
    for owner_id, ballot in ballots:
        for page in layout(meeting, ballot, questions, wording):
            _draw_page(c, page, make_token(secret_key, meeting_id, owner_id, page))
            c.showPage()
    c.save()
    return out.getvalue()


# ---------- from the database ----------

def _meeting_and_agenda(s, meeting_id: int):
    from services.documents import meeting_context
    from services.voting import _agenda

    view, questions = _agenda(s, meeting_id)
    return meeting_context(view), questions


def ballots_pdf(session_factory, *, secret_key: str, meeting_id: int, owner_ids: list[int]) -> bytes:
    """Machine-readable blank sheets, one per owner record, in the registry's order."""
    from services.errors import ValidationError
    from services.voting import _ballots

    if not owner_ids:
        raise ValidationError("Нет собственников, для которых нужны бюллетени.")
    with session_factory() as s:
        meeting, questions = _meeting_and_agenda(s, meeting_id)
        ballots = _ballots(s, meeting_id, owner_ids)
    return sheets_pdf(secret_key=secret_key, meeting_id=meeting_id, meeting=meeting, questions=questions,
                      ballots=ballots)


def owner_decision_pdf(session_factory, *, secret_key: str, owner_id: int) -> bytes:
    """The owner's decision filled with the answers given online, machine-readable, to sign."""
    from services.voting import owner_ballot

    with session_factory() as s:
        meeting_id, ballot = owner_ballot(s, owner_id)
        meeting, questions = _meeting_and_agenda(s, meeting_id)
    return sheets_pdf(secret_key=secret_key, meeting_id=meeting_id, meeting=meeting, questions=questions,
                      ballots=[(owner_id, ballot)])


def sheet_pages(s, meeting_id: int, owner_id: int, cache: dict | None = None) -> list[SheetPage] | None:
    """The layout a blank sheet of this owner record has now (None: no such record in the meeting).
    `cache` keeps the meeting's agenda between calls of one reading."""
    from services.models import OwnerRecord
    from services.voting import _ballots

    owner = s.get(OwnerRecord, owner_id)
    if owner is None or owner.meeting_id != meeting_id:
        return None
    cache = cache if cache is not None else {}
    if "agenda" not in cache:
        cache["agenda"] = _meeting_and_agenda(s, meeting_id)
        cache["wording"] = load_wording()
    meeting, questions = cache["agenda"]
    [(_id, ballot)] = _ballots(s, meeting_id, [owner_id])
    return layout(meeting, ballot, questions, cache["wording"])
