"""The PostgreSQL side of bench.py: the server of the PostgreSQL ledgers (a throwaway cluster
of .ci/postgres, or SMSCLI_BENCH_POSTGRES's), the `postgres` section (start-up beside SQLite's,
the PostgreSQL rows of the bulk section) and `scale`, N processes sending at once into one
PostgreSQL ledger. bench.py imports this module, never the reverse: the sections take its
Bench as the :class:`Bench` protocol below, and its bulk measurement as an argument.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

from bench_common import (
    DRY_SEND,
    NO_LIMIT,
    REPO,
    SMSCLI,
    TEMPLATE,
    EmulatorProcess,
    Ledger,
    Run,
    log,
    ms,
    run,
    run_all,
    write_config,
)

CUSTOMERSMS_PER_MINUTE = 100  # customersms's documented limit (also 5,000/hour, 50,000/day)


class Bench(Protocol):
    """What the sections here use of bench.py's ``Bench``."""

    quick: bool
    seeded: bool
    notes: list[str]
    backends: tuple[str, ...]
    pg_history: str | None

    def add(self, *args: Any, **kwargs: Any) -> None: ...
    def emulator(self) -> EmulatorProcess: ...
    def emulators(self, count: int) -> list[EmulatorProcess]: ...
    def postgres(self) -> Postgres: ...
    def workdir(self, *, history: bool = ...) -> Path: ...
    def csv(self, rows: int, prefix: str = ...) -> Path: ...
    def env(self, work: Path, ledger: str | None = ...) -> dict[str, str]: ...
    def ledger(self, *args: Any, **kwargs: Any) -> AbstractContextManager[Ledger]: ...


# --- the PostgreSQL server ---------------------------------------------------------------------


class Postgres:
    """The server of the PostgreSQL ledgers: the one ``SMSCLI_BENCH_POSTGRES`` names (a
    database in which the benchmark may create schemas), else a throwaway cluster of
    ``.ci/postgres`` (PostgreSQL's durable defaults: fsync and synchronous_commit on), stopped
    and removed by :meth:`close`. Every measured ledger is a schema of its own."""

    def __init__(self) -> None:
        import psycopg

        self.dir: Path | None = None
        url = os.environ.get("SMSCLI_BENCH_POSTGRES", "")
        if not url:
            self.dir = Path(tempfile.mkdtemp(prefix="smscli-bench-pg-"))
            log(f"starting a PostgreSQL cluster in {self.dir} (.ci/postgres)")
            out = subprocess.run(
                [str(REPO / ".ci" / "postgres"), "start", str(self.dir)],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                self._stop()
                raise RuntimeError(f".ci/postgres start: exit {out.returncode}\n{out.stderr}")
            url = out.stdout.strip().splitlines()[-1].split("=", 1)[1]
        self.url = url
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except BaseException:
            self._stop()
            raise
        self.version = str(self.one("SHOW server_version")).split()[0]
        self.schemas: list[str] = []
        self._pid: int | None = None
        if self.dir is not None:
            self._pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])

    def _stop(self) -> None:
        if self.dir is not None:
            log("stopping the PostgreSQL cluster")
            subprocess.run([str(REPO / ".ci" / "postgres"), "stop", str(self.dir)], check=False)

    def ledger(self, schema: str) -> str:
        """The ledger location (``SMSCLI_LEDGER``) of ``schema``: the server's URL with the
        schema as the connection's search path."""
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}options={quote(f'-csearch_path={schema}')}"

    def schema(self, copy_of: str | None = None, *, migrate: bool = False) -> str:
        """A new schema: empty (``migrate``: with smscli's tables), or migrated and holding a
        copy of every row of ``copy_of`` (vacuumed and analysed, as autovacuum leaves a ledger
        that is used every day)."""
        name = f"bench_{os.getpid()}_{len(self.schemas)}"
        self.schemas.append(name)
        self.conn.execute(f"CREATE SCHEMA {name}")
        if copy_of is not None or migrate:
            from smscli.store.pg_db import connect_ledger

            connect_ledger(self.ledger(name)).close()  # smscli's own migrations
        if copy_of is not None:
            tables = [
                r[0]
                for r in self.conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
                    " AND table_name != 'smscli_schema' ORDER BY table_name != 'runs'",
                    (copy_of,),
                )
            ]
            with self.conn.transaction():
                for table in tables:
                    self.conn.execute(
                        f"INSERT INTO {name}.{table} OVERRIDING SYSTEM VALUE"
                        f" SELECT * FROM {copy_of}.{table}"
                    )
                identities = self.conn.execute(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND is_identity = 'YES'",
                    (name,),
                ).fetchall()
                for table, column in identities:
                    self.conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{name}.{table}', '{column}'),"
                        f" max({column})) FROM {name}.{table} HAVING max({column}) IS NOT NULL"
                    )
            for table in tables:
                self.conn.execute(f"VACUUM (ANALYZE) {name}.{table}")
        return name

    def drop(self, schema: str) -> None:
        """Drops ``schema``, first ending the server sessions that still hold locks in it: the
        statement of an smscli process killed after a timeout runs on until it is stopped."""
        self.conn.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks AS l"
            " JOIN pg_class AS c ON c.oid = l.relation WHERE l.pid != pg_backend_pid()"
            " AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s)",
            (schema,),
        )
        self.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.remove(schema)

    @contextmanager
    def fresh(self, copy_of: str | None = None, *, migrate: bool = False) -> Iterator[str]:
        """A new schema (see :meth:`schema`), dropped after."""
        name = self.schema(copy_of, migrate=migrate)
        try:
            yield name
        finally:
            self.drop(name)

    def accepted(self, schema: str) -> int:
        """Messages ``accepted`` in the ledger ``schema``, every run's."""
        return int(self.one(f"SELECT count(*) FROM {schema}.messages WHERE state = 'accepted'"))

    def commits(self) -> int:
        """Transactions committed in the database so far (every client's, this one's too)."""
        sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        return int(self.one(sql))

    def one(self, sql: str) -> Any:
        """The first column of the first row of ``sql``."""
        row = self.conn.execute(sql).fetchone()
        assert row is not None, sql
        return row[0]

    def cpu(self) -> float | None:
        """CPU seconds of the cluster's processes so far: the postmaster, its live children
        and every child it has reaped (the backends of smscli processes that have exited).
        None for a server of SMSCLI_BENCH_POSTGRES (its processes may be on another host)."""
        if self._pid is None:
            return None
        time.sleep(0.2)  # the backends of the processes that just exited: reaped by now
        tick, total = os.sysconf("SC_CLK_TCK"), 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == self._pid:
                total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            elif int(fields[1]) == self._pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def close(self) -> None:
        try:
            for schema in list(self.schemas):
                self.drop(schema)
            self.conn.close()
        finally:
            self._stop()


