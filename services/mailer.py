"""Outgoing mail behind one tiny interface: `Mailer.send(message)` raises `MailError` or returns.

Two deliveries: SMTP through yagmail (its connection handling: SSL/STARTTLS/login), with one
connection kept for a whole batch and re-opened when the server drops it; and the outbox, which
writes every message as an .eml file under data/outbox/ when no SMTP server is configured.
yagmail builds its own messages and swallows failures; we hand its connection our prebuilt
message instead, so the failure reason reaches the owner's row.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from services.notice import OutgoingMessage
from services.settings import Settings


class MailError(Exception):
    """Sending failed. `scope` says what is to blame:

    - "recipient": this message or address was refused; the others may go on;
    - "server": the server is down, refused the login or the sender; nothing can go now.
    `permanent` says whether trying the same again can help. The message is Russian, for the user.
    `reply` is the server's reply to the message itself (DATA), when that is what refused it: the
    same refusal for many recipients in a row is the server's fault, not theirs (services/sender.py).
    """

    def __init__(self, message: str, *, scope: str, permanent: bool, reply: str = ""):
        super().__init__(message)
        self.message = message
        self.scope = scope
        self.permanent = permanent
        self.reply = reply


class Mailer(Protocol):
    label: str

    def send(self, message: EmailMessage | OutgoingMessage) -> None: ...

    def close(self) -> None: ...


def _reply_text(code, reply) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return f"{code} {' '.join(str(reply).split())}"[:300]


class SmtpMailer:
    """SMTP via yagmail's connection; one connection per batch, re-opened once if it was dropped."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.label = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        self._client = None
        self._envelope_from = None

    def _connect(self):
        import yagmail

        s = self.settings
        skip_login = not s.smtp_user
        kwargs = {"timeout": s.smtp_timeout}
        try:
            client = yagmail.SMTP(
                user=s.smtp_user or "", password=s.smtp_password or "", host=s.smtp_host, port=s.smtp_port,
                smtp_ssl=s.smtp_security == "ssl", smtp_starttls=s.smtp_security == "starttls",
                smtp_skip_login=skip_login, soft_email_validation=False, **kwargs,
            )
            client.login()
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"SMTP-сервер {s.smtp_host} отклонил вход: проверьте SMTP_USER и SMTP_PASSWORD "
                f"(ответ сервера: {_reply_text(exc.smtp_code, exc.smtp_error)})", scope="server", permanent=False,
            ) from exc
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise MailError(self._down_text(exc), scope="server", permanent=False) from exc
        self._client = client

    def _down_text(self, exc: BaseException) -> str:
        s = self.settings
        # smtplib turns a read that timed out into SMTPServerDisconnected("Connection unexpectedly
        # closed: timed out"); the timeout is the real reason, kept as the exception's context
        timeout = (socket.timeout, TimeoutError)
        timed_out = isinstance(exc, timeout) or (
            isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, timeout))
        if timed_out:
            why = "сервер не ответил вовремя"
        elif isinstance(exc, ConnectionRefusedError):
            why = "соединение отклонено — сервер не запущен или порт неверный"
        elif isinstance(exc, socket.gaierror):
            why = "адрес сервера не найден"
        elif isinstance(exc, ssl.SSLError):
            why = f"ошибка шифрования ({exc.reason or exc}) — проверьте SMTP_SECURITY"
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            why = "сервер разорвал соединение"
        else:
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
        return f"SMTP-сервер {s.smtp_host}:{s.smtp_port} недоступен: {why}"

    def send(self, message: EmailMessage | OutgoingMessage) -> None:
        ensure_message_id(message, self.settings.mail_from)
        for attempt in (1, 2):
            if self._client is None:
                self._connect()
            envelope_from = self._sender(message)
            try:
                recipients = getattr(message, "recipients", None) or [
                    a.strip() for a in str(message["To"]).split(",") if a.strip()]
                refused = self._client.smtp.sendmail(envelope_from, recipients, message.as_bytes())
            except smtplib.SMTPRecipientsRefused as exc:
                reasons = "; ".join(f"{addr}: {_reply_text(c, r)}" for addr, (c, r) in exc.recipients.items())
                temporary = all(400 <= c < 500 for c, _r in exc.recipients.values())
                raise MailError(f"Сервер отклонил адрес: {reasons}", scope="recipient", permanent=not temporary) from exc
            except smtplib.SMTPSenderRefused as exc:
                raise MailError(
                    f"Сервер отклонил отправителя {exc.sender}: {_reply_text(exc.smtp_code, exc.smtp_error)} — "
                    "проверьте MAIL_FROM", scope="server", permanent=False,
                ) from exc
            except smtplib.SMTPDataError as exc:
                reply = _reply_text(exc.smtp_code, exc.smtp_error)
                raise MailError(f"Сервер не принял письмо: {reply}", scope="recipient",
                                permanent=exc.smtp_code >= 500, reply=reply) from exc
            except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError) as exc:
                self._drop()
                if attempt == 2:
                    raise MailError(self._down_text(exc), scope="server", permanent=False) from exc
                continue  # the server dropped a kept connection: re-open once and try again
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                raise MailError(self._down_text(exc), scope="server", permanent=False) from exc
            if refused:
                reasons = "; ".join(f"{addr}: {_reply_text(c, r)}" for addr, (c, r) in refused.items())
                raise MailError(f"Сервер отклонил часть адресов: {reasons}", scope="recipient", permanent=True)
            return

    def _sender(self, message: EmailMessage | OutgoingMessage) -> str:
        if self._envelope_from is None:
            from email.utils import parseaddr

            self._envelope_from = self.settings.smtp_user if "@" in (self.settings.smtp_user or "") else ""
            self._envelope_from = parseaddr(str(message["From"]))[1] or self._envelope_from
        return self._envelope_from

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.smtp.close()
            except Exception:  # closing a broken socket may fail in any way; it is gone either way
                pass
        self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._client = None


