"""smscli benchmarks: start-up, bulk throughput, growth, memory and rate limits, side by side.

    .venv/bin/python benchmarks/bench.py                  # full run, about 5 minutes on 2 cores
    .venv/bin/python benchmarks/bench.py --quick          # small sizes, under a minute
    .venv/bin/python benchmarks/bench.py --only startup,rate

Everything runs on 127.0.0.1: smscli runs as a subprocess against the loopback emulator of
tests/emulator.py, which runs in a process of its own. Data is generated into a temp dir.
Progress goes to stderr; one table goes to stdout at the end. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMSCLI = shutil.which("smscli", path=str(Path(PYTHON).parent)) or "smscli"
SECTIONS = ("startup", "bulk", "growth", "memory", "rate")
PROVIDERS = ("vairosms", "masgsm", "customersms")
TEMPLATE = "Hello {name}, your code is {code}. Reply STOP to opt out."
SHARED = "Hello, our spring sale starts today. Reply STOP to opt out."
NAMES = ("Ayse", "Mehmet", "Fatma", "Ali", "Zeynep", "Mustafa", "Elif", "Emre")
DRY_SEND = ["send", "05321234567", "-m", "Hello", "--dry-run", "--provider", "sandbox"]
LATENCY = 0.050  # the "realistic network": 50 ms added to every request's round trip
NO_LIMIT = ["1000000/second"]  # replaces customersms's documented 100/minute
OPTOUTS = 10_000  # numbers on the opt-out list of every measured ledger
YESTERDAY = "Hello {name}, your code was {code}. Reply STOP to opt out."  # the history's text

sys.path.insert(0, str(REPO))
from tests.emulator import Emulator  # noqa: E402


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


def run(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Wall time, exit code and peak RSS of one child. ``os.wait4`` gives the resource usage of
    exactly that child (RUSAGE_CHILDREN would be the maximum over every child ever waited for)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, proc.returncode, usage.ru_maxrss / 1024, text)


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


@dataclass
class Row:
    section: str
    name: str
    value: str
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: information only


@dataclass
class Bench:
    tmp: Path
    quick: bool
    emu: EmulatorProcess | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    warm: bool = False
    seeded: bool = True
    history: Path | None = None
    """A ledger every measured run starts from (see :meth:`seed`); None: an empty one."""

    def add(self, *args: Any) -> None:
        self.rows.append(Row(*args))

    def emulator(self) -> EmulatorProcess:
        if self.emu is None:
            self.emu = EmulatorProcess()
        return self.emu

    def csv(self, rows: int) -> Path:
        """A personalised campaign: phone,name,code with distinct valid Turkish mobiles."""
        path = self.tmp / f"campaign-{rows}.csv"
        if not path.exists():
            with path.open("w", encoding="utf-8", newline="") as f:
                f.write("phone,name,code\n")
                f.writelines(f"0532{i:07d},{NAMES[i % 8]},{100000 + i}\n" for i in range(rows))
        return path

    def workdir(self) -> Path:
        self.runs += 1
        path = self.tmp / f"run-{self.runs}"
        path.mkdir()
        if self.history is not None:
            shutil.copyfile(self.history, path / "ledger.db")
        return path

    def seed(self, rows: int, *, same_numbers: bool = False) -> Path:
        """A ledger as a sender's who sends every day, built through smscli itself
        (``optout import`` and a real ``bulk``): 10,000 numbers on the opt-out list (none in the
        campaign, so every row is still sent and checked) and yesterday's campaign of ``rows``
        messages, within the repeat window, so that the repeat guard looks up every row. By
        default yesterday's campaign went to other customers (the lookups find nothing);
        ``same_numbers``: to the same ones with another text (every lookup finds yesterday's
        message and compares its text)."""
        work = self.tmp / f"history-{'same' if same_numbers else 'other'}"
        work.mkdir()
        numbers = self.tmp / "optouts.txt"
        numbers.write_text("".join(f"0555{i:07d}\n" for i in range(OPTOUTS)))
        yesterday = self.csv(rows)
        if not same_numbers:
            yesterday = self.tmp / f"yesterday-{rows}.csv"
            with yesterday.open("w", encoding="utf-8", newline="") as f:
                f.write("phone,name,code\n")
                f.writelines(f"0533{i:07d},{NAMES[i % 8]},{100000 + i}\n" for i in range(rows))
        emu = self.emulator()
        write_config(work / "config.toml", "vairosms", emu.urls["vairosms"], None)
        emu.reset()
        for args in (
            ["optout", "import", str(numbers)],
            ["bulk", str(yesterday), "-m", YESTERDAY, "-p", "b", "--yes"],
        ):
            result = run([SMSCLI, *args], self.env(work), work)
            if result.code:
                raise RuntimeError(
                    f"seeding the ledger: {args[0]}: exit {result.code}\n{result.stderr[-2000:]}"
                )
        return work / "ledger.db"

    def env(self, work: Path) -> dict[str, str]:
        """The children's environment: no SMSCLI_ variable of the caller's, a profile of
        ``work``, and byte code and smscli's user cache kept (in the temp dir, even under
        PYTHONDONTWRITEBYTECODE) as they are on an installed system after the first run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCLI_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(SMSCLI_CONFIG=str(work / "config.toml"), SMSCLI_LEDGER=str(work / "ledger.db"))
        env.update(PYTHONPYCACHEPREFIX=str(self.tmp / "pycache"))
        env.update(XDG_CACHE_HOME=str(self.tmp / "cache"))  # smscli's phone-number rules
        return env

    def bulk(
        self,
        provider: str,
        rows: int,
        latency: float = 0.0,
        *,
        dry: bool = False,
        limit: int | None = None,
        extra: tuple[str, ...] = (),
    ) -> tuple[Run, dict[str, Any]]:
        """One ``smscli bulk`` into a fresh ledger; checks that every row arrived exactly once.
        ``limit``: the emulator enforces that many requests per second and so does the profile."""
        if not self.warm:  # compile byte code and fill caches before the first measurement
            self.warm = True
            log("warm-up: 200 rows through each provider")
            for name in PROVIDERS:
                self.bulk(name, 200)
            if self.seeded:
                size = 5_000 if self.quick else 100_000
                log(f"seeding the ledger: {OPTOUTS:,} opt-outs, yesterday's {size:,} messages")
                self.history = self.seed(size)
                self.notes.append(
                    f"Every run starts from a ledger with {OPTOUTS:,} opt-outs and yesterday's"
                    f" campaign of {size:,} messages to other customers: the opt-out list and the"
                    " repeat guard are on, and the guard looks up every row (--empty-ledger:"
                    " without). 'same numbers': yesterday's campaign went to the same customers"
                    " with another text, so every lookup finds a message and compares its text."
                )
        emu, work = self.emulator(), self.workdir()
        shared = provider == "customersms"  # one text per request: measured at a shared text
        limits = [f"{limit}/second"] if limit else NO_LIMIT if shared else None
        write_config(work / "config.toml", provider, emu.urls[provider], limits)
        emu.reset(latency, limit)
        args = [SMSCLI, "bulk", str(self.csv(rows)), "-m", SHARED if shared else TEMPLATE]
        result = run(
            [*args, "-p", "b", "--dry-run" if dry else "--yes", *extra], self.env(work), work
        )
        stats = emu.call("stats", times=limit is not None)
        accepted = 0
        if not dry and result.code == 0:
            with closing(sqlite3.connect(work / "ledger.db")) as db:
                sql = (  # of this run (the ledger may hold yesterday's)
                    "SELECT COUNT(*) FROM messages WHERE state = 'accepted' AND run_id ="
                    " (SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1)"
                )
                (accepted,) = db.execute(sql).fetchone()
        shutil.rmtree(work)
        want = 0 if dry else rows
        if result.code or stats["received"] != want or accepted != want or stats["duplicates"]:
            raise RuntimeError(
                f"bulk {provider} {rows} rows: exit {result.code}, {stats['received']} received,"
                f" {accepted} accepted, {stats['duplicates']} duplicated\n{result.stderr[-2000:]}"
            )
        return result, stats


