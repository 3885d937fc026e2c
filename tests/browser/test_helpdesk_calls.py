"""Phone calls logged by an L1 agent, by clicking and typing in Chromium.

Hannah, a help desk (L1) agent of the demo, logs calls for Alice through "Log a
call": one she resolves while Alice is on the line (the ticket is resolved at
first contact), one she escalates to desktop support through the triage form
(the ticket's page shows its tier path, Help desk (L1) then Desktop support
(L2)). Each page is photographed (test-artifacts/screenshots/call-*.png) and
checked with axe-core. The server is a real ``tierflow serve --demo``: the
workflow runs on the embedded Temporal server, so the test reloads, as a
person would, until each step has run.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.support import AxeCheck, Shoot
from tests.browser.test_request_lifecycle import person, reload_until  # noqa: F401 (fixture)

REQUESTER = "alice.moreau@example.org"
L1_AGENT = "hannah.lee@example.org"
ALICE = "Alice Moreau <alice.moreau@example.org>"


def dd(page: Page, term: str):
    """The value beside ``term`` in a definition list of the page."""
    return page.locator(f'dt:text-is("{term}") + dd')


def start_a_call(hannah: Page, shoot: Shoot, axe_check: AxeCheck, name: str) -> None:
    """Hannah opens "Log a call", chooses "Report a problem" and finds Alice as the caller."""
    hannah.get_by_role("link", name="Log a call").click()
    expect(hannah.get_by_role("heading", level=1)).to_have_text("Log a call")
    shoot(hannah, f"{name}-01-types")
    axe_check(hannah)
    hannah.get_by_role("link", name=re.compile("Report a problem")).click()
    expect(hannah.get_by_role("heading", level=1)).to_contain_text("Log a call")
    hannah.get_by_label("Caller's e-mail or name").fill(REQUESTER)
    hannah.get_by_role("button", name="Find caller").click()
    expect(hannah.get_by_label(ALICE)).to_be_checked()
    shoot(hannah, f"{name}-02-caller-found")
    axe_check(hannah)


def describe(hannah: Page, summary: str, details: str) -> None:
    hannah.get_by_label("In one line, what is wrong?").fill(summary)
    hannah.get_by_label("What happened, and what did you try?").fill(details)


def reference_of(page: Page) -> str:
    found = re.search(r"TIC-\d{5}", page.content())
    assert found, "the ticket page names the ticket's reference"
    return found.group(0)


def test_an_l1_agent_logs_a_call_and_resolves_it_at_first_contact(
    person: Callable[[str], Page],  # noqa: F811 (the fixture imported above)
    shoot: Shoot,
    axe_check: AxeCheck,
) -> None:
    hannah = person(L1_AGENT)
    start_a_call(hannah, shoot, axe_check, "call-resolved")
    summary = "Forgot the VPN password"
    describe(hannah, summary, "Locked out of the VPN after three tries.")
    hannah.get_by_label("Resolved during the call").check()
    hannah.get_by_role("button", name="Log the call").click()

    # "what was done" is needed when it was resolved during the call
    summary_box = hannah.get_by_role("alert").filter(has_text="Please correct")
    expect(summary_box).to_contain_text("What was done")
    expect(hannah.get_by_label("Resolved during the call")).to_be_checked()
    expect(hannah.get_by_label("In one line, what is wrong?")).to_have_value(summary)
    shoot(hannah, "call-resolved-03-what-was-done-missing")
    axe_check(hannah)
    hannah.get_by_label("What was done").fill("Reset the password with Alice on the line.")
    shoot(hannah, "call-resolved-04-form")
    hannah.get_by_role("button", name="Log the call").click()

    expect(hannah.get_by_role("heading", level=1)).to_contain_text(summary)
    expect(dd(hannah, "Channel")).to_have_text("phone")
    expect(dd(hannah, "Requester")).to_contain_text("Alice Moreau")
    status, first_contact = dd(hannah, "Status"), dd(hannah, "Resolved at first contact")
    reload_until(
        hannah,
        lambda: (
            re.search(r"resolved|closed", status.text_content() or "") is not None
            and first_contact.count() > 0
            and (first_contact.text_content() or "").strip() == "Yes"
        ),
        "the ticket resolved at first contact",
    )
    timeline = hannah.locator("ol.timeline")
    expect(timeline).to_contain_text("Hannah Lee")
    shoot(hannah, "call-resolved-05-ticket")
    axe_check(hannah)


def test_an_escalated_call_shows_its_tier_path_on_the_ticket_page(
    person: Callable[[str], Page],  # noqa: F811 (the fixture imported above)
    shoot: Shoot,
    axe_check: AxeCheck,
) -> None:
    hannah = person(L1_AGENT)
    start_a_call(hannah, shoot, axe_check, "call-escalated")
    summary = "Docking station gives no picture"
    describe(hannah, summary, "Both screens stay black when docked; the laptop screen works.")
    hannah.get_by_role("button", name="Log the call").click()
    expect(hannah.get_by_role("heading", level=1)).to_contain_text(summary)
    reference, item_url = reference_of(hannah), hannah.url.split("?")[0]

    # the triage task, from the ticket's open tasks, escalated to desktop support
    triage = hannah.get_by_role("link", name=re.compile(re.escape(f"Triage {reference}")))
    reload_until(hannah, lambda: triage.count() > 0, f"the triage task of {reference}")
    shoot(hannah, "call-escalated-03-ticket-logged")
    axe_check(hannah)
    triage.first.click()
    hannah.get_by_role("radiogroup", name="Category").get_by_label("hardware").check()
    hannah.get_by_label("What you found and did").fill("Dock firmware is current; no signal.")
    hannah.get_by_label("Escalate to").select_option(label="Desktop support (L2)")
    hannah.get_by_label("Why it needs another team").fill("Needs a hands-on look at the dock.")
    shoot(hannah, "call-escalated-04-triage")
    axe_check(hannah)
    hannah.get_by_role("button", name="Escalate").click()
    expect(hannah.get_by_role("status")).to_contain_text("Task completed")

    # the ticket's page: the tier path, from the help desk to desktop support
    hannah.goto(item_url)
    tier_path = hannah.locator('section:has(h2:text-is("Tier path"))')
    stops = tier_path.locator("ol > li")
    reload_until(
        hannah,
        lambda: stops.count() >= 2 and "Desktop support (L2)" in (stops.last.text_content() or ""),
        "desktop support in the ticket's tier path",
    )
    expect(stops.nth(0)).to_contain_text("Help desk (L1)")
    expect(stops.nth(1)).to_contain_text("Desktop support (L2)")
    expect(dd(hannah, "Owner team (responsible from start to finish)")).to_have_text(
        "Help desk (L1)"
    )
    shoot(hannah, "call-escalated-05-tier-path")
    axe_check(hannah)
