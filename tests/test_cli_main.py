"""The top-level command group: subcommands built on demand, help and errors as typer's own."""

from __future__ import annotations

from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from smscli.cli import COMMANDS, app


def _eager() -> typer.Typer:
    """The same app built the way typer builds it: every command up front."""
    eager = typer.Typer(
        name="smscli",
        help=app.info.help,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    eager.callback()(app.registered_callback.callback)  # type: ignore[union-attr]
    for name, entry in COMMANDS.items():
        if isinstance(entry, typer.Typer):
            eager.add_typer(entry, name=name)
        else:
            eager.command(name)(entry)
    return eager


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["sned"],
        ["hist", "show"],
        ["send", "--help"],
        ["bulk", "--help"],
        ["balance", "--help"],
        ["history", "--help"],
        ["history", "show", "--help"],
        ["profiles", "add", "--help"],
        ["send", "05321234567", "--bogus"],
    ],
)
@pytest.mark.parametrize("width", [80, 50])
def test_help_and_usage_errors_match_typers_own_build(home, args, width):
    runner = CliRunner()
    env = {"COLUMNS": str(width)}
    lazy = runner.invoke(app, args, env=env)
    eager = runner.invoke(_eager(), args, env=env)
    assert (lazy.exit_code, lazy.stdout, lazy.stderr) == (
        eager.exit_code,
        eager.stdout,
        eager.stderr,
    )
    assert lazy.exit_code in (0, 2)
    assert "Usage: smscli" in lazy.stdout + lazy.stderr


def test_top_level_help_lists_every_command_with_its_summary(home):
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    rows = out.stdout.split("Commands:")[1].strip("\n").splitlines()
    assert [row.split()[0] for row in rows] == list(COMMANDS)
    assert "Send one message to one or more numbers." in out.stdout
    assert "Recent runs from the ledger, or one run's messages." in out.stdout


def test_a_call_builds_only_the_command_it_runs(home, monkeypatch):
    built: list[Any] = []
    real_command, real_group = typer.main.get_command_from_info, typer.main.get_group_from_info

    def command(*args: Any, **kw: Any) -> Any:
        built.append((args or [kw.get("command_info")])[0].name)
        return real_command(*args, **kw)

    def group(*args: Any, **kw: Any) -> Any:
        built.append((args or [kw.get("group_info")])[0].name)
        return real_group(*args, **kw)

    monkeypatch.setattr(typer.main, "get_command_from_info", command)
    monkeypatch.setattr(typer.main, "get_group_from_info", group)
    runner = CliRunner()

    assert runner.invoke(app, ["--help"]).exit_code == 0
    # Typer builds the top-level group itself first, with no name of its own.
    assert len(built) == 1 and not isinstance(built[0], str)

    built.clear()
    out = runner.invoke(app, ["send", "05321234567", "-m", "hi", "--provider", "sandbox"])
    assert out.exit_code == 0, out.stderr
    assert built[1:] == ["send"]

    built.clear()
    assert runner.invoke(app, ["history", "--help"]).exit_code == 0
    assert built[1:] == ["history", "show"]  # the group and its one subcommand
