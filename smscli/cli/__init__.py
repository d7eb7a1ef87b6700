"""The command line: parses arguments, calls the core, renders. Only this package imports
typer and rich, and rich only inside the commands that print."""

from __future__ import annotations

import inspect
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, cast

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo

from smscli import __version__
from smscli.cli.account import balance, headers, report
from smscli.cli.bulk import bulk as bulk_command
from smscli.cli.doctor import doctor
from smscli.cli.history import app as history_app
from smscli.cli.ledger import app as ledger_app
from smscli.cli.optout import app as optout_app
from smscli.cli.profiles import app as profiles_app
from smscli.cli.send import send as send_command

COMMANDS: dict[str, Callable[..., Any] | typer.Typer] = {
    "send": send_command,
    "bulk": bulk_command,
    "balance": balance,
    "report": report,
    "headers": headers,
    "doctor": doctor,
    "history": history_app,
    "ledger": ledger_app,
    "optout": optout_app,
    "profiles": profiles_app,
}


def _summary(entry: Callable[..., Any] | typer.Typer) -> str:
    if isinstance(entry, typer.Typer):
        return typer.main.solve_typer_info_help(TyperInfo(entry))
    return inspect.getdoc(entry) or ""


def _build(name: str, entry: Callable[..., Any] | typer.Typer) -> Any:
    # With the settings typer hands down from the top-level app.
    short, markup = app.pretty_exceptions_short, app.rich_markup_mode
    if isinstance(entry, typer.Typer):
        return typer.main.get_group_from_info(
            TyperInfo(entry, name=name),
            pretty_exceptions_short=short,
            suggest_commands=app.suggest_commands,
            rich_markup_mode=markup,
        )
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=entry),
        pretty_exceptions_short=short,
        rich_markup_mode=markup,
    )


class _OnDemand(Mapping[str, Any]):
    """The subcommands, each built the first time it is looked up."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = _build(name, COMMANDS[name])
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class _LazyGroup(TyperGroup):
    """Typer turns every command's signature into click parameters before it parses anything
    (get_type_hints over all 23 callbacks, about 35 ms), though a call runs one command. Here
    a subcommand is built when it is looked up, and the top-level help lists the commands from
    their docstrings, as typer would."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = cast(dict[str, Any], _OnDemand())

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        listing = [TyperCommand(name, help=_summary(e)) for name, e in COMMANDS.items()]
        TyperGroup(commands=listing).format_commands(ctx, formatter)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            _refuse_contradictions(type(ctx)(cmd, parent=ctx, info_name=name), cmd, rest)
        return name, cmd, rest

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """With ``--json``, a usage error click finds (an unknown option, a missing argument)
        is a JSON document on stdout too, as every other error is."""
        argv = kwargs.get("args")
        argv = sys.argv[1:] if argv is None else list(argv)
        if "--json" not in argv:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except Exception as error:
            if not hasattr(error, "format_message"):  # click's ClickException (typer vendors it)
                raise
            exc: Any = error
            exc.show()
            _json_usage_error(exc)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


CONTRADICTIONS = (("--tr", "--no-tr"),)
"""Flags of which the last would silently win: both given is a mistake to name."""


def _refuse_contradictions(ctx: Any, cmd: Any, args: list[str]) -> None:
    """A usage error when ``args`` give both flags of a pair in :data:`CONTRADICTIONS`. The
    values of options are skipped (``-m --tr`` is a text), as click would read them."""
    takes_value = {
        opt
        for p in getattr(cmd, "params", ())
        if p.param_type_name == "option" and not p.is_flag and not p.count
        for opt in p.opts
    }
    given, tokens = set(), iter(args)
    for token in tokens:
        if token == "--":
            break
        if token in takes_value:
            next(tokens, None)
        given.add(token)
    for pair in CONTRADICTIONS:
        if given.issuperset(pair):
            raise typer.BadParameter(
                f"{' and '.join(pair)} contradict each other: give one of them", ctx=ctx
            )


def _json_usage_error(exc: Any) -> None:
    """click's usage error as the envelope every ``--json`` document has."""
    from smscli.cli.common import Cli
    from smscli.cli.output import command_path, error_document

    ctx = getattr(exc, "ctx", None)
    error = error_document("usage", exc.format_message(), _usage_hint(ctx))
    Cli(json=True, command=command_path(ctx)).emit({}, exc.exit_code, error)


def _usage_hint(ctx: Any) -> str | None:
    if ctx is None:
        return None
    return f"see '{ctx.command_path} --help'"


app = typer.Typer(
    name="smscli",
    help="Send SMS, one at a time or in bulk, through HTTP SMS gateways, exactly once.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=_LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        print(f"smscli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Send SMS through HTTP SMS gateways, or the built-in sandbox."""


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _ClosableStdout:
    """stdout that a reader may close (``| head``, ``| true``): the output is lost, never the
    work nor its exit code. The first write that finds the pipe closed points the descriptor at
    ``/dev/null``, so later writes, and the flush at exit, go nowhere quietly."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._discard()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard()

    def _discard(self) -> None:
        import os

        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._stream.fileno())
        finally:
            os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    # SIGTERM (cron timeouts, CI cancellation) unwinds like Ctrl-C, so the ledger is settled.
    signal.signal(signal.SIGTERM, _terminate)
    # A terminal or log in another encoding (LANG=C without UTF-8 mode, ISO-8859-9) shows what
    # it cannot encode as "?": the output may lose a character, never the command its result.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    sys.stdout = cast(Any, _ClosableStdout(sys.stdout))
    # Argument bytes that are not text in the locale's encoding (a Windows-1254 script, a
    # shell's $'\xff') reach Python as lone surrogates, which no output, file or ledger takes:
    # refused here, each argument named, before any command sees one.
    args, encoding = sys.argv[1:], sys.getfilesystemencoding()
    for i, arg in enumerate(args, start=1):
        bad = next((n for n, c in enumerate(arg) if "\udc80" <= c <= "\udcff"), None)
        if bad is None:
            continue
        option, equals, _ = arg.partition("=")
        before = args[i - 2] if i > 1 else ""
        if equals and option.startswith("--"):
            where = f" (the value of {option})"
        elif before.startswith("-") and before != "-" and "=" not in before:
            where = f" (after {before})"
        else:
            where = ""
        raw = arg.encode(encoding, "surrogateescape")
        at = len(arg[:bad].encode(encoding, "surrogateescape"))
        shown = raw.decode(encoding, "backslashreplace")
        text = encoding.upper()
        print(
            f"error: argument {i}{where} is not valid {text} text: byte 0x{raw[at]:02x} "
            f"at byte {at + 1} of '{shown[:60]}'\n  pass every argument as {text} text (from a "
            f"Windows-1254 script: iconv -f windows-1254 -t utf-8); rename a file whose name "
            f"is not {text}",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(app())
