"""The ledger's schema: one ordered list of migrations, applied by the store that opens the
ledger (``PRAGMA user_version`` for SQLite). A ledger whose schema is newer than this list is
refused. Statements are separated by ``;`` and use only SQL that SQLite and PostgreSQL share
where they can; what a backend needs of its own it applies itself."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        command TEXT NOT NULL,
        provider TEXT NOT NULL,
        profile TEXT,
        account TEXT NOT NULL,
        sender TEXT,
        source TEXT,
        fingerprint TEXT,
        credits_remaining REAL
    );
    CREATE INDEX runs_fingerprint ON runs(fingerprint);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        source TEXT,
        raw TEXT,
        recipient TEXT,
        text TEXT,
        encoding TEXT,
        segments INTEGER,
        state TEXT NOT NULL,
        provider_message_id TEXT,
        batch_id TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX messages_run_state ON messages(run_id, state);
    CREATE INDEX messages_provider_id ON messages(provider_message_id);
    CREATE TABLE provider_state (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, key)
    );
    """,
    # 2: bulk runs (preparation state, options, lease), delivery reports, rate limiting.
    """
    ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'complete';
    ALTER TABLE runs ADD COLUMN options TEXT;
    ALTER TABLE runs ADD COLUMN lease_owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until REAL;
    ALTER TABLE messages ADD COLUMN report_detail TEXT;
    ALTER TABLE messages ADD COLUMN reported_at TEXT;
    CREATE INDEX messages_run_recipient ON messages(run_id, recipient);
    CREATE TABLE rate_events (account TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX rate_events_account_at ON rate_events(account, at);
    CREATE TABLE rate_blocks (account TEXT PRIMARY KEY, until REAL NOT NULL);
    """,
    # 3: the next pending window of a run, in input order, without sorting the whole run.
    """
    CREATE INDEX messages_run_state_seq ON messages(run_id, state, seq);
    DROP INDEX messages_run_state;
    """,
    # 4: only pending messages need finding in order; a partial index is not rewritten when a
    # message moves from sending to its outcome, which halves the index work of every batch.
    """
    CREATE INDEX messages_pending ON messages(run_id, seq) WHERE state = 'pending';
    DROP INDEX messages_run_state_seq;
    """,
    # 5: provider ids are only looked up by value (reports), never as NULL: a partial index
    # is not written when a message is prepared, nor rewritten when it gets its id.
    """
    DROP INDEX messages_provider_id;
    CREATE INDEX messages_provider_id ON messages(provider_message_id)
        WHERE provider_message_id IS NOT NULL;
    """,
    # 6: who never gets a message. The opt-out list; when each message was claimed (sent_at,
    # written by the claim's own UPDATE, in place: a message not yet claimed has sent_at 0.5, a
    # float like a time), for the repeat guard, which finds a recipient's messages in the runs
    # that may have sent since the window opened through messages_run_recipient (no index of
    # its own: one would be written by every claim);
    # messages sent in the last week before this version are given theirs. Runs of a provider
    # without network (``offline``) reach nobody. Idempotency keys of ``send``; a run's exit
    # code (a replay exits with it).
    """
    CREATE TABLE optouts (
        number TEXT PRIMARY KEY,
        added_at TEXT NOT NULL,
        reason TEXT,
        source TEXT
    );
    ALTER TABLE messages ADD COLUMN sent_at REAL;
    UPDATE messages SET sent_at = (julianday(updated_at) - 2440587.5) * 86400.0
        WHERE state IN ('accepted', 'unknown', 'delivered', 'undelivered', 'sending')
        AND updated_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days');
    CREATE TABLE idempotency_keys (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        request TEXT NOT NULL,
        run_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (account, key)
    );
    ALTER TABLE runs ADD COLUMN exit_code INTEGER;
    ALTER TABLE runs ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET offline = 1 WHERE provider = 'sandbox';
    """,
)
