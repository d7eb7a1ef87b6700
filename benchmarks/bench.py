"""smscli benchmarks: start-up, bulk throughput, growth, memory and rate limits, side by side.

    .venv/bin/python benchmarks/bench.py                  # full run, about 15 minutes on 2 cores
    .venv/bin/python benchmarks/bench.py --quick          # small sizes, about 3 minutes
    .venv/bin/python benchmarks/bench.py --only startup,rate
    .venv/bin/python benchmarks/bench.py --only startup,bulk,postgres   # SQLite beside PostgreSQL

Everything runs on 127.0.0.1: smscli runs as a subprocess against the loopback emulator of
tests/emulator.py, which runs in a process of its own. Data is generated into a temp dir.
The `postgres` section starts a throwaway PostgreSQL cluster with .ci/postgres (or uses the
server of SMSCLI_BENCH_POSTGRES, a database in which it may create schemas), measures every
ledger in a schema of its own, and drops it after (bench_postgres.py; bench_common.py holds
what the two share).
Progress goes to stderr; one table goes to stdout at the end. See benchmarks/README.md.
"""

# Over 400 lines, as it was before PostgreSQL: one script, Bench and its sections, each short.

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its modules, from any directory
from bench_common import (
    DRY_SEND,
    NO_LIMIT,
    PROVIDERS,
    PYTHON,
    SMSCLI,
    TEMPLATE,
    Emulator,
    EmulatorProcess,
    Ledger,
    Run,
    TimedOut,
    log,
    ms,
    run,
    write_config,
)
from bench_postgres import Postgres, bulk_row, killed_row, postgres

SECTIONS = ("startup", "bulk", "postgres", "growth", "memory", "xlsx", "rate")
SHOWN = ("startup", "bulk", "scale", "growth", "memory", "rate")  # the table's order of rows
SHARED = "Hello, our spring sale starts today. Reply STOP to opt out."
NAMES = ("Ayse", "Mehmet", "Fatma", "Ali", "Zeynep", "Mustafa", "Elif", "Emre")
LATENCY = 0.050  # the "realistic network": 50 ms added to every request's round trip
OPTOUTS = 10_000  # numbers on the opt-out list of every measured ledger
YESTERDAY = "Hello {name}, your code was {code}. Reply STOP to opt out."  # the history's text


@dataclass
class Row:
    section: str
    name: str
    value: str
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: information only
    backend: str = "sqlite"  # the ledger's; "" where no ledger is involved


