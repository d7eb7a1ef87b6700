"""One path for every command and every provider, tested through the real CLI before the
refactor that brings it lands:

- ``send`` takes the cross-process rate-limit permits, checks the balance and asks before a
  large send on a terminal, as ``bulk`` does, and refuses bad ``rate_limits`` the same way;
- one campaign never runs twice at once, whatever path (symlink) leads to its ledger;
- a provider registered through the ``smscli.providers`` entry points works with no other
  change to smscli (``tests/fakeprovider/fakesms.py``).

Real subprocesses throughout: exit codes, terminals and concurrency are what is tested. No
test waits for time to pass; every timeout is an upper bound for a hung child.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.conftest import Home, Outcome
from tests.emulator import Emulator, RecordedRequest

BOTH_BACKENDS = True
SMSCLI = (sys.executable, "-m", "smscli")
TIMEOUT = 120.0
"""Upper bound for a child to finish; reached only when something hangs."""
QUESTION = b"[y/N]"
TEMPLATE = "Merhaba {ad}, kampanyamız başladı."

Job = tuple[Sequence[str], Path, dict[str, str]]
"""A command to run: arguments, working directory, environment."""


# --- helpers ------------------------------------------------------------------------------


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct Turkish mobile numbers as people write them (``0532…``)."""
    return [f"0532{i:07d}" for i in range(start, start + count)]


def e164(number: str) -> str:
    return "+90" + number.removeprefix("0")


def csv_text(count: int) -> str:
    return "ad,telefon\n" + "".join(f"Kişi {i},{n}\n" for i, n in enumerate(numbers(count)))


def sends(emulator: Emulator) -> list[RecordedRequest]:
    """The send requests (masgsm's balance check, a POST with ``type=4``, is not one)."""
    return [
        r for r in emulator.requests if r.method == "POST" and (r.form or {}).get("type") != "4"
    ]


def received(emulator: Emulator) -> Counter[str]:
    """How many messages each number got."""
    return Counter(r.to for r in emulator.received)


