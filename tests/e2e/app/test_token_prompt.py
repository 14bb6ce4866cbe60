"""The standalone app opened without `#token=` on a server that needs one: it says so and asks,
and a token given later (typed, or a pasted `#token=` link) connects without a manual reload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = APP_BROWSER_MARKS

TOKEN = "prompt-token"
UI_MS = 60_000


@pytest.fixture
def page(start_server: Callable[..., ServerProcess]) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    server = start_server("--auth-token", TOKEN)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_context(viewport={"width": 1100, "height": 700}).new_page()
        page.goto(f"{server.http}/app/")
        yield page
        chromium.close()


def test_the_app_asks_for_the_token_and_connects_with_it(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("This server needs a token")).to_be_visible(timeout=UI_MS)
    page.get_by_label("Server token").fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    expect(page.get_by_test_id("status")).not_to_contain_text("disconnected")
    expect(page.get_by_text("This server needs a token")).to_have_count(0)
    assert "token" not in page.url  # it leaves the address bar as a `#token=` link's does


def test_a_token_link_pasted_later_connects_without_a_manual_reload(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("disconnected", timeout=UI_MS)
    page.evaluate(f"location.hash = '#token={TOKEN}'")
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    expect(page.get_by_test_id("status")).not_to_contain_text("disconnected")


def test_a_wrong_token_is_refused_and_asked_for_again_even_after_a_reload(page: Page) -> None:
    from playwright.sync_api import expect

    prompt = page.get_by_role("form", name="Token")
    expect(prompt).to_contain_text("#token=", timeout=UI_MS)  # where the token is
    expect(prompt).to_contain_text("SQLROOMS_AUTH_TOKEN")
    page.get_by_label("Server token").fill("not-the-token")
    page.get_by_label("Server token").press("Enter")
    expect(page.get_by_text("That token was refused — try again")).to_be_visible(timeout=UI_MS)
    expect(page.get_by_label("Server token")).to_be_visible()
    page.reload()  # the refused token is not kept: the prompt asks again
    expect(page.get_by_label("Server token")).to_be_visible(timeout=UI_MS)
    page.get_by_label("Server token").fill(TOKEN)
    page.get_by_label("Server token").press("Enter")
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    expect(page.get_by_test_id("status")).not_to_contain_text("disconnected")
    expect(page.get_by_label("Server token")).to_have_count(0)
