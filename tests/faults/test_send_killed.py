"""§4 Faults: the sender killed in the middle of a batch loses no notice and sends at most one twice.

`manage.py send-notices --all --wait` sends 2 000 notices to a real SMTP server (aiosmtpd, in this
process) and gets SIGKILL at a random moment. A restarted `manage.py send-worker --once` finishes
the job. Then every owner has received a notice, every delivery is «sent», at most one message
went twice (the one in flight at the kill: the server had accepted it, the sender had not yet
committed it), and the code in the last message each owner received is the one that opens the
voting page.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import time
from collections import Counter
from email import policy
from email.parser import BytesParser

import pytest

from tests import hang
from sqlalchemy import select, update

from faultkit import SECRET, child_env, manage_popen, manage_run, new_meeting, registry_rows, write_registry_xlsx
from services.codes import hash_code, normalize_code
from services.models import AccessCode, Delivery, OwnerRecord, utcnow
from services.registry import import_registry
from services.sender import BATCH, LEASE
from services.voting import CodeRefused, enter_code

OWNERS = 2_000
CODE_RE = re.compile(r"код доступа:\s*([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


def code_of(raw: bytes) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    return CODE_RE.search(msg.get_body(preferencelist=("plain",)).get_content()).group(1)


def test_a_sender_killed_mid_batch_and_restarted_loses_nothing_and_duplicates_at_most_one(
        db_url, session_factory, smtp_server, tmp_path):
    meeting_id = new_meeting(session_factory)
    rows = registry_rows(OWNERS, tag="send", emails=True)
    path = write_registry_xlsx(tmp_path / "реестр.xlsx", rows)
    import_registry(session_factory, meeting_id=meeting_id, data=path.read_bytes(), filename=path.name, replace=True)
    with session_factory() as s:
        owner_of = {emails[0]: oid for oid, emails in s.execute(
            select(OwnerRecord.id, OwnerRecord.emails).where(OwnerRecord.meeting_id == meeting_id))}
    assert len(owner_of) == OWNERS

    env = child_env(db_url, tmp_path, **smtp_server.env())
    log = tmp_path / "send.log"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    # a random moment, but inside a batch: right at a batch's end the sender holds no claim, and
    # the lease path this test is about would not be exercised
    kill_after = rng.randint(OWNERS // 10, OWNERS * 9 // 10)
    while not 10 <= kill_after % BATCH <= BATCH - 20:
        kill_after = rng.randint(OWNERS // 10, OWNERS * 9 // 10)

    start = time.monotonic()
    proc = manage_popen("send-notices", "--meeting", str(meeting_id), "--all", "--wait", env=env, log=log)
    while len(smtp_server.raw) < kill_after:
        assert proc.poll() is None, f"the sender ended before the kill:\n{log.read_text()[-2000:]}"
        assert time.monotonic() - start < hang.COMMAND, hang.message("the sender's first messages", hang.COMMAND)
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.02))  # anywhere within the next message or two
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before_restart = len(smtp_server.raw)
    with session_factory() as s:
        states = Counter(s.scalars(select(Delivery.status).where(Delivery.meeting_id == meeting_id)))
    print(f"\n[seed {seed}] killed after {before_restart} of {OWNERS} messages reached the server "
          f"({time.monotonic() - start:.1f} s); deliveries then: {dict(states)}")
    assert proc.returncode == -signal.SIGKILL
    assert states["sending"] > 0, "the kill should leave claimed deliveries behind"

    # The killed process's claims keep their lease (services.sender.LEASE, a minute; waiting it out
    # is test_sender_lease_and_server_faults.py's): a worker started now would leave them alone until
    # it expires. The test lets that time pass by moving the leases into the past — exactly what the
    # clock would do — and changes nothing else.
    assert LEASE <= dt.timedelta(minutes=1)
    with session_factory.begin() as s:
        expired = s.execute(update(Delivery).where(Delivery.meeting_id == meeting_id, Delivery.status == "sending")
                            .values(claimed_until=utcnow() - dt.timedelta(seconds=1))).rowcount
    assert expired == states["sending"]

    result = manage_run("send-worker", "--once", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    with session_factory() as s:
        statuses = Counter(s.scalars(select(Delivery.status).where(Delivery.meeting_id == meeting_id)))
        active = dict(s.execute(select(AccessCode.owner_id, AccessCode.code_hash)
                                .where(AccessCode.meeting_id == meeting_id)).all())
    assert statuses == {"sent": OWNERS}, statuses

    received = Counter()
    codes: dict[str, list[str]] = {}
    for _from, rcpt, raw in smtp_server.raw:
        assert len(rcpt) == 1
        received[rcpt[0]] += 1
        codes.setdefault(rcpt[0], []).append(code_of(raw))
    lost = set(owner_of) - set(received)
    duplicates = {a: n for a, n in received.items() if n > 1}
    extra = sum(n - 1 for n in duplicates.values())
    print(f"messages at the server: {len(smtp_server.raw)} ({len(smtp_server.raw) - before_restart} after the "
          f"restart); owners without a notice: {len(lost)}; duplicates: {extra} {sorted(duplicates)}")
    assert not lost, f"{len(lost)} owners never got a notice"
    assert set(received) == set(owner_of)
    assert extra <= 1, f"{extra} duplicate messages: only the one in flight at the kill may go twice"

    # the last code each owner received is their active code, and it opens the voting page
    for address, oid in owner_of.items():
        assert active[oid] == hash_code(SECRET, normalize_code(codes[address][-1])), address
    checked = sorted(duplicates) + rng.sample(sorted(owner_of), 100)
    for address in checked:
        access = enter_code(session_factory, secret_key=SECRET, code=codes[address][-1],
                            client_keys=[f"fault-test:{address}"])
        assert access.owner_id == owner_of[address] and access.meeting_id == meeting_id
    for address in duplicates:  # the earlier message's code was never committed: it opens nothing
        with pytest.raises(CodeRefused):
            enter_code(session_factory, secret_key=SECRET, code=codes[address][0],
                       client_keys=[f"fault-test-old:{address}"])
