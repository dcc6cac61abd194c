"""Benchmark: sending 10 000 e-mail notices through the durable job, against plain smtplib.

Run from the repository root: `.venv/bin/python bench/send_notifications.py [--postgres URL]`
(or `make bench`).

A local aiosmtpd server runs in a separate process, so its CPU does not share the GIL with the
code measured; it counts what arrives and reports it back. In the same run:

(a) baseline: the plain smtplib loop on ONE connection — for every owner an `EmailMessage` of the
    standard library is built from the same rendered subject, text and HTML and sent with
    `smtp.send_message(msg)`; building + sending are timed (rendering is done beforehand);
(a0) reference, the wire alone: the same messages serialized beforehand, `smtp.sendmail(bytes)`
    in a loop — what the SMTP exchange itself costs; its ratio is printed too;
(b) ours: `queue_notices` + `run_sender(until_idle=True)` end to end — queuing, claiming,
    rendering, drawing codes, sending through `SmtpMailer` and committing every outcome;
(c) for reference, a naive yagmail loop (`yag.send(...)` per message: yagmail opens a new
    connection for every message), on a sample.

Target (issue 4): ours ≥ 0.8 × the baseline's messages/second, with nothing lost or duplicated
(exactly 10 000 distinct recipients at the server, every delivery «sent», 10 000 access codes).
With `--postgres URL` (b) runs on SQLite and on a throw-away database kvorum_bench_<pid> on that
server, dropped afterwards. Exits 1 when a target is missed (unless --no-fail).
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import smtplib
import socket
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
OWNERS = 10_000
TARGET_RATIO = 0.8
YAGMAIL_SAMPLE = 1_000
SECRET = "bench-secret-key"
PUBLIC_URL = "https://kvorum.example"
MAIL_FROM = "УК Пример <oss@uk-primer.example>"

_SURNAMES = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Фёдоров",
             "Семёнов", "Морозов", "Лебедев"]
_FIRST = ["Иван", "Пётр", "Алексей", "Сергей", "Андрей", "Дмитрий", "Николай", "Михаил"]
_PATRON = ["Иванович", "Петрович", "Алексеевич", "Сергеевич", "Андреевич", "Дмитриевич"]


# ---------- the SMTP server, in its own process ----------

class _Counter:
    """aiosmtpd handler: keeps only the recipients and the size of what arrives."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.recipients: list[tuple[str, ...]] = []
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.recipients.append(tuple(envelope.rcpt_tos))
            self.bytes += len(envelope.original_content or envelope.content)
        return "250 Message accepted"


def _serve(conn) -> None:
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = _Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    conn.send(port)
    while True:
        command = conn.recv()
        if command == "report":
            with handler.lock:
                conn.send((list(handler.recipients), handler.bytes))
        elif command == "reset":
            with handler.lock:
                handler.recipients.clear()
                handler.bytes = 0
            conn.send("ok")
        else:
            controller.stop()
            conn.send("stopped")
            return


class ServerProcess:
    def __init__(self):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="bench-smtp")
        self._proc.start()
        self.port = self._conn.recv()

    def report(self) -> tuple[list[tuple[str, ...]], int]:
        self._conn.send("report")
        return self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send("stop")
            self._conn.recv()
        finally:
            self._proc.join(5)


# ---------- the data ----------

def _name(i: int) -> str:
    return f"{_SURNAMES[i % 12]} {_FIRST[(i // 12) % 8]} {_PATRON[(i // 96) % 6]}"


