"""The guest pages in a browser."""

from __future__ import annotations

from selenium import webdriver

from tests.browser import LiveServer, browser, chromium, live  # noqa: F401  (fixtures used by name)


def test_the_live_server_answers_a_phone(live: LiveServer, browser: webdriver.Chrome) -> None:  # noqa: F811
    browser.get(live.url("/health"))
    assert "ok" in browser.page_source.lower()
