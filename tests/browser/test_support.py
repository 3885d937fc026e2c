"""The browser helpers themselves: axe_check fails on what it must, shoot writes a PNG."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.support import SCREENSHOTS, axe_check, shoot


def test_axe_check_fails_listing_each_serious_violation_and_its_nodes(page: Page) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main>'
        '<img id="logo" src="data:,"><input id="who" type="text"></main></html>'
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        axe_check(page)
    message = str(failure.value)
    assert "image-alt (critical)" in message
    assert "#logo" in message
    assert "label (critical)" in message
    assert "#who" in message


def test_axe_check_passes_a_page_with_only_moderate_findings_and_returns_them(page: Page) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><body><h1>Hi</h1></body></html>'
    )
    violations = axe_check(page)
    assert {(v["id"], v["impact"]) for v in violations} == {
        ("landmark-one-main", "moderate"),
        ("region", "moderate"),
    }


def test_shoot_writes_a_png_named_after_the_shot(page: Page) -> None:
    page.set_content("<p>hello</p>")
    path = shoot(page, "support/hello world")
    assert path == SCREENSHOTS / "support-hello-world.png"
    assert path.read_bytes().startswith(b"\x89PNG")