# --- the postgres section ----------------------------------------------------------------------


def postgres(b: Bench, bulk_rates: Callable[[tuple[str, ...]], object]) -> None:
    """The PostgreSQL ledger beside the SQLite one: start-up of a dry run and of a real send,
    bulk at 0 and 50 ms (``bulk_rates``, bench.py's, unless the bulk section measured it,
    interleaved with its own runs), and N processes sending at once into one database."""
    pg = b.postgres()
    paired_startup(b)
    if "postgres" not in b.backends:  # the bulk section did not run
        bulk_rates(("sqlite", "postgres"))
    scale(b)
    where = "a throwaway cluster of .ci/postgres" if pg.dir else "SMSCLI_BENCH_POSTGRES's server"
    b.notes.append(
        f"PostgreSQL {pg.version} on 127.0.0.1 ({where}; fsync and synchronous_commit on, as"
        " PostgreSQL's defaults): every measured ledger is a schema of its own, a copy of a"
        " seeded one (the same history as SQLite's, built through smscli), vacuumed and"
        " analysed, dropped after. Its server's CPU is the third of the 2 cores' takers."
    )


def paired_startup(b: Bench) -> None:
    """``send --dry-run`` and a real ``send`` with each backend's ledger, the four commands
    interleaved in every round; each ledger empty at first, created by the warm-up round."""
    repeats, emu = (5 if b.quick else 21), b.emulator()
    emu.reset()
    commands: dict[tuple[str, str], tuple[Callable[[int], list[str]], dict[str, str], Path]] = {}
    with contextlib.ExitStack() as stack:
        for backend in ("sqlite", "postgres"):
            for kind in ("dry", "real"):
                work = b.workdir(history=False)
                location, _ = stack.enter_context(b.ledger(backend, work, history=False))
                if kind == "dry":  # config.toml does not exist: an environment-only profile
                    commands[kind, backend] = (
                        lambda i: [SMSCLI, *DRY_SEND],
                        b.env(work, location),
                        work,
                    )
                    continue
                write_config(work / "config.toml", "vairosms", emu.urls["vairosms"], None)

                def real(i: int) -> list[str]:  # a number of its own each time: no repeat
                    return [SMSCLI, "send", f"0534{i:07d}", "-m", "Hello", "-p", "b"]

                commands[kind, backend] = (real, b.env(work, location), work)
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        for i in range(repeats + 1):  # round 0: warm-up (byte code, the ledgers' creation)
            log(f"startup, sqlite beside postgres: round {i}/{repeats}")
            for key, (args, env, work) in commands.items():
                result = run(args(i), env, work)
                if result.code:
                    raise RuntimeError(f"send {key}: exit {result.code}\n{result.stderr}")
                if i:
                    times[key].append(result.seconds)
    names = {"dry": "smscli send … --dry-run", "real": "smscli send … -p b (vairosms, 0 ms)"}
    for kind in ("dry", "real"):
        base = statistics.median(times[kind, "sqlite"])
        for backend in ("sqlite", "postgres"):
            samples = times[kind, backend]
            med = statistics.median(samples)
            name = f"{names[kind]}, paired (median of {repeats}; min {ms(min(samples))})"
            if backend == "sqlite":
                b.add("startup", name, ms(med), "", "", None, backend=backend)
                continue
            ratio = f"{(med - base) * 1000:+,.0f} ms sqlite"
            target, ok = ("≤ +100 ms", med - base <= 0.100) if kind == "dry" else ("", None)
            b.add("startup", name, ms(med), ratio, target, ok, backend=backend)