def prepare_database(url: str, owners: int) -> tuple:
    """A migrated database with one meeting and `owners` owners, each with an e-mail; fast Core inserts."""
    from services import owner_fields as f
    from services.db import make_engine, make_session_factory, upgrade_schema
    from services.law import AGENDA_TEMPLATES
    from services.meetings import MeetingData, QuestionData, create_meeting
    from services.models import OwnerRecord, Premise
    from sqlalchemy import select

    engine = make_engine(url)
    upgrade_schema(engine)
    session_factory = make_session_factory(engine)
    today = dt.date.today()
    meeting_id = create_meeting(session_factory, data=MeetingData(
        address="г. Москва, ул. Садовая, д. 10", initiator="ООО «УК Пример»",
        initiator_details="ОГРН 1027700000000, ИНН 7700000000; 125000, г. Москва, ул. Садовая, д. 1, офис 5",
        start_date=today + dt.timedelta(days=12), end_date=today + dt.timedelta(days=42),
        decisions_place="г. Москва, ул. Садовая, д. 1, офис 5, пн–пт 9:00–18:00",
        materials_place="офис управляющей организации; сайт uk-primer.example",
        questions=[QuestionData(t.text, t.majority) for t in AGENDA_TEMPLATES[:6]],
    ))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with session_factory.begin() as s:
        conn = s.connection()
        conn.execute(Premise.__table__.insert(), [
            {"meeting_id": meeting_id, "number": str(i + 1), "number_key": str(i + 1), "kind": "residential",
             "area": Decimal(30 + i % 70) + Decimal("0.45")} for i in range(owners)
        ])
        premises = dict(conn.execute(select(Premise.number, Premise.id).where(Premise.meeting_id == meeting_id)).all())
        conn.execute(OwnerRecord.__table__.insert(), [
            {"meeting_id": meeting_id, "premise_id": premises[str(i + 1)], "name": _name(i),
             "name_key": f.name_key(_name(i)), "is_legal_entity": False, "share_num": 1 + (i % 3 == 0),
             "share_den": 2 + (i % 3 == 0), "doc_number": f"77-77/{i:06d}", "doc_date": None, "snils": "",
             "emails": [f"owner{i}@example.test"], "phones": [], "source_row": i + 2, "created_at": now}
            for i in range(owners)
        ])
    return engine, session_factory, meeting_id


def owner_ids(session_factory, meeting_id) -> list[int]:
    from services.models import OwnerRecord
    from sqlalchemy import select

    with session_factory() as s:
        return list(s.scalars(select(OwnerRecord.id).where(OwnerRecord.meeting_id == meeting_id)))


def build_messages(session_factory, meeting_id):
    """The messages the job would send, built with the same renderer and `build_message`."""
    from services.codes import generate_code
    from services.models import OwnerRecord, Premise
    from services.notice import NoticeRenderer, build_message, owner_view, sender_address
    from services.sender import counts_electronic, meeting_view
    from sqlalchemy import select

    renderer = NoticeRenderer()
    with session_factory() as s:
        meeting = meeting_view(s, meeting_id)
        electronic = counts_electronic(s, meeting_id)
        rows = s.execute(
            select(OwnerRecord.name, OwnerRecord.share_num, OwnerRecord.share_den, OwnerRecord.emails,
                   Premise.number, Premise.area)
            .join(Premise, OwnerRecord.premise_id == Premise.id).where(OwnerRecord.meeting_id == meeting_id)
            .order_by(OwnerRecord.id)
        ).all()
    sender = sender_address(MAIL_FROM, meeting.initiator)
    messages, renders = [], []
    for name, num, den, emails, number, area in rows:
        rendered = renderer.render(
            meeting=meeting, owner=owner_view(name=name, premise=number, area=area, share=Fraction(num, den)),
            code=generate_code(), public_url=PUBLIC_URL, counted_electronic=electronic,
        )
        msg = build_message(rendered=rendered, to=list(emails), sender=sender)
        msg["X-Kvorum-Meeting"] = str(meeting_id)
        messages.append(msg)
        renders.append((rendered, list(emails)))
    return messages, renders, rendered, sender


# ---------- the measurements ----------

def check_server(server: ServerProcess, expected: set[str]) -> tuple[bool, str, int]:
    received, size = server.report()
    flat = [r for rcpts in received for r in rcpts]
    ok = len(received) == len(expected) and len(flat) == len(expected) and set(flat) == expected
    why = (f"server got {len(received)} messages, {len(flat)} recipients, {len(set(flat))} distinct"
           f" (expected {len(expected)})")
    return ok, why, size


