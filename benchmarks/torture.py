"""kill -9 torture: exactly once when `smscli bulk` is killed at random moments (issue 18).

    .venv/bin/python benchmarks/torture.py                  # 7 kills per provider, < 1 minute
    .venv/bin/python benchmarks/torture.py --quick          # 3 kills per provider, 150 rows
    .venv/bin/python benchmarks/torture.py --seed 12345 --kills 10 --rows 500

For each of customersms, vairosms and masgsm: one personalised campaign, the loopback emulator
of tests/emulator.py with added latency and a few injected faults, and `smscli bulk ... --yes`
started, killed with SIGKILL at a random moment and started again (the same command resumes
the run) until --kills kills have landed while the run was still going; then it runs to the
end. Unknown messages are never retried (--retry-unknown could send them twice): they are
counted. At the end the ledger is checked against what the emulator's phones received:
0 duplicates and 0 lost is a PASS. Progress goes to stderr, the table to stdout; the exit code
is 1 on FAIL. Everything runs in a temp dir (its own ledger and config) against 127.0.0.1.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMSCLI = shutil.which("smscli", path=str(Path(PYTHON).parent))
PROVIDERS = ("customersms", "vairosms", "masgsm")
CONTRACT = frozenset({0, 1, 5, 6, 7, 8})  # exit codes a bulk run may end with here
FAULTS = ("500-after-processing", "drop-after-processing", "429", "500", "drop-before-processing")
NAMES = ("Ayşe", "Mehmet", "Fatma", "Ali", "Zeynep", "Mustafa", "Elif", "Emre")
TEMPLATE = "Sayın {ad}, {kod} numaralı siparişiniz kargoya verildi."
BATCH = {"customersms": 5, "vairosms": 3, "masgsm": 3}  # numbers per request (see README)
CONCURRENCY = 2
START_WINDOW = 0.05  # seconds after spawn before an early kill (plus up to one start-up)
WIRE_WINDOW = 0.6  # at most this long after the child's first send request reached the emulator
FINAL_TIMEOUT = 180.0  # seconds an uninterrupted run may take
SENDS = {  # the path of each provider's send request
    "customersms": "/customersms/sms_system/api.php",
    "vairosms": "/vairosms/Panel/api/v1/SmsGonder",
    "masgsm": "/masgsm/MasApiV2/api_post.php",
}

sys.path.insert(0, str(REPO))
from tests.emulator import Emulator, RecordedRequest, normalize_number  # noqa: E402


def log(text: str) -> None:
    print(f"[torture {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def tail(text: str) -> str:
    """The last lines of a child's stderr, on one line."""
    return " | ".join(text.strip().splitlines()[-4:])[-600:]


def is_send(provider: str, req: RecordedRequest) -> bool:
    if req.path != SENDS[provider]:
        return False
    return provider != "masgsm" or (req.form or {}).get("type") in ("0", "1")


# --- one provider's campaign ------------------------------------------------------------------


@dataclass
class Result:
    provider: str
    latency: float
    kills: int = 0
    on_wire: int = 0  # kills after the child's first send request had reached the emulator
    late_kills: int = 0  # the child was alive but the run already complete: not counted
    runs: int = 0
    rows: int = 0
    states: Counter[str] = field(default_factory=Counter)
    unknown_received: int = 0
    unknown_not: int = 0
    duplicates: int = 0
    lost: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    codes: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    err: Path
    started: float
    sends_before: int


