"""Сообщение о проведении ОСС: the notice's content (ЖК РФ ст. 45 ч. 5) and the e-mail built from it.

The wording lives in `templates/` (Jinja2), so a management company can change it without code.
What users typed (addresses, names, questions) is escaped in HTML by autoescaping, and stripped of
line breaks wherever it reaches a mail header.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import re
import secrets
from dataclasses import dataclass, field
from email.headerregistry import Address
from email import policy as email_policy
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from fractions import Fraction
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services import owner_fields as f
from services.figures import format_area, format_votes, record_votes
from services.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
SUBJECT_TEMPLATE = "notice_subject.txt.j2"
TEXT_TEMPLATE = "notice_email.txt.j2"
HTML_TEMPLATE = "notice_email.html.j2"
VOTE_PATH = "vote"

# Deliberately narrower than RFC 5322: an address with quotes, spaces, brackets or line breaks is
# refused with a reason rather than passed to a mail header.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


# For messages built with the email package (the decision receipt): headers are not folded below
# 998 characters, because CPython's folding of encoded words drops the space at a fold
# («проведенииобщего»); a subject of 300 Cyrillic letters still fits in one line.
MAIL_POLICY = email_policy.SMTP.clone(max_line_length=998)
SUBJECT_LIMIT = 300


class NoticeError(ValueError):
    """A message that cannot be built safely; str(exc) is the Russian reason."""


@dataclass(frozen=True)
class QuestionView:
    number: int
    text: str
    materials: str = ""


@dataclass(frozen=True)
class MeetingView:
    """What every notice of one meeting shares."""

    id: int
    address: str
    initiator: str
    initiator_details: str
    form: str
    start_date: dt.date
    end_date: dt.date
    decisions_place: str
    materials_place: str
    gis_id: str
    questions: tuple[QuestionView, ...] = field(default_factory=tuple)
    kind: str = "внеочередное"  # годовое | внеочередное
    in_person: str = ""  # очно-заочное: «15.12.2026 в 19:00, место» (ЖК РФ ст. 45 ч. 5)


@dataclass(frozen=True)
class OwnerView:
    name: str
    premise: str
    area: str
    share: str
    votes: str


def owner_view(*, name: str, premise: str, area, share: Fraction) -> OwnerView:
    """The owner's figures as the notice prints them, rounded and written as everywhere else."""
    return OwnerView(name=name, premise=premise, area=format_area(area, unit=False), share=f.format_share(share),
                     votes=format_votes(record_votes(area, share)))


def vote_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/{VOTE_PATH}"


def ru_date(value) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


@lru_cache(maxsize=4)
def _env(templates_dir: str) -> tuple[Environment, Environment]:
    loader = FileSystemLoader(templates_dir)
    text_env = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
    html_env = Environment(loader=loader, autoescape=select_autoescape(default=True), undefined=StrictUndefined)
    for env in (text_env, html_env):
        env.filters["ru_date"] = ru_date
    return text_env, html_env


@dataclass
class RenderedNotice:
    subject: str
    text: str
    html: str


class NoticeRenderer:
    """Renders the three templates; built once per batch (templates are compiled once)."""

    def __init__(self, templates_dir=TEMPLATES_DIR):
        text_env, html_env = _env(str(templates_dir))
        self._subject = text_env.get_template(SUBJECT_TEMPLATE)
        self._text = text_env.get_template(TEXT_TEMPLATE)
        self._html = html_env.get_template(HTML_TEMPLATE)
        self._stencils: dict = {}

    def render(self, *, meeting: MeetingView, owner: OwnerView | None, code: str | None, public_url: str,
               counted_electronic: bool = False) -> RenderedNotice:
        if owner is not None and code is not None:
            stencil = self._stencil(meeting, public_url, counted_electronic)
            if stencil is not None:
                return stencil.fill(owner, code)
        return self._render(meeting=meeting, owner=owner, code=code, public_url=public_url,
                            counted_electronic=counted_electronic)

    def _render(self, *, meeting, owner, code, public_url, counted_electronic) -> RenderedNotice:
        ctx = {"meeting": meeting, "owner": owner, "code": code, "vote_url": vote_url(public_url),
               "counted_electronic": counted_electronic}
        subject = header_safe(self._subject.render(ctx))
        text = re.sub(r"\n{3,}", "\n\n", self._text.render(ctx)).strip() + "\n"
        return RenderedNotice(subject=subject, text=text, html=self._html.render(ctx))

    def _stencil(self, meeting: MeetingView, public_url: str, electronic: bool) -> "_Stencil | None":
        """The meeting's notice rendered once with markers where an owner's values go: a batch of
        thousands of notices then costs a few string replacements each instead of a template run.
        A template that transforms those values (a filter on them) gets no stencil: rendered each time."""
        key = (meeting, public_url, electronic)
        if key not in self._stencils:
            marks = OwnerView(**{f: f"\x00{f}\x00" for f in OwnerView.__dataclass_fields__})
            rendered = self._render(meeting=meeting, owner=marks, code="\x00code\x00", public_url=public_url,
                                    counted_electronic=electronic)
            fields = [*OwnerView.__dataclass_fields__, "code"]
            whole = rendered.subject + rendered.text + rendered.html
            found = sum(whole.count(f"\x00{f}\x00") for f in fields)
            ok = whole.count("\x00") == 2 * found and "\x00code\x00" in rendered.text
            if len(self._stencils) > 64:
                self._stencils.clear()
            self._stencils[key] = _Stencil(rendered, fields) if ok else None
        return self._stencils[key]