def together(*jobs: Job) -> list[Outcome]:
    """Start every job at once (one Popen after the other, nothing in between), then wait for
    all of them; a child still running after TIMEOUT is killed and the test fails."""
    children = [
        subprocess.Popen(
            [*SMSCLI, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, cwd, env in jobs
    ]
    outcomes = []
    try:
        for child in children:
            stdout, stderr = child.communicate(timeout=TIMEOUT)
            outcomes.append(Outcome(child.returncode, stdout, stderr))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    return outcomes


def shown(outcomes: Sequence[Outcome]) -> str:
    """Exit codes and the end of each child's stderr, for an assertion's message."""
    return "\n".join(f"exit {o.exit_code}: {o.stderr[-800:]}" for o in outcomes)


class Terminal:
    """smscli on a pseudo-terminal: stdin, stdout and stderr are a tty, as for a person."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.fd, slave = pty.openpty()
        self.child = subprocess.Popen(
            [*SMSCLI, *args], cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        self.screen = b""
        self._seen = 0
        self._closed = False

    @property
    def text(self) -> str:
        """The end of the screen, for an assertion's message."""
        return self.screen.decode("utf-8", "replace")[-1500:]

    def wait_for(self, needle: bytes) -> bool:
        """Read until ``needle`` appears after what was already waited for (True) or the child
        closes the terminal (False)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = self.screen.find(needle, self._seen)
            if found >= 0:
                self._seen = found + len(needle)
                return True
            if self._closed:
                return False
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} and no exit; the screen:\n{self.text}")
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: every end of the terminal's other side is closed
                    chunk = b""
                self.screen += chunk
                self._closed = not chunk

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def exit_code(self) -> int:
        """Read the screen to its end and wait for the child."""
        self.wait_for(b"\0never shown\0")
        return self.child.wait(timeout=TIMEOUT)

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        os.close(self.fd)


@contextmanager
def terminal(home: Home, *args: str) -> Iterator[Terminal]:
    term = Terminal(args, cwd=home.cwd, env=home.env(TERM="xterm-256color", COLUMNS="120"))
    try:
        yield term
    finally:
        term.close()


@pytest.fixture
def cs(home: Home, emulator: Emulator) -> None:
    """The customersms profile ``cs`` with no rate limit of our own: sends go out at once."""
    home.write_config(emulator.profiles("rate_limits = []"))


# --- send: permits, credit, confirmation, rate settings -----------------------------------


def test_send_takes_rate_limit_permits_shared_across_processes(home, emulator):
    emulator.rate_limit_per_second = 1
    home.write_config(emulator.profiles('rate_limits = ["1/second"]'))
    to = numbers(3, start=1110001)
    outcomes = together(
        *((["send", n, "-m", "Merhaba", "-p", "cs"], home.cwd, home.env()) for n in to)
    )
    assert [o.exit_code for o in outcomes] == [0, 0, 0], shown(outcomes)
    assert emulator.rate_limited == 0, shown(outcomes)  # no 429: one permit a second, shared
    assert received(emulator) == Counter(e164(n) for n in to)  # 3 messages, no number twice


def test_send_with_too_little_credit_exits_5_with_nothing_sent_unless_forced(proc, home, emulator):
    home.write_config(emulator.profiles())
    emulator.set_credits("masgsm", 2)
    to = numbers(3)
    out = proc("send", *to, "-m", "Merhaba", "-p", "mas")
    assert out.exit_code == 5, out.stdout + out.stderr
    assert sends(emulator) == []
    assert emulator.received == []
    out = proc("send", *to, "-m", "Merhaba", "-p", "mas", "--force")
    assert out.exit_code == 7, out.stdout + out.stderr  # masgsm code 3: sent, numbers unnamed
    assert len(sends(emulator)) == 1
    assert len(emulator.received) == 2  # as far as the balance allowed


@pytest.mark.parametrize(("answer", "code", "sent"), [(b"n", 2, 0), (b"y", 0, 51)])
def test_send_to_51_on_a_terminal_asks_before_anything(cs, home, emulator, answer, code, sent):
    with terminal(home, "send", *numbers(51), "-m", "Duyuru", "-p", "cs") as term:
        assert term.wait_for(QUESTION), term.text
        assert emulator.requests == []  # nothing before the answer
        term.write(answer + b"\n")
        assert term.exit_code() == code, term.text
    assert len(emulator.received) == sent
    assert emulator.duplicates() == {}


@pytest.mark.parametrize(("count", "flags"), [(51, ["--yes"]), (50, [])], ids=["51-yes", "50"])
def test_send_on_a_terminal_does_not_ask(cs, home, emulator, count, flags):
    with terminal(home, "send", *numbers(count), "-m", "Duyuru", "-p", "cs", *flags) as term:
        asked = term.wait_for(QUESTION)
        if asked:
            term.write(b"n\n")  # let it end, sending nothing
        code = term.exit_code()
    assert not asked, term.text
    assert code == 0, term.text
    assert len(emulator.received) == count


def test_send_to_51_without_a_terminal_does_not_ask(cs, proc, emulator):
    out = proc("send", *numbers(51), "-m", "Duyuru", "-p", "cs", input="")  # cron: a pipe
    assert out.exit_code == 0, out.stdout + out.stderr
    assert QUESTION.decode() not in out.stdout + out.stderr
    assert len(emulator.received) == 51


@pytest.mark.parametrize("command", ["send", "bulk"])
@pytest.mark.parametrize("rate", ["abc", "0/second"])
def test_a_bad_rate_limit_setting_exits_4_with_nothing_sent(proc, home, emulator, command, rate):
    home.write_config(emulator.profiles(f'rate_limits = ["{rate}"]'))
    (home.cwd / "kisiler.csv").write_text(csv_text(3), encoding="utf-8")
    args = {
        "send": ["send", "05321112233", "-m", "Merhaba"],
        "bulk": ["bulk", "kisiler.csv", "-m", TEMPLATE, "--yes"],
    }[command]
    out = proc(*args, "-p", "cs")
    assert out.exit_code == 4, out.stdout + out.stderr
    assert "rate_limits" in out.stderr
    assert emulator.requests == []


# --- one campaign, one process, whatever path leads to the ledger -------------------------


def linked_workdirs(
    home: Home, root: Path, rows: int, *, existing: bool, ledger: str | None = None
) -> list[Path]:
    """Two working directories, each with a ``.env`` naming ``ledger.db``, a symlink to the
    same file in a third directory, and the same CSV. ``existing``: the ledger was created by
    a command run before (else the links dangle until a command creates it).

    On PostgreSQL each ``.env`` names the URL of one ledger (``ledger``, else the home's), as
    two hosts' would; ``existing``: a command run before migrated it (else both processes
    find its schema empty)."""
    shared = root / "shared"
    shared.mkdir(parents=True)
    dirs = []
    for name in ("a", "b"):
        workdir = root / name
        workdir.mkdir()
        if home.backend == "sqlite":
            (workdir / ".env").write_text("SMSCLI_LEDGER=ledger.db\n", encoding="utf-8")
            (workdir / "ledger.db").symlink_to(shared / "ledger.db")
        else:
            url = ledger or home.ledger
            (workdir / ".env").write_text(f"SMSCLI_LEDGER='{url}'\n", encoding="utf-8")
        (workdir / "kisiler.csv").write_text(csv_text(rows), encoding="utf-8")
        dirs.append(workdir)
    if existing:
        create = ["send", "05321112233", "-m", "x", "--provider", "sandbox"]
        (first,) = together((create, dirs[0], dotenv_ledger(home)))
        assert first.exit_code == 0, first.stderr
        if home.backend == "sqlite":
            assert (shared / "ledger.db").is_file()
        else:
            assert ledger is None  # the home's, which home.query reads
            assert home.query("SELECT COUNT(*) FROM runs") == [(1,)]
    return dirs


@contextmanager
def postgres_ledger_of_its_own(server: str) -> Iterator[str]:
    """A new, empty ledger in the PostgreSQL server (a schema of its own, dropped after), as
    the ``postgres_ledger`` fixture makes one per test."""
    import secrets
    from urllib.parse import quote

    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in server else "?"
    try:
        yield f"{server}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def dotenv_ledger(home: Home) -> dict[str, str]:
    """The process environment with the config file but without SMSCLI_LEDGER: each working
    directory's ``.env`` names the ledger."""
    env = home.env()
    del env["SMSCLI_LEDGER"]
    return env


def run_campaign_twice_at_once(
    home: Home, emulator: Emulator, dirs: list[Path], rows: int, *, rerun: bool
) -> None:
    """Start the same campaign in both directories at the same instant and check that nobody
    got the message twice and everybody got it once (each allowed pair of exit codes has a 0:
    the campaign is done). ``rerun``: run it once more where a process stood back (exit 8);
    that run must find the campaign done and send nothing."""
    args = ["bulk", "kisiler.csv", "-m", TEMPLATE, "--yes", "-p", "cs"]
    env = dotenv_ledger(home)
    outcomes = together(*((args, d, env) for d in dirs))
    codes = sorted(o.exit_code for o in outcomes)
    assert 70 not in codes, shown(outcomes)
    assert emulator.duplicates() == {}, shown(outcomes)
    if codes == [0, 2]:  # the second found the first already done: only with "already sent"
        assert "already sent" in next(o for o in outcomes if o.exit_code == 2).stderr
    else:
        assert codes in ([0, 0], [0, 8]), shown(outcomes)
    for workdir, outcome in zip(dirs, outcomes, strict=True):
        if rerun and outcome.exit_code == 8:
            (again,) = together((args, workdir, env))
            assert again.exit_code in (0, 2), shown([*outcomes, again])
    assert emulator.duplicates() == {}, shown(outcomes)
    assert received(emulator) == Counter(e164(n) for n in numbers(rows)), shown(outcomes)


@pytest.mark.parametrize("existing", [True, False], ids=["existing-ledger", "dangling-links"])
def test_one_campaign_never_runs_twice_through_two_links_to_one_ledger(
    home, emulator, tmp_path, existing
):
    home.write_config(emulator.profiles("rate_limits = []"))
    dirs = linked_workdirs(home, tmp_path / "linked", 600, existing=existing)
    emulator.latency = 0.002  # the two runs overlap
    run_campaign_twice_at_once(home, emulator, dirs, 600, rerun=True)


def test_two_runs_of_one_campaign_at_the_same_instant_twenty_times(
    home, emulator, tmp_path, request
):
    """A new ledger every round (on PostgreSQL, a new schema in the server)."""
    home.write_config(emulator.profiles("rate_limits = []"))
    for round_ in range(20):
        emulator.reset()  # a fresh count of what each phone got
        emulator.latency = 0.002
        with ExitStack() as stack:
            ledger = None
            if home.backend == "postgres":
                server = request.getfixturevalue("postgres_server")
                ledger = stack.enter_context(postgres_ledger_of_its_own(server))
            root = tmp_path / f"round{round_}"
            dirs = linked_workdirs(home, root, 50, existing=False, ledger=ledger)
            try:
                run_campaign_twice_at_once(home, emulator, dirs, 50, rerun=False)
            except AssertionError as exc:
                raise AssertionError(f"round {round_ + 1} of 20: {exc}") from None


# --- a provider from an entry point -------------------------------------------------------


@pytest.fixture
def fakesms(tmp_path: Path) -> dict[str, str]:
    """A directory on PYTHONPATH holding ``fakesms.py`` and its ``fakesms-1.0.dist-info``
    (registered in ``smscli.providers``): the environment for smscli to use it, without the
    credential. Nothing of it is imported here, so this module loads whatever the shape of
    ``Capabilities`` is; the subprocesses show whether smscli takes the driver."""
    site = tmp_path / "site"
    info = site / "fakesms-1.0.dist-info"
    info.mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "fakeprovider" / "fakesms.py", site / "fakesms.py")
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakesms\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[smscli.providers]\nfakesms = fakesms:FakeSms\n", encoding="utf-8"
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    log = tmp_path / "fakesms.log"
    return {"PYTHONPATH": path, "SMSCLI_PROVIDER": "fakesms", "FAKESMS_LOG": str(log)}


def fake_sent(fakesms: dict[str, str]) -> Counter[str]:
    log = Path(fakesms["FAKESMS_LOG"])
    return Counter(log.read_text(encoding="utf-8").split() if log.exists() else [])


def test_a_provider_from_an_entry_point_sends_bulk_sends_and_has_a_balance(proc, home, fakesms):
    out = proc("send", "05321112233", "-m", "hi", SMSCLI_API_KEY="k", **fakesms)
    assert out.exit_code == 0, out.stdout + out.stderr
    assert fake_sent(fakesms) == Counter(["+905321112233"])

    (home.cwd / "kisiler.csv").write_text(csv_text(25), encoding="utf-8")
    out = proc("bulk", "kisiler.csv", "-m", TEMPLATE, "--yes", SMSCLI_API_KEY="k", **fakesms)
    assert out.exit_code == 0, out.stdout + out.stderr
    assert fake_sent(fakesms) == Counter(["+905321112233", *map(e164, numbers(25))])

    out = proc("balance", SMSCLI_API_KEY="k", **fakesms)
    assert out.exit_code == 0, out.stdout + out.stderr
    out = proc("balance", "--json", SMSCLI_API_KEY="k", **fakesms)
    assert out.exit_code == 0, out.stdout + out.stderr
    assert (out.json()["provider"], out.json()["credits"]) == ("fakesms", 500)


def test_a_provider_from_an_entry_point_needs_the_credential_it_declares(proc, fakesms):
    out = proc("send", "05321112233", "-m", "hi", **fakesms)
    assert out.exit_code == 4, out.stdout + out.stderr
    assert "api_key" in out.stderr
    assert fake_sent(fakesms) == Counter()


def test_an_unknown_provider_is_refused_naming_the_one_from_an_entry_point(proc, fakesms):
    out = proc("send", "05321112233", "-m", "hi", "--provider", "nosuch", **fakesms)
    assert out.exit_code == 2, out.stdout + out.stderr
    known = out.stderr.partition("nosuch")[2]
    assert "fakesms" in known and "sandbox" in known, out.stderr
