"""One writer process of the «database is locked» test: `python sqlite_writer.py ROLE URL MEETING FIRST COUNT GO`.

Waits until the file GO exists (so every writer starts at the same moment), then makes COUNT
writes of its ROLE through the services, each its own transaction, exactly as the pages and
manage.py make them. An exception reaches the caller as a traceback and exit status 1.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.audit import record  # noqa: E402
from services.db import make_engine, make_session_factory  # noqa: E402
from services.registry import OwnerInput, apply_registry_changes  # noqa: E402
from services.voting import question_numbers, register_paper_decision  # noqa: E402

SECRET = "fault-tests-secret-key"


def main(role: str, url: str, meeting_id: int, first: int, count: int, go: str) -> None:
    sf = make_session_factory(make_engine(url))
    sf.configure(info={"secret_key": SECRET})  # as the app's runtime: registry and journal sealed
    with sf() as s:
        answers = {q: "for" for q in question_numbers(s, meeting_id)}
    while not Path(go).exists():
        time.sleep(0.001)
    slowest = 0.0
    for i in range(count):
        start = time.monotonic()
        if role == "registry":
            # one edit of an existing owner and one new owner (a new premise) per save
            oid = first + i
            apply_registry_changes(
                sf, meeting_id=meeting_id,
                edited={oid: OwnerInput(premise=str(oid), area="50", name=f"Изменённый {oid:06d}")},
                added=[OwnerInput(premise=f"Н-{first}-{i}", area="20.5", name=f"Новый {first}-{i}")],
            )
        elif role == "decision":
            register_paper_decision(sf, secret_key=SECRET, meeting_id=meeting_id, owner_id=first + i,
                                    received_on=dt.date.today(), answers=answers, user="fault-test")
        elif role == "audit":
            record(sf, actor=f"writer-{first}", action="export", meeting_id=meeting_id, what="registry", count=i)
        else:
            raise SystemExit(f"unknown role {role}")
        slowest = max(slowest, time.monotonic() - start)
    print(json.dumps({"role": role, "done": count, "slowest": round(slowest, 3)}))


if __name__ == "__main__":
    role, url, meeting, first, count, go = sys.argv[1:]
    main(role, url, int(meeting), int(first), int(count), go)