class Torture:
    """One provider: its emulator, work dir, campaign and the kill/resume rounds."""

    def __init__(self, provider: str, work: Path, rng: random.Random, rows: int, kills: int):
        self.provider, self.work, self.rng, self.rows, self.kills = provider, work, rng, rows, kills
        self.emu = Emulator(latency=round(rng.uniform(0.020, 0.050), 3))
        self.result = Result(provider, self.emu.latency)
        self.timers: list[threading.Timer] = []
        self.injected: list[str] = []  # faults queued in the emulator so far
        self.startup = 0.5  # seconds from spawn to the first send request, last seen
        self.children: list[subprocess.Popen[bytes]] = []  # to kill if this script is stopped

    # -- set-up ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.work.mkdir()
        lines = ["ad,telefon,kod"]
        lines += [f"{NAMES[i % 8]},0532{i:07d},{100000 + i}" for i in range(self.rows)]
        (self.work / "kampanya.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        config = self.work / "config.toml"
        config.write_text(self.profile(), encoding="utf-8")
        config.chmod(0o600)

    def profile(self) -> str:
        """Profile ``t`` pointed at the emulator. customersms takes one text per request and
        documents 100 requests/minute; its limit is lifted so that a campaign takes seconds."""
        creds = {
            "customersms": {"api_key": Emulator.CUSTOMERSMS_KEY},
            "vairosms": {"api_key": Emulator.VAIROSMS_KEY, "sender": "ACME"},
            "masgsm": {
                "username": Emulator.MASGSM_USER,
                "password": Emulator.MASGSM_PASS,
                "sender": "ACME",
            },
        }[self.provider]
        lines = ["[profiles.t]", f'provider = "{self.provider}"']
        lines += [f'base_url = "{self.emu.base_url(self.provider)}"']
        lines += [f'{key} = "{value}"' for key, value in creds.items()]
        if self.provider == "customersms":
            lines.append('rate_limits = ["1000000/second"]')
        return "\n".join(lines) + "\n"

    def env(self) -> dict[str, str]:
        """No SMSCLI_ variable or proxy of the caller's; config, ledger and caches in the work
        dir, so the user's are never touched."""
        drop = ("SMSCLI_", "NO_COLOR")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        for key in list(env):
            if key.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                del env[key]
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(SMSCLI_CONFIG=str(self.work / "config.toml"), NO_PROXY="127.0.0.1")
        env.update(SMSCLI_LEDGER=str(self.work / "ledger.db"))
        tmp = self.work.parent
        env.update(PYTHONPYCACHEPREFIX=str(tmp / "pycache"), XDG_CACHE_HOME=str(tmp / "cache"))
        env.update(XDG_CONFIG_HOME=str(tmp / "xdg-config"), XDG_DATA_HOME=str(tmp / "xdg-data"))
        return env

    def command(self, mode: str = "--yes") -> list[str]:
        head = [SMSCLI] if SMSCLI else [PYTHON, "-m", "smscli"]
        return [
            *head, "bulk", "kampanya.csv", "-m", TEMPLATE, "-p", "t", mode,
            "--batch-size", str(BATCH[self.provider]), "--concurrency", str(CONCURRENCY),
        ]  # fmt: skip

    def warm_up(self) -> None:
        """A dry run into a ledger of its own: byte code compiled and caches filled, so that the
        first start is as fast as the others (the early kills' window is one start-up)."""
        env = self.env() | {"SMSCLI_LEDGER": str(self.work / "warm-up.db")}
        subprocess.run(
            self.command("--dry-run"),
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    # -- the emulator and the ledger ------------------------------------------------------------

    def sends(self) -> int:
        return sum(is_send(self.provider, r) for r in list(self.emu.requests))

    def ledger(self, sql: str) -> list[tuple[object, ...]]:
        path = self.work / "ledger.db"
        if not path.exists():
            return []
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql).fetchall()

    def complete(self) -> bool:
        """Whether the campaign's run is complete (nothing pending or sending)."""
        return bool(self.ledger("SELECT 1 FROM runs WHERE state = 'complete'"))

    def pending(self) -> int:
        rows = self.ledger("SELECT COUNT(*) FROM messages WHERE state IN ('pending', 'sending')")
        return int(str(rows[0][0])) if rows else self.rows

    # -- one round ------------------------------------------------------------------------------

    def spawn(self, label: str = "") -> Child:
        """Start ``bulk``; every start but the final repeat check counts as a run."""
        if not label:
            self.result.runs += 1
            label = f"run-{self.result.runs}"
        err = self.work / f"{label}.err"
        with err.open("wb") as stderr:
            proc = subprocess.Popen(
                self.command(),
                cwd=self.work,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.children.append(proc)
        return Child(proc, err, time.monotonic(), self.sends())

    def maybe_fault(self) -> None:
        """Two runs in three: one fault, queued at a random moment of the run; it hits the next
        send request (of this run, or of the next one if this one is killed first)."""
        chance, kind, delay = self.rng.random(), self.rng.choice(FAULTS), self.rng.uniform(0, 1)
        if chance < 2 / 3:
            timer = threading.Timer(delay, self.inject, (kind,))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)

    def inject(self, kind: str) -> None:
        self.injected.append(kind)
        self.emu.inject(self.provider, kind)

    def kill_moment(self, child: Child) -> float:
        """When to kill (a monotonic time), drawn from the seeded RNG. A third of the kills: a
        uniform moment from spawn to about when the first send request would leave (start-up,
        settling what an earlier kill left, planning, a balance call). The rest: a uniform
        moment after this child's first send request reached the emulator, within a window no
        longer than it takes to send a 1/k share of what is left at most speed (k: the kills
        still to land), so that the campaign does not end before the last kill."""
        early, fraction = self.rng.random() < 1 / 3, self.rng.random()
        if early:
            return child.started + START_WINDOW + fraction * self.startup
        deadline = time.monotonic() + 20
        while self.sends() == child.sends_before and child.proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if self.sends() > child.sends_before:
            self.startup = time.monotonic() - child.started
        per_request = 1 if self.provider == "customersms" else BATCH[self.provider]
        top_speed = CONCURRENCY * per_request / self.emu.latency  # messages per second
        left = max(1, self.kills - self.result.kills)
        window = min(WIRE_WINDOW, self.pending() / top_speed / left)
        return time.monotonic() + fraction * window

    def finish(self, child: Child, timeout: float) -> None:
        try:
            code = child.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
            self.result.problems.append(f"run {self.result.runs} still going after {timeout} s")
            return
        self.check_run(child, code)

    def check_run(self, child: Child, code: int) -> None:
        err = child.err.read_text(encoding="utf-8", errors="replace")
        if "internal error" in err or "Traceback" in err:
            self.result.problems.append(f"run {self.result.runs}: {tail(err)}")
        if code == -9:
            return
        self.result.codes[code] += 1
        if code not in CONTRACT:
            self.result.problems.append(f"run {self.result.runs}: exit {code}: {tail(err)}")

    # -- the rounds -----------------------------------------------------------------------------

    def run(self) -> Result:
        started = time.monotonic()
        with self.emu:
            try:
                self.rounds()
            finally:  # an exception or Ctrl-C here: no child outlives the script
                for proc in self.children:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
        self.result.seconds = time.monotonic() - started
        return self.result

    def rounds(self) -> None:
        """Kill rounds until enough kills landed, runs to the end, then the verdict."""
        self.prepare()
        self.warm_up()
        limit = 4 * self.kills + 20  # runs: a bound for a campaign that never ends
        while self.result.kills < self.kills and self.result.runs < limit:
            if self.complete():
                self.result.problems.append(
                    f"the campaign ended after {self.result.kills} kills: use more --rows"
                )
                break
            self.kill_round()
        while not self.complete() and self.result.runs < limit:
            child = self.spawn()
            self.maybe_fault()
            self.finish(child, FINAL_TIMEOUT)
            log(f"{self.provider} run {self.result.runs}: {self.describe(child)}")
        for timer in self.timers:
            timer.cancel()
            timer.join()
        hit = Counter(self.injected) - Counter(self.emu.pending_faults(self.provider))
        self.result.faults = hit
        self.repeat_check()
        self.verify()

    def describe(self, child: Child) -> str:
        code, sends = child.proc.returncode, self.sends() - child.sends_before
        what = "killed" if code == -9 else f"exit {code}"
        elapsed = time.monotonic() - child.started
        return f"{what} after {elapsed:.2f} s, {sends} send requests, {self.pending()} left"

    def kill_round(self) -> None:
        child = self.spawn()
        self.maybe_fault()
        moment = self.kill_moment(child)
        try:
            code = child.proc.wait(timeout=max(0.0, moment - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        else:  # it ended on its own before the moment came
            self.check_run(child, code)
            log(f"{self.provider} run {self.result.runs}: {self.describe(child)}")
            return
        on_wire = self.sends() > child.sends_before
        child.proc.kill()  # SIGKILL: no handler runs, nothing is cleaned up
        child.proc.wait()
        self.check_run(child, -9)
        where = "on the wire" if on_wire else "before its first send request"
        if self.complete():
            self.result.late_kills += 1
            where = "after the run had completed: not counted"
        else:
            self.result.kills += 1
            self.result.on_wire += on_wire
        log(f"{self.provider} run {self.result.runs}: {self.describe(child)}; {where}")

    def repeat_check(self) -> None:
        """The finished campaign run again: exit 2, 'already sent', not one request."""
        sends = self.sends()
        child = self.spawn(label="repeat")
        try:
            code = child.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            code = child.proc.wait()
        err = child.err.read_text(encoding="utf-8", errors="replace")
        if code != 2 or "already sent" not in err or self.sends() != sends:
            self.result.problems.append(f"the campaign run again: exit {code}: {tail(err)}")

    # -- the verdict ----------------------------------------------------------------------------

    def verify(self) -> None:
        """The ledger against the phones: duplicates, lost, in doubt, and any wrong state."""
        r, problems = self.result, self.result.problems
        ledger: dict[str, tuple[str, str]] = {}
        for recipient, state, text in self.ledger("SELECT recipient, state, text FROM messages"):
            number = normalize_number(str(recipient))
            if number in ledger:
                problems.append(f"{number}: two rows in the ledger")
            ledger[number] = (str(state), str(text))
        got = Counter(m.to for m in self.emu.received)
        texts = {m.to: m.text for m in self.emu.received}
        campaign = [normalize_number(f"0532{i:07d}") for i in range(self.rows)]
        r.rows, r.states = len(campaign), Counter(state for state, _ in ledger.values())
        r.duplicates = sum(count > 1 for count in got.values())
        missing = [n for n in campaign if n not in ledger]
        unsettled = [n for n, (s, _) in ledger.items() if s in ("pending", "sending")]
        vanished = [n for n, (s, _) in ledger.items() if s in ("accepted", "delivered")]
        vanished = [n for n in vanished if n not in got]
        r.lost = len(missing) + len(unsettled) + len(vanished)
        unknown = [n for n, (s, _) in ledger.items() if s == "unknown"]
        r.unknown_received = sum(n in got for n in unknown)
        r.unknown_not = len(unknown) - r.unknown_received
        sent = ("accepted", "delivered", "unknown")
        wrong = [n for n in got if n not in ledger or ledger[n][0] not in sent]
        garbled = [n for n in got if n in ledger and texts[n] != ledger[n][1]]
        for what, numbers in (
            ("received more than once", [n for n, c in got.items() if c > 1]),
            ("in the campaign, not in the ledger", missing),
            ("still pending or sending after the last run", unsettled),
            ("accepted in the ledger, never received", vanished),
            ("received, but the ledger says not sent", wrong),
            ("received with another text than the ledger's", garbled),
        ):
            if numbers:
                problems.append(f"{len(numbers)} {what}: {', '.join(sorted(numbers)[:5])}")
        problems.extend(f"emulator error: {e.strip()[-400:]}" for e in self.emu.errors)
        if r.kills < self.kills:
            problems.append(f"{r.kills} kills landed while the run was going, not {self.kills}")

    def passed(self) -> bool:
        return not self.result.problems and not self.result.duplicates and not self.result.lost


# --- the table ---------------------------------------------------------------------------------


HEAD = ("provider", "latency", "kills (on wire)", "runs", "rows", "accepted", "failed")
HEAD += ("unknown (received / not)", "duplicates", "lost", "wall time")


def cells(r: Result) -> tuple[str, ...]:
    accepted = r.states["accepted"] + r.states["delivered"]
    unknown = f"{r.unknown_received + r.unknown_not} ({r.unknown_received} / {r.unknown_not})"
    return (
        *(r.provider, f"{r.latency * 1000:.0f} ms", f"{r.kills} ({r.on_wire})", str(r.runs)),
        *(str(r.rows), str(accepted), str(r.states["failed"]), unknown),
        *(str(r.duplicates), str(r.lost), f"{r.seconds:.1f} s"),
    )


def notes(r: Result) -> list[str]:
    codes, faults = dict(sorted(r.codes.items())), dict(sorted(r.faults.items()))
    note = f"- {r.provider}: exit codes {codes}, faults that hit a send request {faults or 'none'}"
    if r.late_kills:
        note += f", {r.late_kills} kill(s) after the run had completed (not counted)"
    return [note, *(f"- {r.provider}: PROBLEM: {p}" for p in r.problems)]


def table(results: list[Result], seed: int, kills: int, wall: float, ok: bool) -> str:
    body = [cells(r) for r in results]
    widths = [max(len(row[i]) for row in [HEAD, *body]) for i in range(len(HEAD))]

    def line(row: tuple[str, ...]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        return "  ".join(f"{c:{'<' if i == 0 else '>'}{w}}" for i, (c, w) in pairs)

    title = f"smscli kill -9 torture · seed {seed} · {kills} kills per provider · batch sizes"
    title += f" {BATCH} · concurrency {CONCURRENCY} · {wall:.0f} s"
    rows = [line(HEAD), line(tuple("-" * w for w in widths)), *(line(b) for b in body)]
    lines = [title, "", *rows, "", *(n for r in results for n in notes(r))]
    return "\n".join([*lines, "", "PASS" if ok else "FAIL"])


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, help="seed of every random choice (default: new)")
    parser.add_argument("--kills", type=positive, help="kills per provider (default 7; quick 3)")
    parser.add_argument("--rows", type=positive, help="campaign rows (default 300; quick 150)")
    parser.add_argument("--quick", action="store_true", help="fewer kills and rows")
    opts = parser.parse_args()
    seed = opts.seed if opts.seed is not None else random.SystemRandom().randrange(1_000_000)
    kills = opts.kills or (3 if opts.quick else 7)
    rows = opts.rows or (150 if opts.quick else 300)
    log(f"seed {seed} (--seed {seed} repeats every random choice): {kills} kills, {rows} rows")
    started, results, ok = time.monotonic(), [], True
    with tempfile.TemporaryDirectory(prefix="smscli-torture-") as tmp:
        for provider in PROVIDERS:
            rng = random.Random(f"{seed}:{provider}")
            torture = Torture(provider, Path(tmp) / provider, rng, rows, kills)
            log(f"{provider}: {rows} rows, {torture.emu.latency * 1000:.0f} ms per request")
            results.append(torture.run())
            ok = torture.passed() and ok
    print(table(results, seed, kills, time.monotonic() - started, ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