# --- sections ---------------------------------------------------------------------------------


def startup(b: Bench) -> None:
    repeats, work = (5 if b.quick else 21), b.workdir()
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "smscli --help": [SMSCLI, "--help"],
        "smscli --version": [SMSCLI, "--version"],
        "smscli send … --dry-run": [SMSCLI, *DRY_SEND],
    }
    env = b.env(work)  # config.toml does not exist: an environment-only profile
    for args in commands.values():  # warm-up: .pyc files, the ledger's creation
        run(args, env, work)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(repeats):  # interleaved, so that noise hits every command alike
        log(f"startup: round {i + 1}/{repeats}")
        for name, args in commands.items():
            result = run(args, env, work)
            if result.code:
                raise RuntimeError(f"{name}: exit {result.code}\n{result.stderr}")
            times[name].append(result.seconds)
    base = statistics.median(times["python -c pass"])
    targets = {"smscli --help": 0.150, "smscli send … --dry-run": 0.300}
    for name, samples in times.items():
        med, limit = statistics.median(samples), targets.get(name)
        ratio = "" if name.startswith("python") else f"{med / base:.1f}× python"
        target, ok = (f"≤ {ms(limit)}", med <= limit) if limit else ("", None)
        name = f"{name} (median of {repeats}; min {ms(min(samples))})"
        b.add("startup", name, ms(med), ratio, target, ok)


