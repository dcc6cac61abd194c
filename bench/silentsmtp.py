"""Shared by bench/smtp_stall.py and tests/faults (not a benchmark itself): an SMTP server that
hangs — it accepts every connection and never answers."""
from __future__ import annotations

import socket
import threading
import time


class SilentSmtpServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (no greeting, no replies)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.opened: list[float] = []  # monotonic time of every accepted connection
        self.closed: dict[int, float] = {}  # connection number -> when the client gave up
        self.conns: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                number = len(self.opened)
                self.opened.append(time.monotonic())
                self.conns.append(conn)
            threading.Thread(target=self._hold, args=(conn, number), daemon=True).start()

    def _hold(self, conn, number):
        try:
            while conn.recv(4096):  # whatever comes, no answer
                pass
        except OSError:
            pass
        with self.lock:
            self.closed[number] = time.monotonic()

    def is_open(self, number: int, at: float) -> bool:
        with self.lock:
            return self.closed.get(number, float("inf")) >= at

    def stop(self):
        self.running = False
        self.sock.close()
        for c in self.conns:
            c.close()

    def hanging(self) -> bool:
        """Whether a client is connected and waiting on the server right now."""
        with self.lock:
            return len(self.closed) < len(self.opened)
