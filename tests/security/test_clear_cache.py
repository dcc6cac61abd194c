"""An anonymous visitor cannot wear the server down with Streamlit's «Clear caches».

Any browser may send the `clear_cache` message over the websocket (the menu's «Clear caches» does);
Streamlit then empties st.cache_resource for the whole process. The probe of issue 14 sent 500 of
them on /vote, each followed by a rerun, and every rerun built another database engine and another
sender thread. Here the real server (serve.py, as `make run` starts it) gets 50 of them over a real
websocket, with no browser in between, and its thread count and open database files stay put.
The figures under the probe's 500 messages (threads, idle CPU, /vote's run) are bench/clear_cache.py's.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.clear_cache import StreamlitSocket, connect, database_files, threads

pytestmark = pytest.mark.e2e

PROBES = 50


def _settle(pid: int, db_path: Path) -> tuple[int, int]:
    time.sleep(1.5)  # a sender thread started by the last run is up by now
    return threads(pid), database_files(pid, db_path)


def test_clear_cache_messages_on_the_vote_page_start_no_engine_and_no_sender(start_app_server):
    server = start_app_server()
    pid = server.process.pid
    db_path = server.data_dir / "kvorum.db"
    with connect(server.url) as ws:
        sock = StreamlitSocket(ws)
        sock.rerun()  # /vote opened once, as a visitor would
        threads_before, files_before = _settle(pid, db_path)
        for _ in range(PROBES):
            sock.send(clear_cache=True)
            sock.rerun()
        threads_after, files_after = _settle(pid, db_path)
    print(f"\nafter /vote: {threads_before} threads, {files_before} open database files; after {PROBES} "
          f"clear_cache + rerun: {threads_after} threads, {files_after} open database files")
    assert server.process.poll() is None, server.log()[-3000:]
    # a little slack for Streamlit's own worker threads, far below one thread per message
    assert threads_after <= threads_before + 3, (threads_before, threads_after)
    assert files_after <= files_before + 1, (files_before, files_after)
    assert "database is locked" not in server.log()


def test_the_process_holder_keeps_one_engine_and_one_sender_whatever_the_caches(sqlite_url, tmp_path, monkeypatch):
    import streamlit as st

    from services import process

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KVORUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KVORUM_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("KVORUM_EMBEDDED_SENDER", "1")
    process.close()
    try:
        rt, sender = process.runtime(), process.ensure_sender()
        assert sender is not None and sender.thread.is_alive()
        for _ in range(20):  # what `clear_cache` does to the process, then a run of a page
            st.cache_resource.clear()
            st.cache_data.clear()
            assert process.runtime() is rt and process.ensure_sender() is sender
        assert process.started() == (rt, sender)
    finally:
        process.close()
    assert not sender.thread.is_alive(), "close() stops the sender"