def bulk_row(
    b: Bench, name: str, rate: float, stats: dict[str, Any], latency: float, sqlite: float
) -> None:
    """The bulk section's row of a PostgreSQL run: ``name`` is as bench.py's row of the SQLite
    run, still without its closing parenthesis; ``sqlite``: that run's msg/s."""
    if stats["server"] is not None:
        name += f", postgres {stats['server']:.1f} s"
    share = rate / sqlite
    target, ok = ("≥ 5,000", rate >= 5_000) if latency == 0 else ("≥ 80% sqlite", share >= 0.80)
    b.add("bulk", name + ")", f"{rate:,.0f}", f"{share:.0%} sqlite", target, ok, backend="postgres")


def killed_row(b: Bench, name: str, latency: float, rate: float, why: str) -> None:
    """The bulk section's row of a PostgreSQL run killed after a timeout: ``rate`` is its
    upper bound, the rows ÷ the timeout."""
    target = "≥ 5,000" if latency == 0 else "≥ 80% sqlite"
    b.add("bulk", f"{name} ({why})", f"< {rate:,.0f}", "", target, False, backend="postgres")


# --- scale: N processes, one ledger ------------------------------------------------------------


class Scaled(NamedTuple):
    """One measurement of :func:`scale`: N processes at once into one ledger."""

    wall: float  # until the last one exited
    results: list[Run]  # each process's
    stats: list[dict[str, Any]]  # each process's emulator's
    server: float | None  # the server's CPU seconds; None: not known
    commits: int  # transactions committed in the database meanwhile
    accepted: int  # messages accepted in the ledger meanwhile