def baseline_stdlib_loop(server: ServerProcess, renders, sender, envelope_from: str) -> float:
    """The loop a developer writes with the standard library: for each owner build an
    EmailMessage (same subject, text and HTML; UTF-8; multipart/alternative) and send_message it
    over ONE connection. Timed: building + sending (the texts are rendered beforehand)."""
    from email.message import EmailMessage

    server.reset()
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    smtp.ehlo()
    start = time.perf_counter()
    for rendered, to in renders:
        msg = EmailMessage()
        msg["Subject"] = rendered.subject
        msg["From"] = sender
        msg["To"] = ", ".join(to)
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        smtp.send_message(msg, from_addr=envelope_from)
    elapsed = time.perf_counter() - start
    smtp.quit()
    return elapsed


def baseline_smtplib(server: ServerProcess, messages, envelope_from: str) -> float:
    server.reset()
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    smtp.ehlo()
    prepared = [(msg.recipients, msg.as_bytes()) for msg in messages]  # the same bytes, written beforehand
    start = time.perf_counter()
    for recipients, raw in prepared:
        smtp.sendmail(envelope_from, recipients, raw)
    elapsed = time.perf_counter() - start
    smtp.quit()
    return elapsed


def naive_yagmail(server: ServerProcess, messages, rendered, count: int) -> float:
    import logging

    import yagmail

    logging.getLogger("yagmail").setLevel(logging.ERROR)
    server.reset()
    yag = yagmail.SMTP(user="oss@uk-primer.example", password="", host="127.0.0.1", port=server.port,
                       smtp_ssl=False, smtp_starttls=False, smtp_skip_login=True, soft_email_validation=False)
    start = time.perf_counter()
    for msg in messages[:count]:
        # yagmail builds its own message from the texts and reconnects inside every send()
        yag.send(to=str(msg["To"]), subject=rendered.subject, contents=[rendered.text])
    elapsed = time.perf_counter() - start
    yag.close()
    return elapsed


def run_ours(label: str, url: str, server: ServerProcess, owners: int) -> dict:
    from services.mailer import SmtpMailer
    from services.models import AccessCode, Delivery
    from services.notify import queue_notices
    from services.sender import SenderConfig, run_sender
    from services.settings import load_settings
    from sqlalchemy import func, select

    engine, session_factory, meeting_id = prepare_database(url, owners)
    try:
        ids = owner_ids(session_factory, meeting_id)
        settings = load_settings({"KVORUM_DATA_DIR": str(OUT), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port),
                                  "SMTP_SECURITY": "none", "MAIL_FROM": MAIL_FROM})
        config = SenderConfig(secret_key=SECRET, public_url=PUBLIC_URL, mail_from=MAIL_FROM)
        server.reset()
        start = time.perf_counter()
        queued = queue_notices(session_factory, meeting_id=meeting_id, owner_ids=ids, request_key=f"bench-{label}")
        queued_at = time.perf_counter()
        stats = run_sender(session_factory, mailer_factory=lambda: SmtpMailer(settings), config=config,
                           until_idle=True)
        elapsed = time.perf_counter() - start
        ok, why, _size = check_server(server, {f"owner{i}@example.test" for i in range(owners)})
        with session_factory() as s:
            statuses = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
            codes = s.scalar(select(func.count(func.distinct(AccessCode.code_hash)))
                             .where(AccessCode.meeting_id == meeting_id))
        ok = ok and queued.queued == owners and statuses == {"sent": owners} and codes == owners
        ok = ok and stats.sent == owners and stats.failed == 0
        why += f"; deliveries {statuses}; {codes} distinct access codes; sender stats sent={stats.sent} failed={stats.failed}"
        return {"seconds": elapsed, "queue_seconds": queued_at - start, "ok": ok, "why": why}
    finally:
        engine.dispose()


