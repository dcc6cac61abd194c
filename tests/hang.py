"""The tests' time limits, in one place. Every one of them is a guard against a hang, never a speed
target: a test asserts outcomes (every decision stored once, every page rendered, nothing lost), and
the speed of a thing lives in bench/, measured against a baseline of the same run.

Each guard is at least ten times the median measured on a quiet 2-core machine (the figure beside
it), so a machine busy with other work — CI beside two CPU-bound processes — stays far inside it.
A test that runs out of one of these has hung; its message says so.
"""
from __future__ import annotations

#: s, one AppTest run of a page (median 0.3–2 s; a process's first run imports pandas, ≈ 6 s)
PAGE_RUN = 120
#: ms, Playwright waiting for one element (median under 1 s; a fresh server's first page ≈ 6 s)
UI_MS = 90_000
#: s, a Streamlit server answering its health check (median ≈ 3 s)
SERVER_START = 180
#: s, a manage.py command or child process that does real work (median 2–20 s)
COMMAND = 600
#: s, a child process asked to stop (median well under 1 s)
STOP = 60


def message(what: str, seconds: float) -> str:
    """The failure text of a guard: it names the hang, not a slowness."""
    return (f"{what} did not finish within {seconds:g} s — a hang guard, ten times and more what a busy "
            f"machine needs; speed itself is measured in bench/")
