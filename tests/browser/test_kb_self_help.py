"""Self-help in the portal, by typing and clicking in Chromium.

A requester starts to report a problem; as they type the subject, the portal
suggests a public knowledge-base article (the page's script asks the
suggestions route); they choose "This solved it", and the request shows as
closed by self-help on its page and among their closed requests. Each page is
photographed (test-artifacts/screenshots/kb-*.png) and checked with axe-core.
The server is a real ``tierflow serve --demo`` with the demo's articles.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.demo import DEMO_PASSWORD
from tests.browser.support import AxeCheck, Shoot, visit

REQUESTER = "bob.fischer@example.org"
SUBJECT = "My VPN token expir"  # still typing
ARTICLE = "Reset your VPN token"


def sign_in(page: Page, email: str) -> None:
    visit(page, "/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_a_suggested_article_closes_the_request_as_self_help(
    page: Page, shoot: Shoot, axe_check: AxeCheck
) -> None:
    sign_in(page, REQUESTER)
    page.get_by_role("link", name="Requests").click()
    page.get_by_role("link", name=re.compile("Report a problem")).first.click()
    expect(page.get_by_role("heading", name="Answers that may help")).to_be_visible()
    expect(page.get_by_role("button", name="Search answers")).to_be_hidden()  # the script runs

    with page.expect_response(re.compile(r"/api/kb/suggestions\?q=")) as asked:
        page.get_by_label("In one line, what is wrong?").press_sequentially(SUBJECT, delay=40)
    assert asked.value.ok
    suggestion = page.locator("[data-kb-results]").get_by_role("link", name=ARTICLE)
    expect(suggestion).to_be_visible()
    expect(page.locator("[data-kb-results] mark").first).to_be_visible()
    shoot(page, "kb-01-portal-suggests-an-article")
    axe_check(page)

    page.get_by_role("button", name=f"This solved it: {ARTICLE}").click()

    expect(page).to_have_url(re.compile(r"/items/\d+\?self_help=1$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(SUBJECT)
    expect(page.locator('dt:text-is("Status") + dd')).to_contain_text(re.compile("closed", re.I))
    panel = page.get_by_role("region", name="Solved with the knowledge base")
    expect(panel).to_contain_text("You closed this request yourself")
    expect(panel.get_by_role("link", name=ARTICLE)).to_be_visible()
    reference = re.search(r"TIC-\d{5}", page.content())
    assert reference, "the request's page names its reference"
    shoot(page, "kb-02-request-closed-by-self-help")
    axe_check(page)

    page.get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="Closed").click()
    row = page.get_by_role("row", name=re.compile(re.escape(reference.group(0))))
    expect(row).to_contain_text(SUBJECT)
    expect(row).to_contain_text("Closed")
    shoot(page, "kb-03-closed-requests")
    axe_check(page)
    page.get_by_role("link", name="Open", exact=True).click()
    expect(page.get_by_text(reference.group(0))).to_have_count(0)