def scale(b: Bench) -> None:
    """N ``smscli bulk`` processes at once into one PostgreSQL ledger, each its own campaign
    and its own provider account (an emulator process of its own), 0 ms, no rate limit."""
    counts = (1, 2, 4)
    per_process = {"customersms": 300, "vairosms": 1_000} if b.quick else {}
    per_process = per_process or {"customersms": 2_000, "vairosms": 5_000}
    emus = b.emulators(max(counts))
    best: tuple[float, int, float | None] = (0.0, 0, None)  # customersms: req/s, n, req/CPU s
    for provider, rows in per_process.items():
        for n in counts:
            log(f"scale: {n} × {provider} {rows:,} rows into one PostgreSQL ledger")
            claims, per_cpu = scale_row(b, provider, rows, scale_run(b, emus[:n], provider, rows))
            if provider == "customersms" and claims > best[0]:
                best = (claims, n, per_cpu)
    if best[0]:
        claims, n, per_cpu = best
        per_second = CUSTOMERSMS_PER_MINUTE / 60
        name = f"customersms accounts at {CUSTOMERSMS_PER_MINUTE}/minute served at the best"
        name += f" claims/s above ({claims:,.0f}/s, {n} processes ÷ {per_second:.2f}/s each)"
        b.add("scale", name, f"{claims / per_second:,.0f}", backend="postgres")
        if per_cpu:
            name = f"customersms requests per CPU second of the PostgreSQL server ({n} processes,"
            name += " whole runs: COPY, planning and sending)"
            b.add("scale", name, f"{per_cpu:,.0f}", backend="postgres")
    b.notes.append(
        "Scale: the N processes start at once, each with its own campaign (distinct numbers)"
        " and its own account (an emulator process of its own, 0 ms, no rate limit),"
        " personalised texts: customersms one message per request (a claim per message, the"
        " most the database must commit per message), vairosms 1,000 per request. msg/s: all"
        " processes' rows ÷ the wall time until the last one exited; req/s sending: all"
        " requests ÷ the time from the first request any emulator received to the last;"
        " commits: the database's committed transactions (pg_stat_database) meanwhile."
    )


def scale_run(b: Bench, emus: list[EmulatorProcess], provider: str, rows: int) -> Scaled:
    """``len(emus)`` ``smscli bulk`` processes started at once into a fresh ledger, each
    sending ``rows`` messages of a campaign of its own to an emulator of its own."""
    pg = b.postgres()
    with pg.fresh(b.pg_history if b.seeded else None, migrate=True) as schema:
        jobs = []
        for k, emu in enumerate(emus):
            work = b.workdir(history=False)
            limits = NO_LIMIT if provider == "customersms" else None
            write_config(work / "config.toml", provider, emu.urls[provider], limits)
            emu.reset()
            campaign = str(b.csv(rows, prefix=f"054{k + 1}"))
            args = [SMSCLI, "bulk", campaign, "-m", TEMPLATE, "-p", "b", "--yes"]
            jobs.append((args, b.env(work, pg.ledger(schema)), work))
        accepted, commits, server = pg.accepted(schema), pg.commits(), pg.cpu()
        wall, results = run_all(jobs, timeout=600)
        stats = [emu.call("stats", times=True) for emu in emus]
        server = None if server is None else (pg.cpu() or 0.0) - server
        commits = pg.commits() - commits
        accepted = pg.accepted(schema) - accepted
    return Scaled(wall, results, stats, server, commits, accepted)


def scale_row(b: Bench, provider: str, rows: int, m: Scaled) -> tuple[float, float | None]:
    """Checks a measurement of :func:`scale_run` (every row accepted and received once) and
    adds its row. Returns its requests per second of sending and per CPU second of the server
    (None: not known); (0, None) for processes killed after the timeout."""
    n, received = len(m.results), [s["received"] for s in m.stats]
    name = f"{provider} {n} × {rows / 1000:g}k, one ledger: msg/s"
    if m.results[0].timed_out:
        name += f" (killed after 600 s; received {received})"
        b.add("scale", name, "", "", backend="postgres")
        return 0.0, None
    bad, duplicates = [r for r in m.results if r.code], any(s["duplicates"] for s in m.stats)
    if bad or received != [rows] * n or m.accepted != rows * n or duplicates:
        raise RuntimeError(
            f"scale {provider} × {n}: exits {[r.code for r in m.results]}, received"
            f" {received}, {m.accepted} accepted\n{bad[0].stderr[-2000:] if bad else ''}"
        )
    requests = sum(s["requests"] for s in m.stats)
    times = [t for s in m.stats for t in s["times"]]
    sending = max(max(times) - min(times), 1e-6)  # first request to last, any process's
    name += f" ({requests:,} req, {m.commits:,} commits; {m.wall:.1f} s, sending"
    name += f" {sending:.1f} s; CPU smscli {sum(r.cpu for r in m.results):.1f} s,"
    name += f" emulators {sum(s['cpu'] for s in m.stats):.1f} s"
    name += "" if m.server is None else f", postgres {m.server:.1f} s"
    ratio = f"{requests / sending:,.0f} req/s sending" if requests >= 10 * n else ""
    b.add("scale", name + ")", f"{rows * n / m.wall:,.0f}", ratio, backend="postgres")
    return requests / sending, requests / m.server if m.server else None