class _Stencil:
    def __init__(self, rendered: RenderedNotice, fields: list[str]):
        self.rendered = rendered
        self.fields = fields

    def fill(self, owner: OwnerView, code: str) -> RenderedNotice:
        values = {f: str(getattr(owner, f)).replace("\x00", "") for f in self.fields if f != "code"}
        values["code"] = code
        text, html_, subject = self.rendered.text, self.rendered.html, self.rendered.subject
        for name, v in values.items():
            mark = f"\x00{name}\x00"
            text = text.replace(mark, v)
            html_ = html_.replace(mark, html.escape(v))  # what autoescape would have done
            subject = subject.replace(mark, header_safe(v))
        return RenderedNotice(subject=subject, text=text, html=html_)


def notice_text_for_gis(meeting: MeetingView, public_url: str, renderer: NoticeRenderer | None = None) -> str:
    """The common text of the notice, without personal data or a code: to post in ГИС ЖКХ."""
    return (renderer or NoticeRenderer()).render(meeting=meeting, owner=None, code=None, public_url=public_url).text


def header_safe(value: str, limit: int = 500) -> str:
    """One line for a mail header: line breaks and control characters become spaces."""
    value = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+", " ", str(value))
    return " ".join(value.split())[:limit]


def check_email(address: str) -> str:
    """The address if it may go into a header as it is; NoticeError with the reason otherwise."""
    if not isinstance(address, str) or not address:
        raise NoticeError("адрес эл. почты не указан")
    if re.search(r"[\r\n\x00-\x1f\x7f]", address):
        raise NoticeError("адрес эл. почты содержит перевод строки или управляющий символ — отправка отклонена")
    if len(address) > 254 or not _EMAIL.match(address):
        raise NoticeError(f"адрес эл. почты «{address[:80]}» недопустим")
    return address


def sender_address(mail_from: str | None, fallback_name: str) -> Address:
    """MAIL_FROM («Имя <box@host>» or «box@host») as a header-safe Address."""
    name, addr = parseaddr(header_safe(mail_from or ""))
    if not addr:
        addr = "noreply@kvorum.local"
    check_email(addr)
    local, _, domain = addr.partition("@")
    return Address(display_name=header_safe(name or fallback_name, 120), username=local, domain=domain)


def encoded_word(text: str) -> str:
    """A header value as is when it is plain ASCII, else one RFC 2047 encoded word (UTF-8, base64)."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


class OutgoingMessage:
    """A notice ready to send, written by hand in RFC 5322 / RFC 2045 form: multipart/alternative,
    UTF-8 text and HTML in base64 (lines of 76), every header one line. The email package's pure-
    Python encoders cost more per notice than the SMTP exchange itself; this costs a fraction.
    Header values are header-safe (no line breaks) by construction."""

    def __init__(self, *, headers: dict[str, str], text: str, html: str, recipients: list[str]):
        self._headers = headers
        self._text, self._html = text, html
        self.recipients = recipients
        self._raw: bytes | None = None

    def __getitem__(self, name: str) -> str | None:
        return self._headers.get(name)

    def get(self, name: str, default=None):
        return self._headers.get(name, default)

    def __setitem__(self, name: str, value: str) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
            raise ValueError(f"bad header name {name!r}")
        self._headers[name] = header_safe(value)
        self._raw = None

    def as_bytes(self) -> bytes:
        if self._raw is None:
            boundary = "kvorum-" + secrets.token_hex(12)
            lines = [f"{k}: {v if k == 'From' else encoded_word(v)}" for k, v in self._headers.items()]
            lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
            head = "\r\n".join(lines).encode("ascii")
            parts = []
            for subtype, body in (("plain", self._text), ("html", self._html)):
                encoded = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
                parts.append(f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii") + encoded)
            self._raw = head + b"\r\n" + b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")
        return self._raw


def build_message(*, rendered: RenderedNotice, to: list[str], sender: Address, message_id: str | None = None,
                  now: dt.datetime | None = None) -> OutgoingMessage:
    """The notice as an e-mail; every recipient is checked before it is used."""
    recipients = [check_email(a) for a in to]
    if not recipients:
        raise NoticeError("нет адреса эл. почты")
    headers = {
        "Subject": header_safe(rendered.subject, SUBJECT_LIMIT),
        "From": formataddr((sender.display_name, sender.addr_spec), charset="utf-8"),
        "To": ", ".join(recipients),
        "Date": format_datetime(now or dt.datetime.now(dt.timezone.utc)),
        "Message-ID": message_id or make_msgid(domain=sender.domain or "kvorum.local"),
        "Auto-Submitted": "auto-generated",
    }
    return OutgoingMessage(headers=headers, text=rendered.text, html=rendered.html, recipients=recipients)
