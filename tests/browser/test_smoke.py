"""The first look at the real server in Chromium: the home page, health, the sign-in page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.support import AxeCheck, Shoot, visit


def test_home_page_renders_and_has_no_serious_accessibility_violations(
    page: Page, shoot: Shoot, axe_check: AxeCheck
) -> None:
    visit(page, "/")
    expect(page).to_have_title(re.compile("Tierflow"))
    expect(page.get_by_role("main")).to_be_visible()
    assert shoot(page, "home").stat().st_size > 0
    axe_check(page)


def test_healthz_reports_database_and_temporal_ok(page: Page, shoot: Shoot) -> None:
    response = visit(page, "/healthz")
    assert response.json() == {"database": "ok", "temporal": "ok"}
    shoot(page, "healthz")


def test_sign_in_page_has_labelled_fields_and_shows_a_failed_attempt(
    page: Page, shoot: Shoot, axe_check: AxeCheck
) -> None:
    visit(page, "/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shoot(page, "sign-in")
    axe_check(page)

    page.get_by_label("E-mail").fill("nobody@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value("nobody@example.org")
    shoot(page, "sign-in-failed")
    axe_check(page)
