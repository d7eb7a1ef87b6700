"""A third-party provider driver for smscli, as a plugin package would ship it.

``tests/test_one_path.py`` copies this module into a directory on ``PYTHONPATH`` beside a
``fakesms-1.0.dist-info`` that registers it in the ``smscli.providers`` entry-point group; smscli
itself knows nothing about it. It needs no network: it accepts every message, writes each number
it "sent" to the file named by ``FAKESMS_LOG`` (one per line), and reports everything delivered.

It follows the driver protocol after the provider refactor: ``Capabilities`` declares
``network`` and ``credentials``, and every driver is built as ``cls(account, client, state)``.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from smscli.errors import UnsupportedOperation
from smscli.providers.base import (
    Account,
    Balance,
    Batch,
    BatchResult,
    Capabilities,
    Delivery,
    Header,
    Outcome,
)

CREDITS = 500.0

_lock = threading.Lock()  # bulk calls send() from several worker threads
_ids = itertools.count(1)


class FakeSms:
    name: ClassVar[str] = "fakesms"
    default_base_url: ClassVar[str] = "fakesms:"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=10,
        per_recipient_text=True,
        turkish_mode=False,
        turkish_numbers_only=False,
        sender=False,
        balance=True,
        report=True,
        headers=False,
        rate_limits=(),
        network=False,  # the two fields the provider refactor adds
        credentials=("api_key",),
    )

    def __init__(self, account: Account, client: Any, state: Any) -> None:
        if client is not None:
            raise AssertionError("fakesms declares network=False: it must get no HTTP client")
        if not account.api_key:
            raise AssertionError("fakesms declares the api_key credential: it must be checked")
        if not callable(getattr(state, "get", None)):
            raise AssertionError("a driver gets the account's state, with get(key)")
        self.account = account
        self.state = state

    def check_recipient(self, e164: str) -> str | None:
        return None

    def send(self, batch: Batch) -> BatchResult:
        with _lock:
            with open(os.environ["FAKESMS_LOG"], "a", encoding="utf-8") as log:
                log.writelines(m.to + "\n" for m in batch.messages)
            outcomes = tuple(
                Outcome(m.key, "accepted", f"fake-{next(_ids)}") for m in batch.messages
            )
            batch_id = f"fake-batch-{next(_ids)}"
        return BatchResult(outcomes, batch_id=batch_id)

    def balance(self) -> Balance:
        return Balance(CREDITS, f"{CREDITS:g}")

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        return [Delivery(n, "delivered", "fakesms: delivered") for n in numbers]

    def headers(self) -> list[Header]:
        raise UnsupportedOperation("fakesms has no sender headers")
