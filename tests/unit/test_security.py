"""security: tokens, browser origins and Host names (DNS rebinding), IPv6 and ports included."""

from __future__ import annotations

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from sqlrooms_jupyter.security import (
    host_allowed,
    host_name,
    is_loopback_bind,
    is_loopback_origin,
    is_same_origin,
    request_token,
    tokens_match,
)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("localhost:4000", "localhost"),
        ("LocalHost:4000", "localhost"),
        ("127.0.0.1:8888", "127.0.0.1"),
        ("[::1]:4000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        (" example.org:80 ", "example.org"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:3000",
        "https://app.localhost:5173",
        "http://127.0.0.1",
        "http://127.8.9.10:1234",
        "http://[::1]:8888",
        "http://[::1]",
        "HTTP://LOCALHOST:3000",
    ],
)
def test_loopback_origins(origin: str) -> None:
    assert is_loopback_origin(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "http://evillocalhost",
        "http://[2001:db8::1]:80",
        "http://0.0.0.0:4000",
        "null",
        "",
        "file://",
    ],
)
def test_foreign_origins(origin: str) -> None:
    assert not is_loopback_origin(origin)


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
    ],
)
def test_loopback_binds(bind: str, loopback: bool) -> None:
    assert is_loopback_bind(bind) is loopback


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:4000", True),
        ("sub.localhost:4000", True),
        ("127.0.0.1:4000", True),
        ("[::1]:4000", True),
        ("evil.example", False),
        ("evil.example:4000", False),
        ("localhost.evil.example", False),
        (None, False),
        ("", False),
    ],
)
def test_a_loopback_server_answers_loopback_hosts_only(host: str | None, allowed: bool) -> None:
    for bind in ("127.0.0.1", "::1", "localhost"):
        assert host_allowed(host, bind, ()) is allowed


def test_allow_host_adds_names_case_insensitively_and_star_allows_all() -> None:
    assert host_allowed("Dev.Example:4000", "127.0.0.1", ("dev.example",))
    assert host_allowed("dev.example", "127.0.0.1", ("DEV.EXAMPLE",))
    assert not host_allowed("other.example", "127.0.0.1", ("dev.example",))
    assert host_allowed("anything.example", "127.0.0.1", ("*",))


def test_a_server_bound_elsewhere_answers_any_host() -> None:
    for bind in ("0.0.0.0", "::", "192.168.1.10"):
        assert host_allowed("evil.example", bind, ())
        assert host_allowed(None, bind, ())


def _request(uri: str = "/", **headers: str) -> HTTPServerRequest:
    return HTTPServerRequest(
        start_line=RequestStartLine("GET", uri, "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "localhost:4000", **headers}),
    )


def test_request_token_sources_and_precedence() -> None:
    assert request_token(_request()) is None
    assert request_token(_request("/?token=abc")) == "abc"
    assert request_token(_request("/?token=a&token=b")) == "b"
    assert request_token(_request("/?token=%E2%98%83")) == "☃"
    assert request_token(_request(**{"X-SQLRooms-Token": "  hdr  "})) == "hdr"
    assert request_token(_request(Authorization="Bearer tok")) == "tok"
    assert request_token(_request(Authorization="bearer  tok ")) == "tok"
    assert request_token(_request("/?token=url", Authorization="Bearer hdr")) == "url"
    assert request_token(_request(**{"X-SQLRooms-Token": "x", "Authorization": "Bearer y"})) == "x"


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token t"])
def test_other_authorization_schemes_are_not_tokens(authorization: str) -> None:
    assert request_token(_request(Authorization=authorization)) is None


def test_tokens_match() -> None:
    assert tokens_match("secret", "secret")
    assert tokens_match("☃é", "☃é")
    assert not tokens_match("secret", "Secret")
    assert not tokens_match("secre", "secret")
    assert not tokens_match("", "secret")
    assert not tokens_match(None, "secret")
    assert not tokens_match(123, "123")
    assert not tokens_match("anything", None)
    assert not tokens_match("", None)


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://data.example.com:4000", "data.example.com:4000", True),
        ("https://Data.Example.com", "data.example.com", True),
        ("http://data.example.com:4001", "data.example.com:4000", False),
        ("http://evil.example", "data.example.com", False),
        ("null", "null", False),
        ("file://", "", False),
        ("http://data.example.com", None, False),
    ],
)
def test_same_origin(origin: str, host: str | None, same: bool) -> None:
    assert is_same_origin(origin, host) is same
