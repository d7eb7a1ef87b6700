"""The store's part in who never gets a message, through the Store interface on a real ledger
(an SQLite file, a PostgreSQL schema): the opt-out list, the repeat guard's lookups,
idempotency keys, and the migration that brings an older ledger's recent messages under the
repeat guard."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest

from smscli.store import Guard, Recorded, Store, open_store
from smscli.store.keys import row_checksum, text_key
from smscli.store.migrations import scripts
from smscli.store.sqlite_db import statements
from tests.conftest import Home

BOTH_BACKENDS = True


@pytest.fixture
def store(home: Home) -> Iterator[Store]:
    with open_store(home.ledger) as s:
        yield s


def _run(store: Store, rows: list[tuple[str, str]], *, offline: bool = False) -> tuple[str, list]:
    """A ready run of ``(recipient, text)`` messages; returns its id and message ids."""
    run_id = store.create_run(
        command="bulk", provider="sandbox" if offline else "vairosms", profile=None,
        account="a", sender=None, source="f.csv", fingerprint=None, options=None,
        offline=offline,
    )  # fmt: skip
    store.add_messages(
        run_id,
        [[(i, f"f.csv line {i}", to, to, text, "GSM-7", 1, "pending", None, text_key(text),
           row_checksum(run_id, to, text, text_key(text)))
          for i, (to, text) in enumerate(rows, start=2)]],
    )  # fmt: skip
    store.mark_ready(run_id)
    return run_id, [m.id for m in store.messages(run_id)]


def _guard(store: Store, ids: list[int], since: float | None = None, record: bool = True) -> Guard:
    """The claim's guard of messages ``ids`` of one run, as the engine makes it."""
    found = [m for m in store.messages(_run_of(store, ids[0])) if m.id in ids]
    rows = [(m.id, m.recipient, text_key(m.text),
             row_checksum(m.run_id, m.recipient, m.text, text_key(m.text)))
            for m in found]  # fmt: skip
    return Guard(found[0].run_id, rows, since, record=record)


def _run_of(store: Store, message_id: int) -> str:
    return next(r.id for r in store.runs(limit=None, provider=None, profile=None)
                if any(m.id == message_id for m in store.messages(r.id)))  # fmt: skip


def _send(store: Store, ids: list[int], state: str = "accepted", record: bool = True) -> None:
    store.claim([ids], guard=_guard(store, ids, record=record))
    store.record([Recorded([(i, state, None, None) for i in ids])])


def test_optouts_are_added_once_listed_and_removed(store):
    assert store.add_optouts([("+905321234567", "STOP", "a"), ("+905321112233", None, "b")]) == [
        "+905321234567",
        "+905321112233",
    ]
    assert store.add_optouts([("+905321234567", "again", "c")]) == []
    listed = store.list_optouts()
    assert [(o.number, o.reason, o.source) for o in listed] == [
        ("+905321112233", None, "b"),
        ("+905321234567", "STOP", "a"),
    ]
    day = listed[0].added_at[:10]
    assert store.optouts() == {"+905321234567": day, "+905321112233": day}
    assert store.remove_optouts(["+905321234567", "+905550000000"]) == ["+905321234567"]
    assert set(store.optouts()) == {"+905321112233"}


def test_a_run_skips_numbers_opted_out_after_it_was_planned(store):
    run_id, _ = _run(store, [("+905321234567", "hi"), ("+905321112233", "hi")])
    store.add_optouts([("+905321112233", None, "x")])
    assert store.skip_optouts(run_id) == 1
    skipped = list(store.messages(run_id, ("skipped",)))
    assert [m.recipient for m in skipped] == ["+905321112233"]
    assert skipped[0].error.startswith("opted out on 20")
    assert store.totals(run_id).opted_out == 1


def _skipped(store: Store, rows: list[tuple[str, str]], since: float) -> dict[str, str]:
    """A new run of ``rows`` screened by the repeat guard: recipient → why, of its repeats."""
    run_id, _ = _run(store, rows)
    store.skip_repeats(run_id, since)
    return {m.recipient: m.error for m in store.messages(run_id, ("skipped",))}


def test_repeats_are_what_may_have_reached_the_same_number_with_the_same_text(store):
    before = time.time() - 1
    assert not store.sent_since(before)
    first, ids = _run(store, [("+1", "hi"), ("+2", "hi"), ("+3", "hi"), ("+4", "hi"), ("+5", "hi")])
    _send(store, ids[:1])  # accepted
    _send(store, ids[1:2], "unknown")  # may have reached them
    _send(store, ids[2:3], "failed")  # refused: reached nobody
    store.claim([ids[3:4]], guard=_guard(store, ids[3:4]))
    store.put_back(ids[3:4])  # its request was not processed
    assert store.sent_since(before)
    rows = [("+1", "hi"), ("+2", "hi"), ("+3", "hi"), ("+4", "hi"), ("+5", "hi")]
    skipped = _skipped(store, rows, before)
    assert _skipped(store, [("+1", "hello")], before) == {}  # another text
    assert set(skipped) == {"+1", "+2"}
    assert skipped["+1"].startswith(f"same text sent in run {first} at 20")
    assert skipped["+1"].endswith(" UTC")
    assert _skipped(store, rows, time.time() + 1) == {}  # outside the window


def test_offline_runs_reach_nobody(store):
    before = time.time() - 1
    _, ids = _run(store, [("+1", "hi")], offline=True)
    _send(store, ids, record=False)
    assert not store.sent_since(before)
    assert _skipped(store, [("+1", "hi")], before) == {}


