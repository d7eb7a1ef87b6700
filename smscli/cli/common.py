"""What every command shares: common options, the resolved context, the error edge."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from smscli.cli.output import command_path, console_class, error_document, json_text
from smscli.errors import ExitCode, SmscliError
from smscli.providers import BUILTIN
from smscli.redact import RedactingFilter, Redactor

if TYPE_CHECKING:
    from rich.console import Console

    from smscli.config import ConfigFile, Environment, Settings
    from smscli.providers.base import Account, Provider, State
    from smscli.ratelimit import Rate
    from smscli.runs import BulkInput, RunOptions, RunView, SendInput
    from smscli.store import Store

_VERBATIM: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
"""Our consoles print what they are given: file names, message texts and providers' errors
hold ``[...]`` and ``:name:`` as they are, not as rich markup or emoji codes."""

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile from the config file.")
]
ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help=f"Provider: {', '.join(BUILTIN)} or an installed plugin."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only a JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print no table, only errors.")]
SenderOpt = Annotated[str | None, typer.Option("--sender", "-s", help="Sender header (başlık).")]
TurkishOpt = Annotated[
    bool | None,
    typer.Option(
        "--tr/--no-tr",
        help="Force the provider's Turkish-character mode on or off (default: when needed).",
        show_default=False,
    ),
]
AsciiOpt = Annotated[
    bool, typer.Option("--ascii", help="Transliterate Turkish letters (ş→s, ğ→g, …).")
]
MaxWaitOpt = Annotated[
    float, typer.Option("--max-wait", min=0, help="Most seconds to wait out rate limits.")
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", "-v", help="Log requests (secrets redacted) on stderr.")
]


@dataclass
class Cli:
    """The state of one command invocation."""

    json: bool = False
    quiet: bool = False
    debug: bool = False
    profile: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    command: str = field(default_factory=command_path)
    warnings: list[str] = field(default_factory=list)
    """Every warning given so far (redacted): the envelope's ``warnings``."""
    emitted: bool = False
    """The ``--json`` document is (being) written: an error now goes to stderr only."""
    _env: Environment | None = None
    _settings: Settings | None = None
    _ledger: str | Path | None = None
    _config: ConfigFile | None = None

    @property
    def env(self) -> Environment:
        if self._env is None:
            from smscli.config import Environment

            self._env = Environment.from_process(os.environ, Path.cwd())
        return self._env

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from smscli.config import resolve

            self._settings = resolve(self.env, profile=self.profile, flags=self.flags)
            self._redact_secrets()
            for warning in self._settings.warnings:
                self.warn(warning)
        return self._settings

    @property
    def config_file(self) -> ConfigFile:
        """The config file, read once (the resolved profile's, when there is one)."""
        if self._config is None:
            from smscli.config import ConfigFile

            self._config = (
                self._settings.config if self._settings else ConfigFile.load(self.env.config_path)
            )
        return self._config

    @property
    def ledger(self) -> str | Path:
        """Where the ledger is (:meth:`Environment.ledger`): a path, or a PostgreSQL URL
        whose password the redactor knows from now on. The config file is read only when
        ``SMSCLI_LEDGER`` does not say."""
        if self._ledger is None:
            given = self.env.ledger_given
            self._ledger = self.env.ledger(None if given else self.config_file)
            self._redact_secrets()
        return self._ledger

    def _redact_secrets(self) -> None:
        secrets = list(self._settings.secrets() if self._settings else ())
        if isinstance(self._ledger, str):
            from smscli.store.pg_db import url_secrets

            secrets += url_secrets(self._ledger)
        self.redactor = Redactor(secrets)

    @property
    def out(self) -> Console:
        Console = console_class()
        console = Console(**_VERBATIM, soft_wrap=False)
        if not console.is_terminal:
            # Logs and pipes have no width; rich's 80 columns would fold tables, and a summary
            # or a path folded in a log cannot be pasted: tables get 160 columns (or COLUMNS),
            # lines of text are never folded.
            width = None if "COLUMNS" in os.environ else 160
            console = Console(**_VERBATIM, soft_wrap=True, width=width)
        return console

    @property
    def err(self) -> Console:
        console = console_class()(**_VERBATIM, stderr=True)
        if not console.is_terminal:
            # Cron mail and CI logs: a message or hint stays on one line, to be pasted as it is
            # (a path, a `senders = [...]` line); rich would fold it at 80 columns.
            console.soft_wrap = True
        return console

    def warn(self, text: str) -> None:
        from rich.text import Text

        text = self.redactor(text)
        self.warnings.append(text)
        self.err.print(Text.assemble(("warning: ", "yellow"), text))

    def envelope(
        self, document: dict[str, Any], exit_code: int = 0, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``document`` in the envelope every ``--json`` document shares (``schemas/``):
        ``command``, ``provider``, ``profile``, ``exit_code``, ``error``, ``warnings``, then the
        command's own members. ``provider`` and ``profile`` are the document's when it names
        them, else the resolved profile's, else null."""
        settings = self._settings
        warnings = self.warnings + [self.redactor(w) for w in document.get("warnings", ())]
        head = {
            "command": self.command,
            "provider": document.get("provider", settings and settings.get("provider")),
            "profile": document.get("profile", settings.profile if settings else self.profile),
            "exit_code": int(exit_code),
            "error": error,
            "warnings": list(dict.fromkeys(warnings)),
        }
        return head | {k: v for k, v in document.items() if k not in head}

    def emit(
        self, document: dict[str, Any], exit_code: int = 0, error: dict[str, Any] | None = None
    ) -> None:
        """The command's ``--json`` document, in the envelope, on stdout."""
        self.emitted = True
        print(json_text(self.envelope(document, exit_code, error)))

    def error(self, text: str) -> None:
        from rich.text import Text

        self.err.print(Text.assemble(("error: ", "red"), self.redactor(text)))

    def info(self, text: str) -> None:
        if not self.quiet and not self.json:
            self.err.print(self.redactor(text))


@contextmanager
def command(cli: Cli) -> Iterator[Cli]:
    """The error edge: domain errors become a message and the contract's exit code;
    anything else is reported without secrets or local variables."""
    with _debug_log(cli), _edge(cli):
        yield cli


@contextmanager
def _debug_log(cli: Cli) -> Iterator[None]:
    """With ``--debug``, smscli's and httpx's logs on stderr, redacted, for this command only."""
    if not cli.debug:
        yield
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(lambda: cli.redactor))
    loggers = [logging.getLogger(name) for name in ("smscli", "httpx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@contextmanager
def _edge(cli: Cli) -> Iterator[None]:
    try:
        yield
    except SmscliError as exc:
        _fail(cli, exc.exit_code, exc.code, exc.message, exc.hint)
    except KeyboardInterrupt:
        # Outside the engine's own handling (which says what was sent): preparing a run,
        # checking it, a report. What was done is in the ledger, a half-prepared run is gone.
        hint = "nothing is lost: run the same command again to continue"
        _fail(cli, ExitCode.UNFINISHED, "interrupted", "interrupted", hint)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if cli.debug:
            cli.err.print(cli.redactor(traceback.format_exc()))
        message = f"internal error: {type(exc).__name__}: {exc}"
        hint = "this is a bug in smscli; run again with --debug for the traceback"
        _fail(cli, ExitCode.INTERNAL, "internal", message, hint)


def _fail(cli: Cli, exit_code: ExitCode, code: str, message: str, hint: str | None) -> NoReturn:
    """The error on stderr and, with ``--json`` when no document was written yet, as the
    document on stdout; then the exit. Redaction uses every secret known so far, including
    those of a half-resolved profile."""
    from rich.text import Text

    message, hint = cli.redactor(message), hint and cli.redactor(hint)
    cli.err.print(Text.assemble(("error: ", "red"), message))
    if hint:
        cli.err.print(f"  {hint}")
    if cli.json and not cli.emitted:
        cli.emit({}, exit_code, error_document(code, message, hint))
    raise typer.Exit(int(exit_code)) from None


def check_account(cli: Cli, cls: type[Provider]) -> Account:
    """Credentials present, and a warning where they would travel unencrypted."""
    from smscli.accounts import require_credentials

    settings = cli.settings
    require_credentials(settings, cls.name, cls.capabilities)
    account = settings.account(cls.default_base_url)
    warn_if_plain_http(cli, account)
    return account


def warn_if_plain_http(cli: Cli, account: Account) -> None:
    """Credentials sent to a plain-http root that is not this machine travel unencrypted."""
    from urllib.parse import urlsplit

    url = urlsplit(account.base_url)
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        cli.warn(
            f"{account.provider}: {url.scheme}://{url.hostname} is plain http, so the "
            "credentials travel unencrypted (the provider documents no https root)"
        )


@contextmanager
def open_driver(
    cli: Cli,
    cls: type[Provider],
    account: Account,
    state: State | None = None,
    before_request: Callable[[], None] | None = None,
) -> Iterator[Provider]:
    """A driver built as every driver is, with one keep-alive HTTP client where it talks HTTP
    (closed afterwards) and its account's state (``state``, else none kept).
    ``before_request`` runs before every request leaves (a report's rate limit)."""
    client = None
    if cls.capabilities.network:
        from smscli.http import make_client

        client = make_client(account.timeout, cli.redactor, debug=cli.debug)
        if before_request is not None:
            gate = before_request
            client.event_hooks["request"].append(lambda request: gate())
    try:
        yield cls(account, client, state or _NoState())
    finally:
        if client is not None:
            client.close()


class _NoState:
    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        pass


def account_state(store: Store, cls: type[Provider], account: Account) -> State:
    from smscli.accounts import account_id
    from smscli.store import AccountState

    return AccountState(store, account_id(account, cls.capabilities))


def rate_limits(cli: Cli, cls: type[Provider]) -> list[Rate]:
    """The profile's rate limits, else the provider's documented ones (validated)."""
    return cli.settings.rates(cls.capabilities.rate_limits)


def run_options(
    cli: Cli,
    given: BulkInput | SendInput,
    *,
    turkish: bool | None,
    ascii_only: bool,
    max_wait: float,
    force: bool,
    limit: int | None = None,
    retry_unknown: bool = False,
    retry_failed: bool = False,
    again: bool = False,
    batch_size: int | None = None,
    concurrency: int | None = None,
) -> RunOptions:
    """The frozen options of a run: the command's flags over the resolved profile."""
    from smscli import providers
    from smscli.runs import RunOptions

    settings = cli.settings
    cls = providers.get(settings.provider)
    account = check_account(cli, cls)
    flag = settings.values.get("sender")
    if not cls.capabilities.sender and flag is not None and flag.origin == "flag":
        cli.warn(f"{cls.name} takes no sender header; --sender is ignored")
    return RunOptions(
        given, cls, account, settings.profile, settings.get("region"),
        sender=settings.get("sender"), turkish=turkish, ascii_only=ascii_only,
        max_wait=max_wait, force=force, limit=limit, retry_unknown=retry_unknown,
        retry_failed=retry_failed, again=again,
        batch_size=batch_size or settings.get("batch_size"),
        concurrency=concurrency or settings.get("concurrency") or 4,
        rates=tuple(rate_limits(cli, cls)),
    )  # fmt: skip


def confirm(view: RunView) -> bool:
    """Ask on the terminal before a run sends (the answer defaults to no)."""
    from smscli.words import plural

    t = view.totals
    return typer.confirm(
        f"Send {plural(t.pending, 'message')} ({plural(t.parts_pending, 'part')}) through "
        f"{view.run.provider}?",
        default=False,
        err=True,
    )