def postgres_database(url: str):
    """A throw-away database kvorum_bench_<pid> on the server of `url`: (its url, drop())."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"kvorum_bench_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run the job on PostgreSQL (a throw-away database)")
    parser.add_argument("--owners", type=int, default=OWNERS)
    parser.add_argument("--no-yagmail", action="store_true", help="skip the naive yagmail reference")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a target is missed")
    args = parser.parse_args()
    owners = args.owners
    OUT.mkdir(parents=True, exist_ok=True)
    failed = False
    print(f"Sending {owners:,} notices to a local aiosmtpd server (separate process), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")

    server = ServerProcess()
    sqlite_path = OUT / f"send_{os.getpid()}.db"
    try:
        # (a) baseline: messages built first (not timed), then one smtplib connection sends them all
        engine, session_factory, meeting_id = prepare_database(f"sqlite:///{OUT / f'base_{os.getpid()}.db'}", owners)
        t = time.perf_counter()
        messages, renders, rendered, sender = build_messages(session_factory, meeting_id)
        build_seconds = time.perf_counter() - t
        engine.dispose()
        envelope_from = sender.addr_spec
        expected = {f"owner{i}@example.test" for i in range(owners)}
        base_seconds = baseline_stdlib_loop(server, renders, sender, envelope_from)
        ok, why, size = check_server(server, expected)
        base_rate = owners / base_seconds
        print(f"\n(a) baseline, plain smtplib loop on one connection: {base_rate:8.0f} msg/s  ({base_seconds:.2f} s)")
        print("    timed: for each owner, build an EmailMessage (standard library) from the rendered texts and "
              "smtp.send_message it (rendering the texts took "
              f"{build_seconds:.2f} s beforehand, not timed); {size / owners / 1024:.1f} KiB per message")
        print(f"    {why}")
        failed |= not ok
        wire_seconds = baseline_smtplib(server, messages, envelope_from)
        ok, why, _size = check_server(server, expected)
        wire_rate = owners / wire_seconds
        print(f"\n(a0) reference, the wire alone: smtp.sendmail(from, to, bytes) over messages serialized "
              f"beforehand: {wire_rate:8.0f} msg/s  ({wire_seconds:.2f} s); {why}")
        failed |= not ok
        del renders

        # (c) reference: yagmail as a naive script would use it
        if not args.no_yagmail:
            count = min(YAGMAIL_SAMPLE, owners)
            yag_seconds = naive_yagmail(server, messages, rendered, count)
            received, _ = server.report()
            print(f"\n(c) reference, naive yagmail loop (yag.send per message, a new connection each time; "
                  f"{count:,} messages): {count / yag_seconds:8.0f} msg/s  ({len(received)} received)")
        del messages

        # (b) ours, end to end
        backends = [("SQLite", f"sqlite:///{sqlite_path}", None)]
        drop = None
        if args.postgres:
            pg_url, drop = postgres_database(args.postgres)
            backends.append(("PostgreSQL", pg_url, drop))
        try:
            for label, url, _drop in backends:
                result = run_ours(label, url, server, owners)
                rate = owners / result["seconds"]
                ratio = rate / base_rate
                passed = result["ok"] and ratio >= TARGET_RATIO
                failed |= not passed
                print(f"\n(b) ours on {label}: queue_notices + run_sender(until_idle=True), end to end: "
                      f"{rate:8.0f} msg/s  ({result['seconds']:.2f} s, of which queuing {result['queue_seconds']:.2f} s)")
                print("    timed: queuing, claiming, rendering, drawing codes, sending, committing every outcome")
                print(f"    {result['why']}")
                print(f"    nothing lost or duplicated: {'PASS' if result['ok'] else 'FAIL'}")
                print(f"    ratio ours/baseline = {ratio:.2f} (target ≥ {TARGET_RATIO}): "
                      f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; ours/wire alone = {rate / wire_rate:.2f}")
        finally:
            if drop is not None:
                drop()
    finally:
        server.stop()
        for path in OUT.glob(f"*_{os.getpid()}.db*"):
            path.unlink(missing_ok=True)
        for path in OUT.glob(f"*_{os.getpid()}.db-*"):
            path.unlink(missing_ok=True)

    print(f"\n{'FAIL' if failed else 'PASS'}")
    return 1 if failed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
