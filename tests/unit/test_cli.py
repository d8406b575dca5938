"""The ``mosaicflow`` command collects the subcommands of every ``<area>/cli.py``."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from mosaicflow import cli

PACKAGE = Path(cli.__file__).resolve().parent


def test_every_area_cli_module_is_listed_and_none_else():
    found = {f"mosaicflow.{p.parent.name}.cli" for p in PACKAGE.glob("*/cli.py")}
    assert set(cli.SUBCOMMAND_MODULES) == found
    assert len(set(cli.SUBCOMMAND_MODULES)) == len(cli.SUBCOMMAND_MODULES)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _leaves(
    parser: argparse.ArgumentParser, path: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    children = _subparsers(parser)
    if not children:
        return [(path, parser)]
    return [leaf for name, sub in children.items() for leaf in _leaves(sub, f"{path} {name}")]


@pytest.mark.parametrize("name", cli.SUBCOMMAND_MODULES)
def test_listed_module_registers_subcommands_with_help_and_func(name):
    parser = argparse.ArgumentParser(prog="mosaicflow")
    subparsers = parser.add_subparsers(dest="command")
    importlib.import_module(name).register(subparsers)
    assert subparsers.choices, f"{name} registered no subcommand"
    for command, leaf in _leaves(parser, "mosaicflow"):
        assert callable(leaf.get_default("func")), f"{name}: {command} sets no func"
        assert leaf.description, f"{name}: {command} has no description for --help"


def test_parser_holds_every_registered_subcommand(capsys):
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert "videos" in commands and len(commands) >= len(cli.SUBCOMMAND_MODULES)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "videos" in capsys.readouterr().out
