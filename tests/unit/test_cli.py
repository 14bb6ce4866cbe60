"""Where the token comes from, what the start-up warns about, and log redaction (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlrooms_jupyter import cli
from sqlrooms_jupyter.serverext.redact import redact_uri


def token_of(argv: list[str], environ: dict[str, str]) -> str | None:
    return cli.config_from_args(cli.build_parser().parse_args(argv), environ).auth_token


def test_token_sources_in_order(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-file\r\n")
    env = {"SQLROOMS_AUTH_TOKEN": "from-env"}
    assert token_of(["--auth-token", "flag"], env) == "flag"
    assert token_of(["--auth-token-file", str(path)], env) == "from-file"
    assert token_of([], env) == "from-env"
    assert token_of([], {"SQLROOMS_AUTH_TOKEN": ""}) is None
    assert token_of([], {}) is None


def test_a_token_file_keeps_inner_spaces(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(" a b \n")
    assert token_of(["--auth-token-file", str(path)], {}) == " a b "


def test_a_directory_is_not_a_token_file(tmp_path: Path) -> None:
    with pytest.raises(cli.TokenError, match="cannot read the token file"):
        token_of(["--auth-token-file", str(tmp_path)], {})


def warnings_for(*argv: str) -> list[str]:
    return cli.risk_warnings(cli.config_from_args(cli.build_parser().parse_args(argv), {}))


def test_risk_warnings() -> None:
    assert warnings_for() == []
    assert warnings_for("--allow-host", "dash.example.org", "--allow-origin", "https://a.b") == []
    (host,) = warnings_for("--allow-host", "*", "--auth-token", "t")
    assert "DNS-rebinding protection is off" in host
    assert len(warnings_for("--allow-host", "*", "--allow-origin", "*")) == 2
    assert warnings_for("--allow-origin", "*", "--auth-token", "t") == []


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/a/ws?token=abc", "/a/ws?token=[secret]"),
        ("/a?x=1&token=abc&y=2", "/a?x=1&token=[secret]&y=2"),
        ("/a?_xsrf=q&access_token=z", "/a?_xsrf=[secret]&access_token=[secret]"),
        ("/a?TOKEN=abc", "/a?TOKEN=[secret]"),
        ("/a", "/a"),
        ("/a?kernel=k", "/a?kernel=k"),
    ],
)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redact_uri_extra_keys() -> None:
    assert redact_uri("/a?session=s&x=1", ["session"]) == "/a?session=[secret]&x=1"