def one_post_per_number(b: Bench, provider: str, count: int, latency: float) -> float:
    """The providers' PHP/curl samples in a loop: one POST per number, one after another, a new
    connection for each (curl_init … curl_close). Returns seconds per message."""
    import httpx

    emu = b.emulator()
    emu.reset(latency)
    url = emu.urls[provider]
    with httpx.Client(headers={"Connection": "close"}, timeout=30) as client:
        start = time.perf_counter()
        for i in range(count):
            number, text = f"532{i:07d}", TEMPLATE.format(name=NAMES[i % 8], code=100000 + i)
            if provider == "customersms":
                body = {"api_key": Emulator.CUSTOMERSMS_KEY, "phone": "+90" + number}
                r = client.post(url + "/sms_system/api.php", json={**body, "message": text})
            elif provider == "vairosms":
                batch = {"baslik": "ACME", "mesajlar": [{"msg": text, "dest": number}]}
                key = {"api_key": Emulator.VAIROSMS_KEY}
                r = client.post(url + "/SmsGonder", params=key, json=batch)
            else:
                form = {"type": "0", "u": Emulator.MASGSM_USER, "p": Emulator.MASGSM_PASS}
                form |= {"title": "ACME", "message": text, "numbers": number}
                r = client.post(url + "/api_post.php", data=form)
            r.raise_for_status()
        seconds = time.perf_counter() - start
    if (received := emu.call("stats")["received"]) != count:
        raise RuntimeError(f"{provider} loop: {received} of {count} received")
    return seconds / count


