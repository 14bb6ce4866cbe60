"""Collaboration: two browsers on one `sqlrooms-server --sync` see each other's query tabs live."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.e2e.app.test_standalone import UI_TIMEOUT_MS, pytestmark  # noqa: F401
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser

TOKEN = "collab-token"


def test_two_browsers_share_query_tabs(
    start_server: Callable[..., ServerProcess],
    browser: Browser,
) -> None:
    from playwright.sync_api import expect

    server = start_server("--sync", "--auth-token", TOKEN)
    url = f"{server.http}/app/#token={TOKEN}"  # the server's own app
    errors: list[str] = []
    pages = []
    for _ in range(2):  # separate contexts: separate storage, as two people
        page = browser.new_context().new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("data-collab", "live", timeout=UI_TIMEOUT_MS)
        pages.append(page)
    alice, bob = pages
    # Bob joined a room Alice had seeded: he has her tab, not one of his own.
    expect(bob.get_by_role("tab", name="Query 1")).to_have_count(1)
    alice.get_by_role("button", name="New query tab").click()
    alice.locator(".cm-content").click()
    alice.keyboard.type("select 'from alice' as who")
    expect(bob.get_by_role("tab", name="Query 2")).to_be_visible(timeout=UI_TIMEOUT_MS)
    bob.get_by_role("tab", name="Query 2").click()
    expect(bob.locator(".cm-content")).to_have_text(
        "select 'from alice' as who", timeout=UI_TIMEOUT_MS
    )
    # ... and back: Bob's edit reaches Alice's editor.
    bob.locator(".cm-content").click()
    bob.keyboard.press("End")
    bob.keyboard.type(", 2 as n")
    expect(alice.locator(".cm-content")).to_have_text(
        "select 'from alice' as who, 2 as n", timeout=UI_TIMEOUT_MS
    )
    bob.get_by_role("button", name="Close Query 1").click()
    expect(alice.get_by_role("tab", name="Query 1")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    assert errors == []