_UNSAFE_NAME = re.compile(r"[^\w.-]+")


class OutboxMailer:
    """Исходящие без SMTP: each message becomes data/outbox/<meeting>/<time>_<id>.eml, 0600 in 0700
    folders (the notices carry the owners' codes). A name already taken is never overwritten."""

    label = "Папка исходящих (SMTP не настроен)"

    def __init__(self, outbox_dir: Path, mail_from: str | None = None):
        self.outbox_dir = Path(outbox_dir)
        self.mail_from = mail_from

    def send(self, message: EmailMessage | OutgoingMessage) -> None:
        from services.db import FILE_MODE, private_dir

        ensure_message_id(message, self.mail_from)
        private_dir(self.outbox_dir)
        folder = private_dir(self.outbox_dir / _UNSAFE_NAME.sub("_", str(message.get("X-Kvorum-Meeting", "all"))))
        msg_id = _UNSAFE_NAME.sub("_", str(message["Message-ID"]).strip("<>"))[:120]
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}_{msg_id}"
        tmp = folder / f".{stem}.{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            for n in range(1, 1000):
                path = folder / (f"{stem}.eml" if n == 1 else f"{stem}_{n}.eml")
                try:
                    os.link(tmp, path)  # atomic, and never over another message: a reader sees whole files
                    return
                except FileExistsError:
                    continue
            raise MailError(f"В папке исходящих {folder} не удалось сохранить письмо: имена заняты",
                            scope="server", permanent=False)
        finally:
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        pass


def ensure_message_id(message: EmailMessage | OutgoingMessage, mail_from: str | None) -> None:
    """Every message leaves with a Message-ID (and a Date): the sender's domain, else MAIL_FROM's."""
    if message.get("Message-ID"):
        return
    domain = ""
    for source in (str(message.get("From", "") or ""), mail_from or ""):
        addr = parseaddr(source)[1]
        if "@" in addr:
            domain = addr.rsplit("@", 1)[1]
            break
    message["Message-ID"] = make_msgid(domain=domain or "kvorum.local")
    if not message.get("Date"):
        message["Date"] = formatdate(localtime=False, usegmt=True)


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OutboxMailer(settings.data_dir / "outbox", mail_from=settings.mail_from)


def delivery_label(settings: Settings) -> str:
    if settings.smtp_host:
        return f"SMTP-сервер {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"
    return "SMTP не настроен: письма сохраняются в папку исходящих data/outbox/ и не уходят адресатам"


def list_outbox(settings: Settings, *, meeting_id: int | None = None, limit: int = 200) -> list[Path]:
    base = settings.data_dir / "outbox"
    folder = base / str(meeting_id) if meeting_id is not None else base
    if not folder.is_dir():
        return []
    files = sorted(folder.rglob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    return files[:limit]


@dataclass
class OutboxEntry:
    path: Path
    to: str
    when: dt.datetime


def outbox_entries(paths: list[Path]) -> list[OutboxEntry]:
    """What the outbox page lists: the recipient and the time of each .eml (read from its headers)."""
    from email.parser import BytesHeaderParser
    from email import policy

    entries = []
    for path in paths:
        with path.open("rb") as fh:
            headers = BytesHeaderParser(policy=policy.default).parse(fh)
        # an instant (aware, UTC), not the server's wall clock: pages show it in the company's time zone
        entries.append(OutboxEntry(path, str(headers.get("To", "")),
                                   dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)))
    return entries
