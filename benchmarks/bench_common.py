"""What bench.py and bench_postgres.py share: the paths, the emulator in a process of its own,
running smscli as a child (wall time, CPU, peak RSS) and its config file. Imports neither.

    .venv/bin/python benchmarks/bench_common.py --serve-emulator   # the emulator's process
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMSCLI = shutil.which("smscli", path=str(Path(PYTHON).parent)) or "smscli"
PROVIDERS = ("vairosms", "masgsm", "customersms")
TEMPLATE = "Hello {name}, your code is {code}. Reply STOP to opt out."
DRY_SEND = ["send", "05321234567", "-m", "Hello", "--dry-run", "--provider", "sandbox"]
NO_LIMIT = ["1000000/second"]  # replaces customersms's documented 100/minute

sys.path.insert(0, str(REPO))
from tests.emulator import Emulator as Emulator  # noqa: E402  (bench.py uses it too)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


# --- the emulator, in a process of its own --------------------------------------------------


def serve_emulator() -> None:
    """Child process: the loopback emulator, driven by one JSON command per stdin line."""
    with Emulator() as emu:

        def fresh(latency: float = 0.0, rate: float | None = None) -> None:
            emu.reset()  # forgets messages and requests: its memory stays flat across runs
            emu.latency, emu.rate_limit_per_second = latency, rate
            for provider in PROVIDERS:
                emu.set_credits(provider, 100_000_000)

        fresh()
        cpu = time.process_time()
        print(json.dumps({p: emu.base_url(p) for p in PROVIDERS}), flush=True)
        for line in sys.stdin:  # EOF (the parent closed stdin or died) stops it
            cmd = json.loads(line)
            reply: dict[str, Any] = {}
            if cmd["op"] == "reset":
                fresh(cmd["latency"], cmd["rate"])
                cpu = time.process_time()
            elif cmd["op"] == "stats":
                reply = {
                    "cpu": time.process_time() - cpu,  # the emulator's CPU seconds since reset
                    "received": len(emu.received),
                    "requests": len(emu.requests),
                    "rate_limited": emu.rate_limited,
                    "duplicates": len(emu.duplicates()),
                    "times": sorted(r.time for r in emu.requests) if cmd.get("times") else [],
                }
            print(json.dumps(reply), flush=True)


class EmulatorProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, __file__, "--serve-emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.urls: dict[str, str] = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def reset(self, latency: float = 0.0, rate: float | None = None) -> None:
        self.call("reset", latency=latency, rate=rate)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --- running smscli ---------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds
    code: int
    rss_mb: float
    stderr: str
    timed_out: bool = False  # killed (SIGKILL) after the caller's timeout


class TimedOut(Exception):
    """A measured run took longer than its timeout and was killed."""


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float | None = None) -> Run:
    """Wall time, exit code and peak RSS of one child. ``os.wait4`` gives the resource usage of
    exactly that child (RUSAGE_CHILDREN would be the maximum over every child ever waited for).
    ``timeout``: killed after that many seconds (``Run.timed_out``)."""
    return run_all([(args, env, cwd)], timeout)[1][0]


def run_all(
    jobs: list[tuple[list[str], dict[str, str], Path]], timeout: float | None = None
) -> tuple[float, list[Run]]:
    """Children started at once: the wall time until the last one exited, and each one's
    :class:`Run` (its ``seconds`` are that same wall time); those alive after ``timeout``
    seconds are killed."""
    with contextlib.ExitStack() as stack:
        errs = [stack.enter_context(tempfile.TemporaryFile()) for _ in jobs]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err,
            )
            for (args, env, cwd), err in zip(jobs, errs, strict=True)
        ]  # fmt: skip
        killed: list[bool] = []
        if timeout is not None:

            def kill() -> None:
                killed.append(True)
                for proc in procs:  # not Popen.kill, whose poll() would reap it from wait4
                    if proc.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill)
            timer.start()
            stack.callback(timer.cancel)
        waited = []
        for proc in procs:
            waited.append(os.wait4(proc.pid, 0))
            proc.returncode = os.waitstatus_to_exitcode(waited[-1][1])
        seconds = time.perf_counter() - start
        runs = []
        for (_, status, usage), err in zip(waited, errs, strict=True):
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            cpu = usage.ru_utime + usage.ru_stime
            code = os.waitstatus_to_exitcode(status)
            runs.append(Run(seconds, cpu, code, usage.ru_maxrss / 1024, text, bool(killed)))
    return seconds, runs


def write_config(path: Path, provider: str, url: str, limits: list[str] | None) -> None:
    """A config file with one profile ``b``: the only way to set a profile's rate_limits."""
    creds = {
        "customersms": {"api_key": Emulator.CUSTOMERSMS_KEY},
        "vairosms": {"api_key": Emulator.VAIROSMS_KEY, "sender": "ACME"},
        "masgsm": {"username": Emulator.MASGSM_USER, "password": Emulator.MASGSM_PASS},
    }[provider]
    lines = ["[profiles.b]", f'provider = "{provider}"', f'base_url = "{url}"']
    lines += [f'{k} = "{v}"' for k, v in creds.items()]
    lines += ['sender = "ACME"'] if provider == "masgsm" else []
    lines += [f"rate_limits = {json.dumps(limits)}"] if limits else []
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


class Ledger(NamedTuple):
    location: str  # SMSCLI_LEDGER
    schema: str | None  # PostgreSQL's; None: an SQLite file


if __name__ == "__main__" and sys.argv[1:] == ["--serve-emulator"]:
    serve_emulator()
