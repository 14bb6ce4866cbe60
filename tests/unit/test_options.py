"""The options table: each door's parser and keywords come from it, one mapping turns values
into the server's configuration, and the docs' tables are the table's."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sqlrooms_jupyter import cli, options
from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.db.sandbox import Sandbox
from sqlrooms_jupyter.kernel import magics
from sqlrooms_jupyter.session import Limits
from sqlrooms_jupyter.web.server import ServerConfig

ROOT = Path(__file__).resolve().parent.parent.parent
# Read by a door itself, not mapped into the configuration.
DOOR_ONLY = {"version", "auth_token_file", "log_level", "require_token", "connection"}


def magic_start_parser() -> argparse.ArgumentParser:
    parser = magics.build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    start = commands.choices["start"]
    assert isinstance(start, argparse.ArgumentParser)
    return start


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings} - {"-h"}


def magic_keywords(*argv: str) -> dict[str, object]:
    values = options.values_from(magic_start_parser().parse_args(argv))
    del values["connection"]
    return options.keywords(values)


def test_each_door_offers_the_tables_flags() -> None:
    cli_flags = {o.flag for o in options.OPTIONS if options.CLI in o.doors}
    assert flags_of(cli.build_parser()) == cli_flags | {"--help", "--no-allow-client-snapshots"}
    assert flags_of(magic_start_parser()) == {
        o.flag for o in options.OPTIONS if options.MAGIC in o.doors
    }
    assert "--cache-dir" in cli_flags and "--no-token" not in cli_flags


@pytest.mark.parametrize("option", options.OPTIONS, ids=lambda o: o.flag)
def test_the_mapping_uses_every_configured_option(option: options.Option) -> None:
    """Changing any option's value changes the configuration: none is dropped on the way."""
    if option.name in DOOR_ONLY:
        return
    changed = {
        bool: lambda v: not v,
        int: lambda v: (v or 0) + 1,
        float: lambda v: (v or 0) + 1.5,
        list: lambda v: [*v, "x"],
        str: lambda v: (v or "") + "x",
    }[option.kind](option.default)
    if option.name == "allow_client_snapshots":
        changed = True
    before = options.server_config({"auth_token": None})
    assert options.server_config({"auth_token": None, option.name: changed}) != before


def test_the_command_lines_defaults_are_the_cores() -> None:
    assert options.server_config({"auth_token": None}) == ServerConfig()
    args = cli.build_parser().parse_args([])
    assert cli.config_from_args(args, {}) == ServerConfig()


def test_the_kernels_defaults_are_what_start_always_built() -> None:
    config = options.server_config(options.keywords({}) | {"auth_token": "t"})
    assert config == ServerConfig(
        auth_token="t",
        limits=Limits(query_timeout=None, max_connections=1024, max_sql_chars=256 << 10),
        engine=EngineConfig(db_path=":memory:", extensions=(), sandbox=Sandbox()),
    )


def test_the_magic_and_the_cli_parse_a_flag_alike() -> None:
    argv = ["--extensions", "spatial, json", "--allow-origin", "https://a,https://b"]
    argv += ["--max-message-size", "2M", "--max-sql-size", "1K", "--query-timeout", "2"]
    argv += ["--allowed-directories", "/data", "--read-only", "--threads", "2"]
    from_cli = cli.config_from_args(cli.build_parser().parse_args(argv), {})
    from_magic = options.server_config(magic_keywords(*argv) | {"auth_token": None})
    assert from_magic == from_cli
    assert from_cli.engine.extensions == ("spatial", "json")
    assert from_cli.allow_origins == ("https://a", "https://b")
    assert (from_cli.max_message_size, from_cli.limits.max_sql_chars) == (2 << 20, 1 << 10)


def test_magic_flags_become_start_keywords() -> None:
    keywords = magic_keywords("--no-token", "--db-path", "x.db", "--port", "0")
    assert keywords["require_token"] is False
    assert (keywords["db_path"], keywords["port"]) == ("x.db", 0)
    assert magic_keywords()["extensions"] == []  # the kernel loads none by default


def test_start_keywords_are_checked() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'prot'"):
        options.keywords({"prot": 1})
    with pytest.raises(TypeError, match="only sqlrooms-server offers --cache-dir"):
        options.keywords({"cache_dir": "/tmp"})
    with pytest.raises(TypeError, match="port must be int"):
        options.keywords({"port": 1.5})
    with pytest.raises(TypeError, match="sync must be bool"):
        options.keywords({"sync": "yes"})
    with pytest.raises(TypeError, match="allow_origins must be a list"):
        options.keywords({"allow_origins": [1]})
    with pytest.raises(ValueError, match="max_sql_size: not a size"):
        options.keywords({"max_sql_size": "lots"})


def test_start_keywords_take_text_paths_and_none() -> None:
    keywords = options.keywords(
        {
            "max_sql_size": "1M",
            "port": "0",
            "query_timeout": 1,
            "db_path": Path("a.db"),
            "extensions": "spatial,json",
            "max_message_size": None,  # the default, as before
        }
    )
    assert keywords["max_sql_size"] == 1 << 20 and keywords["port"] == 0
    assert keywords["query_timeout"] == 1 and keywords["db_path"] == "a.db"
    assert keywords["extensions"] == ("spatial", "json")
    assert keywords["max_message_size"] == 1 << 30


@pytest.mark.parametrize("page", ["docs/cli.md", "docs/notebook.md"])
def test_the_docs_tables_are_the_options_table(page: str) -> None:
    text = (ROOT / page).read_text()
    assert options.END in text
    assert options.with_table(text) == text, (
        f"{page} differs from sqlrooms_jupyter/options.py: run "
        "`python -m sqlrooms_jupyter.options docs/cli.md docs/notebook.md`"
    )


def test_a_changed_help_text_would_show() -> None:
    """The docs check can fail: a table rendered from a changed option differs."""
    text = (ROOT / "docs/cli.md").read_text()
    sync = options.BY_NAME["sync"]
    assert sync.doc is not None and sync.doc in text
    changed = text.replace(sync.doc, "something else")
    assert options.with_table(changed) != changed
    assert options.with_table(changed) == text


def test_the_magics_docstring_lists_every_start_flag() -> None:
    doc = magics.SqlroomsMagics.sqlrooms.__doc__ or ""
    for option in options.offered_by(options.MAGIC):
        assert option.flag in doc
