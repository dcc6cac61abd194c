"""Сообщение о проведении ОСС: the notice's content (ЖК РФ ст. 45 ч. 5) and the e-mail built from it.

The wording lives in `templates/` (Jinja2), so a management company can change it without code.
What users typed (addresses, names, questions) is escaped in HTML by autoescaping, and stripped of
line breaks wherever it reaches a mail header.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from fractions import Fraction
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services import owner_fields as f
from services.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
SUBJECT_TEMPLATE = "notice_subject.txt.j2"
TEXT_TEMPLATE = "notice_email.txt.j2"
HTML_TEMPLATE = "notice_email.html.j2"
VOTE_PATH = "vote"

# Deliberately narrower than RFC 5322: an address with quotes, spaces, brackets or line breaks is
# refused with a reason rather than passed to a mail header.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


class _ReusingPolicy(email_policy.EmailPolicy):
    """The SMTP policy, minus repeated work: the email package parses every header value it is
    given and refolds every header it writes, in pure Python — more time per notice than the SMTP
    exchange itself. Most headers of a batch are the same in every message (subject, sender, the
    parts' Content-Type…), so a parsed header is reused for an equal value, and a header's folded
    text is kept on the header for the folding settings it was made with. Header objects are
    immutable (a new value replaces the object), so the bytes written are exactly the same."""

    _PARSED_LIMIT = 256

    def header_store_parse(self, name, value):
        if type(value) is not str or self.header_factory is not _HEADER_FACTORY:
            return super().header_store_parse(name, value)
        key = (name, value)
        header = _PARSED.get(key)
        if header is None:
            name, header = super().header_store_parse(name, value)
            if len(_PARSED) >= self._PARSED_LIMIT:
                _PARSED.clear()  # unique values (To, Date, Message-ID) must not pile up
            _PARSED[key] = header
        return name, header

    def _fold(self, name, value, refold_binary=False):
        if not hasattr(value, "name"):
            return super()._fold(name, value, refold_binary)
        # Folding reads only these settings of the policy (email._header_value_parser).
        key = (self.max_line_length, self.utf8, self.linesep)
        folds = value.__dict__.setdefault("_folded", {})
        folded = folds.get(key)
        if folded is None:
            folded = folds[key] = value.fold(policy=self)
        return folded


_PARSED: dict = {}
_HEADER_FACTORY = email_policy.EmailPolicy.header_factory  # the stdlib's shared default registry

# Headers are not folded below 998 characters: CPython's folding of encoded words drops the space
# at a fold («проведенииобщего»). A subject of 300 Cyrillic letters still fits in one line.
MAIL_POLICY = _ReusingPolicy(linesep="\r\n", max_line_length=998)
del MAIL_POLICY.header_factory  # as email.policy.SMTP: use the default registry, which the cache assumes
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


@dataclass(frozen=True)
class OwnerView:
    name: str
    premise: str
    area: str
    share: str
    votes: str


def owner_view(*, name: str, premise: str, area, share: Fraction) -> OwnerView:
    votes = Fraction(area) * share
    return OwnerView(name=name, premise=premise, area=f.format_area(area).replace(" м²", ""),
                     share=f.format_share(share), votes=f"{float(votes):.2f}")


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

    def render(self, *, meeting: MeetingView, owner: OwnerView | None, code: str | None, public_url: str,
               counted_electronic: bool = False) -> RenderedNotice:
        ctx = {"meeting": meeting, "owner": owner, "code": code, "vote_url": vote_url(public_url),
               "counted_electronic": counted_electronic}
        subject = header_safe(self._subject.render(ctx))
        text = re.sub(r"\n{3,}", "\n\n", self._text.render(ctx)).strip() + "\n"
        return RenderedNotice(subject=subject, text=text, html=self._html.render(ctx))


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


def build_message(*, rendered: RenderedNotice, to: list[str], sender: Address, message_id: str | None = None,
                  now: dt.datetime | None = None) -> EmailMessage:
    """A multipart/alternative UTF-8 message; every recipient is checked before it is used."""
    recipients = [check_email(a) for a in to]
    if not recipients:
        raise NoticeError("нет адреса эл. почты")
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = header_safe(rendered.subject, SUBJECT_LIMIT)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.domain or "kvorum.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
