"""Benchmark: an anonymous visitor sending Streamlit's `clear_cache` message over and over (issue 14, item 2).

Run from the repository root: `.venv/bin/python bench/clear_cache.py [--probes N] [--no-fail]`
(or `make bench`).

The real server (serve.py, as `make run`) on a fresh SQLite database. One websocket, spoken in
Streamlit's protobuf messages as a browser tab speaks them, opens /vote.
(a) Baseline, measured in the same run: the server's threads, its open database files, its CPU
    while idle for 5 s, and the median of 9 runs of /vote.
(b) N (default 500, as the probe) `clear_cache` messages, each followed by a rerun of /vote; then
    the same figures again.

Targets: no more than 3 extra threads and 1 extra open database file; idle CPU ≤ 10 % of a core;
/vote's median run ≤ 1.5 × its baseline (+ 50 ms for timer noise). Exits 1 when one is missed
(unless --no-fail). Before issue 14 the probe measured threads 9 → 509, idle CPU 1 % → 97 %, /vote
0.9 s → 3.9 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RUN_GUARD = 120  # s, one script run (a hang guard)


class StreamlitSocket:
    """One browser tab's websocket (/_stcore/stream), spoken in Streamlit's own protobuf messages."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, **fields) -> None:
        self.ws.send(BackMsg(**fields).SerializeToString())

    def rerun(self, page: str = "vote") -> float:
        """Ask for a run of the page, as the page does on every interaction; seconds until it ended."""
        started = time.perf_counter()
        self.send(rerun_script=ClientState(page_name=page, query_string=""))
        deadline = time.monotonic() + RUN_GUARD
        while time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(self.ws.recv(timeout=RUN_GUARD))
            if msg.WhichOneof("type") == "script_finished":
                return time.perf_counter() - started
        raise RuntimeError(f"a run of /{page} did not finish within {RUN_GUARD} s")


def connect(base_url: str):
    from websockets.sync.client import connect as ws_connect

    return ws_connect(base_url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
                      max_size=None, open_timeout=60)


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line")


def database_files(pid: int, db_path: Path) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd) == str(db_path)
        except OSError:
            continue
    return count


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, seconds: float = 5.0) -> float:
    """Share of one core the server uses while nobody asks it anything."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def figures(sock: StreamlitSocket, pid: int, db_path: Path) -> dict:
    time.sleep(1.5)  # threads started by the last run are up
    runs = [sock.rerun() for _ in range(9)]
    return {"threads": threads(pid), "db_files": database_files(pid, db_path), "idle_cpu": idle_cpu(pid),
            "vote_median": statistics.median(runs)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from browserkit import AppServer, free_port, wait_until_up

    data_dir = Path(tempfile.mkdtemp(prefix="kvorum-bench-clear-cache-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SMTP_")}
    env.update({"KVORUM_DATA_DIR": str(data_dir), "KVORUM_SECRETS_FILE": str(data_dir / "no-secrets.toml"),
                "PUBLIC_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"})
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = AppServer(f"http://127.0.0.1:{port}", data_dir, process, log_path, env)
    db_path = data_dir / "kvorum.db"
    try:
        wait_until_up(server)
        with connect(server.url) as ws:
            sock = StreamlitSocket(ws)
            sock.rerun()  # the first run imports the pages' modules: not measured
            base = figures(sock, process.pid, db_path)
            started = time.perf_counter()
            for _ in range(args.probes):
                sock.send(clear_cache=True)
                sock.rerun()
            probe_seconds = time.perf_counter() - started
            after = figures(sock, process.pid, db_path)
        locked = "database is locked" in server.log()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"clear_cache + rerun of /vote, {args.probes} times ({probe_seconds:.1f} s), on {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'':18}{'baseline':>12}{'after':>12}")
    print(f"{'threads':18}{base['threads']:>12}{after['threads']:>12}")
    print(f"{'open db files':18}{base['db_files']:>12}{after['db_files']:>12}")
    print(f"{'idle CPU':18}{base['idle_cpu']:>11.1%}{after['idle_cpu']:>12.1%}")
    print(f"{'/vote median run':18}{base['vote_median']:>11.3f}s{after['vote_median']:>11.3f}s"
          f"   ratio {after['vote_median'] / base['vote_median']:.2f}")
    print(f"«database is locked» in the log: {'yes' if locked else 'no'}")
    missed = []
    if after["threads"] > base["threads"] + 3:
        missed.append("threads grew")
    if after["db_files"] > base["db_files"] + 1:
        missed.append("database engines grew")
    if after["idle_cpu"] > 0.10:
        missed.append("idle CPU over 10 %")
    if after["vote_median"] > 1.5 * base["vote_median"] + 0.05:
        missed.append("/vote slower than 1.5 × baseline")
    if locked:
        missed.append("«database is locked» logged")
    print("targets met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed and not args.no_fail else 0


if __name__ == "__main__":
    sys.exit(main())