def test_a_dry_runs_scratch_store_looks_in_the_ledger(store):
    from smscli.store.sqlite import SqliteStore

    _, ids = _run(store, [("+1", "hi")])
    _send(store, ids)
    with SqliteStore.scratch(None, store) as scratch:
        assert _skipped(scratch, [("+1", "hi"), ("+2", "hi")], 0) == {
            "+1": scratch.messages(scratch.runs(limit=1, provider=None, profile=None)[0].id,
                                   ("skipped",)).__next__().error,
        }  # fmt: skip
        assert store.totals(store.runs(limit=1, provider=None, profile=None)[0].id).rows == 1


def test_idempotency_keys_belong_to_their_run(store, backend):
    if backend == "sqlite":
        refused: type[Exception] = sqlite3.IntegrityError
    else:
        import psycopg

        refused = psycopg.IntegrityError
    run_id, _ = _run(store, [("+1", "hi")])
    assert store.find_key("vairosms:p", "k") is None
    store.keep_key("vairosms:p", "k", "digest", run_id)
    assert store.find_key("vairosms:p", "k") == ("digest", run_id)
    assert store.find_key("vairosms:q", "k") is None  # another account's key space
    with pytest.raises(refused):
        store.keep_key("vairosms:p", "k", "other", run_id)
    store.delete_run(run_id)
    assert store.find_key("vairosms:p", "k") is None


def test_a_run_keeps_its_exit_code(store):
    run_id, ids = _run(store, [("+1", "hi")])
    _send(store, ids, "unknown")
    assert store.finish(run_id, None, 7)
    assert store.run(run_id).exit_code == 7


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a file of an old version
def test_upgrading_a_ledger_brings_last_weeks_messages_under_the_repeat_guard(backend, tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # a ledger as the previous version left it
        for script in scripts("sqlite")[:5]:
            for statement in statements(script):
                db.execute(statement)
        db.execute("PRAGMA user_version = 5")
        db.execute(
            "INSERT INTO runs (id, created_at, command, provider, account, state)"
            " VALUES ('r1', '2026-01-01', 'bulk', 'vairosms', 'a', 'complete'),"
            " ('r2', '2026-01-01', 'bulk', 'sandbox', 'sandbox', 'complete')"
        )
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())
        rows = [("r1", "+1", "accepted", stamp), ("r1", "+2", "failed", stamp),
                ("r1", "+3", "accepted", "2020-01-01T00:00:00.000+00:00"),
                ("r2", "+4", "accepted", stamp)]  # fmt: skip
        for i, (run, to, state, at) in enumerate(rows):
            db.execute(
                "INSERT INTO messages (run_id, seq, recipient, text, state, created_at,"
                " updated_at) VALUES (?, ?, ?, 'hi', ?, ?, ?)",
                (run, i, to, state, at, at),
            )
    with open_store(path) as store:
        rows = [(to, "hi") for to in ("+1", "+2", "+3", "+4")]
        assert set(_skipped(store, rows, 0)) == {"+1"}
        assert store.run("r2").exit_code is None


def test_the_claim_skips_what_was_sent_or_opted_out_since_the_run_was_planned(store):
    """The guarantee lives in the claim: two runs planned before either sent, the second
    claims after the first; and an opt-out added after both were planned."""
    first, a = _run(store, [("+1", "Merhaba Ayşe"), ("+2", "hi"), ("+3", "hi")])
    second, b = _run(store, [("+1", "Merhaba  Ayse "), ("+2", "hi"), ("+3", "hi")])
    store.add_optouts([("+3", None, "x")])
    claim = store.claim([a], guard=_guard(store, a, time.time() - 60))
    assert (claim.claimed, claim.skipped) == (1, {a[2]: claim.skipped[a[2]]})
    assert claim.skipped[a[2]].startswith("opted out on 20")
    store.record([Recorded([(i, "accepted", None, None) for i in a[:2]])])
    claim = store.claim([b[:2], b[2:]], guard=_guard(store, b, time.time() - 60))
    assert claim.claimed == 2 and claim.permits == [None, None]
    assert set(claim.skipped) == set(b)  # the same text (its --ascii and spaced forms) to +1
    assert claim.skipped[b[0]].startswith(f"same text sent in run {first} at 20")
    assert {m.state for m in store.messages(second)} == {"skipped"}
    totals = store.totals(second)
    assert (totals.repeat, totals.opted_out, totals.pending) == (2, 1, 0)


def test_a_refused_or_unprocessed_message_frees_its_slot_and_repeats_may_be_allowed(store):
    _, a = _run(store, [("+1", "hi"), ("+2", "hi")])
    store.claim([a], guard=_guard(store, a, 0.0))
    store.record([Recorded([(a[0], "failed", None, "refused")])])  # reached nobody
    store.put_back(a[1:])  # a 429: not processed
    _, b = _run(store, [("+1", "hi"), ("+2", "hi")])
    assert store.claim([b], guard=_guard(store, b, 0.0)).skipped == {}
    _, c = _run(store, [("+1", "hi")])
    assert store.claim([c], guard=_guard(store, c, 0.0)).skipped.keys() == {c[0]}
    _, d = _run(store, [("+1", "hi")])
    assert store.claim([d], guard=_guard(store, d, None)).skipped == {}  # --allow-repeat


def test_a_row_that_no_longer_matches_its_checksum_is_never_claimed(store, home):
    from smscli.store.problems import LedgerDamaged

    run_id, ids = _run(store, [("+905321234567", "hi"), ("+905321112233", "hi")])
    guard = _guard(store, ids)
    home.query("UPDATE messages SET recipient = '+905321112234' WHERE id = ?", ids[1])
    damaged = _guard(store, ids)  # what the engine would now read and send
    assert damaged.rows[1] != guard.rows[1]
    with pytest.raises(LedgerDamaged, match="checksum"):
        store.claim([ids], guard=damaged)
    assert {m.state for m in store.messages(run_id)} == {"pending"}  # nothing claimed
