"""Campaigns interleaved at random over one list, on both ledger backends: re-exports of the list
(another delimiter, line ends, row order, ``--ascii``), partial sends (``--limit``), requests
lost after the provider processed them (as a process killed mid-request leaves them),
resumes, and opt-outs between any two steps. Whatever the order, no number receives the text
twice and no opted-out number receives anything after it opted out.

In-process (Typer's runner) for speed: the real processes and their races are in
:mod:`tests.test_claim_guard`."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Home
from tests.emulator import Emulator

BOTH_BACKENDS = True
TEMPLATE = "Merhaba {ad}, kargonuz yolda."
NUMBERS = [f"+90532{i:07d}" for i in range(8)]
ROWS = [(f"Kişi {i}", f"0532{i:07d}") for i in range(8)]


def export(home: Home, variant: int) -> tuple[str, tuple[str, ...]]:
    """The list as a file (one of four exports) and the flags it is sent with."""
    sep, end, order, flags = [
        (",", "\n", ROWS, ()),
        (";", "\r\n", ROWS, ()),
        (",", "\n", ROWS[::-1], ()),
        (";", "\n", ROWS[3:] + ROWS[:3], ("--ascii",)),
    ][variant]
    lines = [f"ad{sep}telefon"] + [f"{a}{sep}{t}" for a, t in order]
    name = f"v{variant}.csv"
    (home.cwd / name).write_bytes((end.join(lines) + end).encode())
    return name, flags


def fresh(home: Home, emulator: Emulator) -> None:
    """An empty ledger and emulator for the next example."""
    emulator.reset()
    if home.backend == "sqlite":
        shutil.rmtree(home.ledger.parent, ignore_errors=True)
    else:
        ((schema,),) = home.query("SELECT current_schema()")
        home.query(f"DROP SCHEMA {schema} CASCADE")
        home.query(f"CREATE SCHEMA {schema}")


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("bulk"),
            st.integers(0, 3),  # which export
            st.sampled_from([None, 1, 3]),  # --limit
            st.booleans(),  # its first request is lost after the provider processed it
        ),
        st.tuples(st.just("optout"), st.integers(0, 7)),
    ),
    min_size=2,
    max_size=7,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_no_interleaving_sends_a_text_twice_or_to_an_opted_out_number(
    cli: Any, home: Home, emulator: Emulator, steps: list[tuple[Any, ...]]
) -> None:
    fresh(home, emulator)
    home.write_config(emulator.profiles("rate_limits = []\nbatch_size = 2\nconcurrency = 1"))
    opted_out_at: dict[str, int] = {}  # number → how many messages had arrived then
    for step in steps:
        if step[0] == "optout":
            number = NUMBERS[step[1]]
            assert cli("optout", "add", number).exit_code == 0
            opted_out_at.setdefault(number, len(emulator.received))
            continue
        _, variant, limit, lost = step
        name, flags = export(home, variant)
        if lost:
            emulator.inject("vairosms", "drop-after-processing")
        extra = ("--limit", str(limit)) if limit else ()
        out = cli("bulk", name, "-m", TEMPLATE, "--yes", "-p", "vs", *flags, *extra)
        assert out.exit_code in (0, 2, 6, 7), (step, out.stdout, out.stderr)
        assert "internal error" not in out.stderr
    per_number = Counter(r.to for r in emulator.received)
    assert max(per_number.values(), default=0) <= 1, (steps, per_number)
    for number, arrived in opted_out_at.items():
        later = [r.to for r in emulator.received[arrived:]]
        assert number not in later, (steps, number)