def bulk(b: Bench) -> None:
    rows, sample, repeats = (5_000, 20, 1) if b.quick else (100_000, 200, 3)
    rates: dict[tuple[str, float], float] = {}
    for latency in (0.0, LATENCY):
        for provider in PROVIDERS:
            runs = []
            for i in range(repeats):
                log(f"bulk: {provider}, {rows:,} rows, +{ms(latency)} per request, run {i + 1}")
                runs.append(b.bulk(provider, rows, latency))
            result, stats = sorted(runs, key=lambda r: r[0].seconds)[repeats // 2]  # the median
            rate = rates[provider, latency] = rows / result.seconds
            name = f"{provider} {rows // 1000}k +{ms(latency)}: msg/s (median of {repeats};"
            name += f" {stats['requests']:,} req, {result.seconds:.1f} s; CPU smscli"
            name += f" {result.cpu:.1f} s, emulator {stats['cpu']:.1f} s)"
            target, ok = ("≥ 15,000", rate >= 15_000) if latency == 0 else ("", None)
            b.add("bulk", name, f"{rate:,.0f}", "", target, ok)
    if b.seeded:
        usual, b.history = b.history, b.seed(rows, same_numbers=True)
        for provider in PROVIDERS:
            log(f"bulk: {provider}, {rows:,} rows, yesterday's campaign to the same numbers")
            result, stats = b.bulk(provider, rows)
            name = f"{provider} {rows // 1000}k +0 ms, same numbers yesterday: msg/s (1 run;"
            name += f" {result.seconds:.1f} s; CPU smscli {result.cpu:.1f} s)"
            b.add("bulk", name, f"{rows / result.seconds:,.0f}")
        b.history = usual
    for latency in (0.0, LATENCY):
        for provider in PROVIDERS:
            log(f"bulk: one POST per number, {provider}, {sample} numbers, +{ms(latency)}")
            per = one_post_per_number(b, provider, sample, latency)
            ratio = rates[provider, latency] * per
            name = f"{provider} 1 POST/number +{ms(latency)}: msg/s ({sample} sampled;"
            name += f" {rows // 1000}k ≈ {per * rows / 60:,.1f} min)"
            target, ok = ("≥ 200×", ratio >= 200) if latency else ("", None)
            b.add("bulk", name, f"{1 / per:,.1f}", f"smscli {ratio:,.0f}×", target, ok)
    b.notes.append(
        "customersms takes one text per request: measured at a shared text (100 numbers per"
        f" request), its documented 100/minute replaced by rate_limits = {NO_LIMIT}."
    )
    b.notes.append(
        f"1 POST/number: {sample} numbers sent, time extrapolated per message; a new TCP"
        " connection per request on loopback (no TLS handshake), so real networks widen the ratio."
    )


def growth(b: Bench) -> None:
    sizes = (500, 2_000, 10_000) if b.quick else (1_000, 10_000, 100_000)
    seconds = []
    for size in sizes:
        samples = []
        # The first marginal time is a difference of two short runs (0.4 and 0.8 s), so their
        # noise weighs most: 7 runs each for those (a few seconds in all), 3 for the largest.
        for i in range(3 if size == sizes[-1] else 7):
            log(f"growth: vairosms, {size:,} rows, run {i + 1}")
            samples.append(b.bulk("vairosms", size)[0].seconds)
        seconds.append(statistics.median(samples))
        per = f"{seconds[-1] / size * 1e6:,.1f} µs"
        b.add("growth", f"vairosms {size:,} rows: time per message (median)", per)
    slopes = [(seconds[i + 1] - seconds[i]) / (sizes[i + 1] - sizes[i]) for i in (0, 1)]
    ratio = slopes[1] / slopes[0]
    for i, slope in enumerate(slopes):
        name = f"marginal time per message, {sizes[i]:,} → {sizes[i + 1]:,} rows"
        later = ("", "", None) if i == 0 else (f"{ratio:.2f}× first", "≤ 1.25×", ratio <= 1.25)
        b.add("growth", name, f"{slope * 1e6:.1f} µs", *later)
    b.notes.append(
        "Growth: times per message include the fixed start-up; the marginal time between two"
        " sizes removes it, and is called flat when the later one is at most 1.25× the first."
    )


def memory(b: Bench) -> None:
    sizes = (10_000, 100_000) if b.quick else (100_000, 1_000_000)
    for size in sizes:
        for dry in (True, False):
            kind = "dry run" if dry else "real run"
            log(f"memory: vairosms {kind}, {size:,} rows")
            result, _ = b.bulk("vairosms", size, dry=dry)
            name = f"vairosms {kind} {size // 1000:,}k: peak RSS ({result.seconds:.1f} s,"
            name += f" {size / result.seconds:,.0f} rows/s)"
            big = ("≤ 150 MB", result.rss_mb <= 150) if size == sizes[-1] else ("", None)
            b.add("memory", name, f"{result.rss_mb:.0f} MB", "", *big)
    b.notes.append("Peak RSS: ru_maxrss of each smscli process alone, from os.wait4 on its pid.")


def rate(b: Bench) -> None:
    cases = [(20, 0.0, 60)] if b.quick else [(20, LATENCY, 200), (100, 0.0, 1_000)]
    for limit, latency, requests in cases:
        log(f"rate: {limit}/second, +{ms(latency)}, {requests} requests of 10 messages")
        extra = ("--batch-size", "10")
        _, stats = b.bulk("vairosms", requests * 10, latency, limit=limit, extra=extra)
        times, n429 = stats["times"], stats["rate_limited"]
        accepted = stats["requests"] - n429
        ideal = math.ceil(accepted / limit) - 1  # the least time N per sliding second allows
        share = ideal / (times[-1] - times[0])
        name = f"vairosms {limit}/s +{ms(latency)}, {accepted} req"
        b.add(
            "rate", f"{name}: share of the limit used", f"{share:.1%}", "", "≥ 95%", share >= 0.95
        )
        b.add("rate", f"{name}: 429s provoked", f"{n429}", "", "0", n429 == 0)
        gaps = [later - first for first, later in zip(times, times[limit:], strict=False)]
        steady = 1.0 / statistics.median(gaps)
        b.add("rate", f"{name}: steady share (1 s / median time from k to k+N)", f"{steady:.1%}")
    b.notes.append(
        "Rate: share = (ceil(k/N) - 1) s, the least time k requests can take under N per sliding"
        " second, over the time between the first and the last request the emulator received;"
        " the steady share leaves out the first window's burst and the last one's."
    )


RUNNERS = {"startup": startup, "bulk": bulk, "growth": growth, "memory": memory, "rate": rate}


# --- the table --------------------------------------------------------------------------------


def table(b: Bench, mode: str, wall: float, load: float) -> str:
    verdict = {None: "", True: "pass", False: "FAIL"}
    head = ("section", "measurement", "value", "ratio", "target", "result")
    body = [(r.section, r.name, r.value, r.ratio, r.target, verdict[r.ok]) for r in b.rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, "<<>>><", widths, strict=True))

    passed, failed = (sum(r.ok is v for r in b.rows) for v in (True, False))
    return "\n".join(
        [
            f"smscli benchmarks · {mode} · {os.cpu_count()} CPUs · Python"
            f" {platform.python_version()} · load {load:.2f} at start ·"
            f" {time.strftime('%Y-%m-%d %H:%M')} · {wall:.0f} s",
            "",
            line(head),
            line(tuple("-" * w for w in widths)),
            *(line(x) for x in body),
            "",
            f"targets: {passed} passed, {failed} failed",
            *(f"- {note}" for note in b.notes),
            "- smscli and the emulator (a process of its own) share the 2 cores; every ratio"
            " above is from this one run.",
        ]
    )


def main() -> int:
    if sys.argv[1:] == ["--serve-emulator"]:
        serve_emulator()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument(
        "--empty-ledger",
        action="store_true",
        help="start every run from an empty ledger (no opt-out list, no history)",
    )
    opts = parser.parse_args()
    chosen = {s.strip() for s in opts.only.split(",") if s.strip()}
    if unknown := chosen - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    load, started = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smscli-bench-") as tmp:
        b = Bench(Path(tmp), opts.quick, seeded=not opts.empty_ledger)
        try:
            for name, section in RUNNERS.items():
                if name in chosen:
                    section(b)
        finally:
            if b.emu is not None:
                b.emu.close()
    if opts.quick:
        b.notes.append("Quick mode: sizes are below those the targets assume; verdicts are a hint.")
    print(table(b, "quick" if opts.quick else "full", time.perf_counter() - started, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
