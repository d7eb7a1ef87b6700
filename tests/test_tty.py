"""Behaviour on a real terminal (a pseudo-terminal): the bulk confirmation question and the
progress bar."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.emulator import Emulator

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def read_until(fd: int, needle: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_bulk_asks_on_a_terminal_and_shows_a_progress_bar(home, emulator):
    lines = ["ad,telefon"] + [f"Kişi {i},0532{i:07d}" for i in range(30)]
    (home.cwd / "k.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", "bulk", "k.csv", "-m", "Merhaba {ad}"],
        cwd=home.cwd,
        env=home.env(
            SMSCLI_PROVIDER="vairosms",
            SMSCLI_API_KEY=Emulator.VAIROSMS_KEY,
            SMSCLI_SENDER="ACME",
            SMSCLI_BASE_URL=emulator.base_url("vairosms"),
            TERM="xterm-256color",
            COLUMNS="120",
        ),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    try:
        asked = read_until(master, b"[y/N]")
        assert b"Send 30 messages (30 parts) through vairosms?" in asked
        assert emulator.requests == []  # nothing before the answer
        os.write(master, b"y\n")
        rest = read_until(master, b"run ")
        rest += read_until(master, b"\n", timeout=5)
        assert child.wait(timeout=30) == 0
    finally:
        os.close(master)
    screen = (asked + rest).decode("utf-8", "replace")
    assert "sending" in screen and "30/30" in screen  # the rich progress bar
    assert "\x1b[" in screen  # colour and cursor control on a terminal
    assert len(emulator.received) == 30
