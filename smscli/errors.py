"""One error tree and one exit-code enum; the CLI edge maps one to the other.

Per-recipient outcomes are data (:class:`smscli.providers.base.Outcome`), not exceptions.
The exceptions here are for things that stop a whole command or a whole request.
Every message is written for the user and must never contain a secret.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the contract (``shared/spec/cli.md``)."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    BAD_INPUT = 3
    CONFIG = 4
    CREDIT = 5
    PROVIDER = 6
    UNKNOWN = 7
    UNFINISHED = 8
    INTERNAL = 70


class SmscliError(Exception):
    """Base of every error the user is meant to read.

    ``code`` names the kind of error in ``--json`` documents (``error.code``): a script may
    branch on it; it is stable, like the exit codes, and finer than them."""

    code: str = "error"

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SmscliError):
    code: str = "usage"
    exit_code = ExitCode.USAGE


class UnsupportedOperation(UsageError):
    """The provider does not offer this call."""

    code: str = "unsupported"


class InputError(SmscliError):
    """Bad input data: recipients, message, files."""

    code: str = "bad_input"

    exit_code = ExitCode.BAD_INPUT


class ConfigError(SmscliError):
    code: str = "config"
    exit_code = ExitCode.CONFIG


class AuthError(ConfigError):
    """The provider rejected the credentials."""

    code: str = "auth"


class SenderError(ConfigError):
    """The provider rejected the sender header (başlık)."""

    code: str = "sender"


class CreditError(SmscliError):
    code: str = "credit"
    exit_code = ExitCode.CREDIT


class ProviderError(SmscliError):
    """The provider answered with an error, or with something we cannot read."""

    code: str = "provider"

    exit_code = ExitCode.PROVIDER


class RecipientError(ProviderError):
    """The provider rejected the destination numbers of a request as a whole."""

    code: str = "recipients"

    exit_code = ExitCode.BAD_INPUT


class NotSent(ProviderError):
    """The request never reached the provider (connection refused, connect timeout).

    Nothing was processed, so the messages are plainly ``failed`` and safe to send again.
    """

    code: str = "not_sent"


class OutcomeUnknown(ProviderError):
    """The request left, but no usable answer came back (read timeout, dropped
    connection, a 5xx, a reply we cannot read). The provider may have sent the
    messages: they are ``unknown`` and are never retried automatically."""

    code: str = "outcome_unknown"

    exit_code = ExitCode.UNKNOWN


class RateLimited(ProviderError):
    """HTTP 429, or 503 with ``Retry-After``: the request was not processed."""

    code: str = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unfinished(SmscliError):
    code: str = "unfinished"
    exit_code = ExitCode.UNFINISHED