@dataclass
class Bench:
    tmp: Path
    quick: bool
    emu: EmulatorProcess | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    warm: set[str] = field(default_factory=set)
    """The backends warmed up (byte code, caches) by :meth:`bulk`."""
    seeded: bool = True
    history: Path | None = None
    """A ledger every measured run starts from (see :meth:`seed`); None: an empty one."""
    backends: tuple[str, ...] = ("sqlite",)
    """The backends the bulk section measures side by side."""
    pg: Postgres | None = None
    pg_history: str | None = None
    """The PostgreSQL schema every measured PostgreSQL ledger is a copy of; None: empty."""
    extra_emus: list[EmulatorProcess] = field(default_factory=list)

    def add(
        self,
        section: str,
        name: str,
        value: str,
        ratio: str = "",
        target: str = "",
        ok: bool | None = None,
        *,
        backend: str = "sqlite",
    ) -> None:
        self.rows.append(Row(section, name, value, ratio, target, ok, backend))

    def emulator(self) -> EmulatorProcess:
        if self.emu is None:
            self.emu = EmulatorProcess()
        return self.emu

    def emulators(self, count: int) -> list[EmulatorProcess]:
        """``count`` emulators, each a process of its own: one provider account each."""
        while len(self.extra_emus) < count - 1:
            self.extra_emus.append(EmulatorProcess())
        return [self.emulator(), *self.extra_emus[: count - 1]]

    def postgres(self) -> Postgres:
        if self.pg is None:
            self.pg = Postgres()
        return self.pg

    def close(self) -> None:
        try:
            for emu in [*self.extra_emus, *([self.emu] if self.emu else [])]:
                emu.close()
        finally:
            if self.pg is not None:
                self.pg.close()

    def csv(self, rows: int, prefix: str = "0532") -> Path:
        """A personalised campaign: phone,name,code with distinct valid Turkish mobiles."""
        path = self.tmp / f"campaign-{rows}{'' if prefix == '0532' else '-' + prefix}.csv"
        if not path.exists():
            with path.open("w", encoding="utf-8", newline="") as f:
                f.write("phone,name,code\n")
                f.writelines(f"{prefix}{i:07d},{NAMES[i % 8]},{100000 + i}\n" for i in range(rows))
        return path

    def xlsx(self, rows: int) -> Path:
        """The campaign of :meth:`csv` as Excel saves it: an .xlsx whose numbers are numeric
        cells without their leading 0 (5320000000.0) and whose names are in the shared strings
        table, written by tests/xlsx.py's streaming writer."""
        path = self.tmp / f"campaign-{rows}.xlsx"
        if not path.exists():
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository
            from tests.xlsx import write_xlsx

            body = ([5320000000.0 + i, NAMES[i % 8], float(100000 + i)] for i in range(rows))
            write_xlsx(path, {"Sheet1": itertools.chain([["phone", "name", "code"]], body)})
        return path

    def workdir(self, *, history: bool = True) -> Path:
        self.runs += 1
        path = self.tmp / f"run-{self.runs}"
        path.mkdir()
        if history and self.history is not None:
            shutil.copyfile(self.history, path / "ledger.db")
        return path

    @contextmanager
    def ledger(self, backend: str, work: Path, *, history: bool = True) -> Iterator[Ledger]:
        """A fresh ledger that starts from the history (:meth:`seed`) or empty: ``work``'s
        file for SQLite (:meth:`workdir` copied the history there), a new schema for
        PostgreSQL, dropped after."""
        if backend == "sqlite":
            yield Ledger(str(work / "ledger.db"), None)
            return
        pg = self.postgres()
        with pg.fresh(self.pg_history if history else None) as schema:
            yield Ledger(pg.ledger(schema), schema)

    def seed(self, rows: int, *, same_numbers: bool = False, backend: str = "sqlite") -> str:
        """A ledger as a sender's who sends every day, built through smscli itself
        (``optout import`` and a real ``bulk``): 10,000 numbers on the opt-out list (none in the
        campaign, so every row is still sent and checked) and yesterday's campaign of ``rows``
        messages, within the repeat window, so that the repeat guard looks up every row. By
        default yesterday's campaign went to other customers (the lookups find nothing);
        ``same_numbers``: to the same ones with another text (every lookup finds yesterday's
        message and compares its text)."""
        work = self.tmp / f"history-{'same' if same_numbers else 'other'}-{backend}"
        work.mkdir()
        ledger = str(work / "ledger.db")
        if backend == "postgres":
            schema = self.postgres().schema()
            ledger = self.postgres().ledger(schema)
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
            result = run([SMSCLI, *args], self.env(work, ledger), work)
            if result.code:
                raise RuntimeError(
                    f"seeding the ledger: {args[0]}: exit {result.code}\n{result.stderr[-2000:]}"
                )
        return schema if backend == "postgres" else ledger

    def env(self, work: Path, ledger: str | None = None) -> dict[str, str]:
        """The children's environment: no SMSCLI_ variable of the caller's, a profile of
        ``work``, the ledger ``ledger`` (default: ``work``'s file ledger.db), and byte code
        and smscli's user cache kept (in the temp dir, even under PYTHONDONTWRITEBYTECODE) as
        they are on an installed system after the first run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCLI_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(SMSCLI_CONFIG=str(work / "config.toml"))
        env.update(SMSCLI_LEDGER=ledger or str(work / "ledger.db"))
        env.update(PYTHONPYCACHEPREFIX=str(self.tmp / "pycache"))
        env.update(XDG_CACHE_HOME=str(self.tmp / "cache"))  # smscli's phone-number rules
        return env

    def warm_up(self, backend: str) -> None:
        """Compiles byte code and fills caches before the first measurement with ``backend``'s
        ledger, then seeds that backend's history (:meth:`seed`; not with --empty-ledger)."""
        self.warm.add(backend)
        log(f"warm-up: 200 rows through each provider ({backend})")
        for name in PROVIDERS:
            self.bulk(name, 200, backend=backend)
        if self.seeded:
            size = 5_000 if self.quick else 100_000
            log(f"seeding the ledger ({backend}): {OPTOUTS:,} opt-outs, {size:,} messages")
            if backend == "postgres":
                self.pg_history = self.seed(size, backend=backend)
            else:
                self.history = Path(self.seed(size))
                self.notes.append(
                    f"Every run starts from a ledger with {OPTOUTS:,} opt-outs and yesterday's"
                    f" campaign of {size:,} messages to other customers: the opt-out list and the"
                    " repeat guard are on, and the guard looks up every row (--empty-ledger:"
                    " without). 'same numbers': yesterday's campaign went to the same customers"
                    " with another text, so every lookup finds a message and compares its text."
                )

    def accepted(self, work: Path, schema: str | None) -> int:
        """Messages ``accepted`` by the last run in ``work``'s SQLite ledger, or in the
        PostgreSQL one of ``schema``: of this run (the ledger may hold yesterday's)."""
        sql = (
            "SELECT COUNT(*) FROM {}messages WHERE state = 'accepted' AND run_id ="
            " (SELECT id FROM {}runs ORDER BY created_at DESC, rowid DESC LIMIT 1)"
        )
        if schema is None:
            with closing(sqlite3.connect(work / "ledger.db")) as db:
                return int(db.execute(sql.format("", "")).fetchone()[0])
        return int(self.postgres().one(sql.format(f"{schema}.", f"{schema}.")))

    def bulk(
        self,
        provider: str,
        rows: int,
        latency: float = 0.0,
        *,
        dry: bool = False,
        limit: int | None = None,
        extra: tuple[str, ...] = (),
        backend: str = "sqlite",
        timeout: float | None = None,
        source: Path | None = None,
    ) -> tuple[Run, dict[str, Any]]:
        """One ``smscli bulk`` into a fresh ledger; checks that every row arrived exactly once.
        ``limit``: the emulator enforces that many requests per second and so does the profile.
        The stats include ``server``: the PostgreSQL cluster's CPU seconds (None: not known).
        ``timeout``: raises :class:`TimedOut` after killing a run that took longer.
        ``source``: the campaign's file (default: :meth:`csv`'s)."""
        if backend not in self.warm:
            self.warm_up(backend)
        emu, work = self.emulator(), self.workdir(history=backend == "sqlite")
        shared = provider == "customersms"  # one text per request: measured at a shared text
        limits = [f"{limit}/second"] if limit else NO_LIMIT if shared else None
        write_config(work / "config.toml", provider, emu.urls[provider], limits)
        with self.ledger(backend, work) as (ledger, schema):
            emu.reset(latency, limit)
            campaign = source or self.csv(rows)
            args = [SMSCLI, "bulk", str(campaign), "-m", SHARED if shared else TEMPLATE]
            server = self.pg.cpu() if backend == "postgres" and self.pg else None
            result = run(
                [*args, "-p", "b", "--dry-run" if dry else "--yes", *extra],
                self.env(work, ledger),
                work,
                timeout,
            )
            stats = emu.call("stats", times=limit is not None)
            if result.timed_out:
                shutil.rmtree(work)
                raise TimedOut(f"{stats['received']:,} of {rows:,} received")
            if server is not None and self.pg:
                server = (self.pg.cpu() or 0.0) - server
            stats["server"] = server
            accepted = 0 if dry or result.code else self.accepted(work, schema)
        shutil.rmtree(work)
        want = 0 if dry else rows
        if result.code or stats["received"] != want or accepted != want or stats["duplicates"]:
            raise RuntimeError(
                f"bulk {provider} {rows} rows ({backend}): exit {result.code},"
                f" {stats['received']} received, {accepted} accepted,"
                f" {stats['duplicates']} duplicated\n{result.stderr[-2000:]}"
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
        backend = "sqlite" if "send" in name else ""  # the others open no ledger
        name = f"{name} (median of {repeats}; min {ms(min(samples))})"
        b.add("startup", name, ms(med), ratio, target, ok, backend=backend)


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


def bulk_rates(b: Bench, backends: tuple[str, ...]) -> dict[tuple[str, str, float], float]:
    """msg/s of every provider at 0 and 50 ms, the runs of every backend interleaved (so that
    noise hits them alike); the SQLite rows are measured as they always were, the PostgreSQL
    ones are bench_postgres.py's. Returns ``{(backend, provider, latency): msg/s}``."""
    rows, repeats = (5_000, 1) if b.quick else (100_000, 3)
    rates: dict[tuple[str, str, float], float] = {}
    for latency in (0.0, LATENCY):
        for provider in PROVIDERS:
            runs, killed = bulk_runs(b, provider, rows, latency, backends, repeats)
            for backend in backends:
                key = (backend, provider, latency)
                head = f"{provider} {rows // 1000}k +{ms(latency)}: msg/s"
                if backend in killed:
                    rates[key] = rows / killed[backend][0]
                    killed_row(b, head, latency, rates[key], killed[backend][1])
                    continue
                ordered = sorted(runs[backend], key=lambda r: r[0].seconds)
                result, stats = ordered[repeats // 2]  # the median
                rate = rates[key] = rows / result.seconds
                name = f"{head} (median of {repeats}; {stats['requests']:,} req,"
                name += f" {result.seconds:.1f} s; CPU smscli {result.cpu:.1f} s,"
                name += f" emulator {stats['cpu']:.1f} s"
                if backend != "sqlite":
                    bulk_row(b, name, rate, stats, latency, rates["sqlite", provider, latency])
                    continue
                target, ok = ("≥ 15,000", rate >= 15_000) if latency == 0 else ("", None)
                b.add("bulk", name + ")", f"{rate:,.0f}", "", target, ok)
    return rates


def bulk_runs(
    b: Bench, provider: str, rows: int, latency: float, backends: tuple[str, ...], repeats: int
) -> tuple[dict[str, list[tuple[Run, dict[str, Any]]]], dict[str, tuple[float, str]]]:
    """``repeats`` runs of :meth:`Bench.bulk` with each backend's ledger, interleaved, and the
    backends whose run was killed: ``{backend: (its timeout, why)}``."""
    runs: dict[str, list[tuple[Run, dict[str, Any]]]] = {x: [] for x in backends}
    killed: dict[str, tuple[float, str]] = {}
    for i in range(repeats):
        for backend in backends:
            if backend in killed:
                continue
            log(
                f"bulk: {provider}, {rows:,} rows, +{ms(latency)} per request,"
                f" {backend}, run {i + 1}"
            )
            # A PostgreSQL run 10× as long as SQLite's fails its targets whatever the rest
            # would say: killed then, and not repeated.
            slowest = max((r.seconds for r, _ in runs["sqlite"]), default=0.0)
            limit = None if backend == "sqlite" else max(60.0, 10 * slowest)
            try:
                runs[backend].append(
                    b.bulk(provider, rows, latency, backend=backend, timeout=limit)
                )
            except TimedOut as exc:
                log(f"bulk: killed after {limit:.0f} s ({exc})")
                killed[backend] = (limit or 1, f"killed after {limit:.0f} s: {exc}")
    return runs, killed


def bulk(b: Bench) -> None:
    rows, sample = (5_000, 20) if b.quick else (100_000, 200)
    rates = {(p, lat): r for (x, p, lat), r in bulk_rates(b, b.backends).items() if x == "sqlite"}
    if b.seeded:
        usual, b.history = b.history, Path(b.seed(rows, same_numbers=True))
        for provider in PROVIDERS:
            log(f"bulk: {provider}, {rows:,} rows, yesterday's campaign to the same numbers")
            result, _ = b.bulk(provider, rows)
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
            b.add("bulk", name, f"{1 / per:,.1f}", f"smscli {ratio:,.0f}×", target, ok, backend="")
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


def xlsx(b: Bench) -> None:
    """The memory section's .xlsx rows (a section of their own: ``--only xlsx``)."""
    sizes = (10_000, 100_000) if b.quick else (100_000, 1_000_000)
    for size in sizes:
        log(f"memory: vairosms dry run of an .xlsx, {size:,} rows")
        result, _ = b.bulk("vairosms", size, dry=True, source=b.xlsx(size))
        name = f"vairosms dry run {size // 1000:,}k .xlsx: peak RSS ({result.seconds:.1f} s,"
        name += f" {size / result.seconds:,.0f} rows/s)"
        big = ("≤ 150 MB", result.rss_mb <= 150) if size == sizes[-1] else ("", None)
        b.add("memory", name, f"{result.rss_mb:.0f} MB", "", *big)
    b.notes.append(
        ".xlsx: read by smscli/xlsx.py, which streams the sheet's XML (a regex fast path, "
        "iterparse for the rest) and keeps the shared strings in one UTF-8 buffer with an array "
        "of offsets; the same 150 MB as CSV."
    )


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


RUNNERS = {
    "startup": startup,
    "bulk": bulk,
    "postgres": lambda b: postgres(b, partial(bulk_rates, b)),  # bench_postgres.py
    "growth": growth,
    "memory": memory,
    "xlsx": xlsx,
    "rate": rate,
}


# --- the table --------------------------------------------------------------------------------


def table(b: Bench, mode: str, wall: float, load: float) -> str:
    verdict = {None: "", True: "pass", False: "FAIL"}
    head = ("section", "backend", "measurement", "value", "ratio", "target", "result")
    rows = sorted(b.rows, key=lambda r: SHOWN.index(r.section))  # stable: in run order
    body = [(r.section, r.backend, r.name, r.value, r.ratio, r.target, verdict[r.ok]) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, "<<<>>><", widths, strict=True))

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
            f"- smscli and the emulator (a process of its own) share the {os.cpu_count()} cores;"
            " every ratio above is from this one run.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about 3 minutes")
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as after Ctrl-C
    with tempfile.TemporaryDirectory(prefix="smscli-bench-") as tmp:
        b = Bench(Path(tmp), opts.quick, seeded=not opts.empty_ledger)
        if {"bulk", "postgres"} <= chosen:  # side by side: the bulk section interleaves them
            b.backends = ("sqlite", "postgres")
        try:
            for name, section in RUNNERS.items():
                if name in chosen:
                    section(b)
        finally:
            b.close()
    if opts.quick:
        b.notes.append("Quick mode: sizes are below those the targets assume; verdicts are a hint.")
    print(table(b, "quick" if opts.quick else "full", time.perf_counter() - started, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
