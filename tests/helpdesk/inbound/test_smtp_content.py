"""What a mail holds reaches the ticket harmlessly: HTML sanitised (nh3) and turned into
text, printed escaped on the work item page; attachments kept with safe names and
offered only as downloads, to people who may see the ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from engine.model import Person
from tests.helpdesk.inbound.conftest import Gateway, message
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

PAYLOAD = (
    "<html><head><title>t</title><style>p {color: red}</style></head><body>"
    "<p>Hello<script>alert('xss-1')</script></p>"
    '<img src="x" onerror="alert(\'xss-2\')">'
    "<a href=\"javascript:alert('xss-3')\" onclick=\"alert('xss-4')\">click me</a>"
    '<iframe src="https://evil.example/"></iframe>'
    "<p>Second &amp; last paragraph</p></body></html>"
)


def person(gateway: Gateway, email: str) -> Person:
    with gateway.read() as db:
        return db.scalars(select(Person).filter_by(email=email)).one()


def page(make_app: MakeApp, viewer: Person, path: str):  # noqa: F811
    with TestClient(make_app(entry_points=True), follow_redirects=False) as browser:
        if viewer is not None:
            sign_in(browser, viewer)
        return browser.get(path)


async def test_an_html_mail_is_stored_and_shown_harmless(
    gateway: Gateway,
    make_app: MakeApp,  # noqa: F811
) -> None:
    mail = message("HTML only", "", html=PAYLOAD)
    await gateway.send(mail)
    [item] = gateway.items()
    record = gateway.record(mail["Message-ID"])
    for stored in (record.body_html, record.body_text, item.description):
        for bad in ("<script", "onerror", "onclick", "javascript:", "xss-", "<iframe", "color:"):
            assert bad not in stored, (bad, stored)
    assert item.description == "Hello\nclick me\nSecond & last paragraph"
    assert 'rel="noopener noreferrer nofollow"' in record.body_html
    shown = page(make_app, person(gateway, "nora@example.net"), f"/items/{item.id}")
    assert shown.status_code == 200
    assert "Second &amp; last paragraph" in shown.text
    assert "xss-" not in shown.text


async def test_markup_in_a_text_mail_is_printed_as_text(
    gateway: Gateway,
    make_app: MakeApp,  # noqa: F811
) -> None:
    body = "The page shows <script>alert('xss-5')</script> and <img src=x onerror=alert(6)>."
    await gateway.send(message("<b>Bold</b> subject", body, html="<p>ignored: text wins</p>"))
    [item] = gateway.items()
    assert (item.title, item.description) == ("<b>Bold</b> subject", body)
    shown = page(make_app, person(gateway, "nora@example.net"), f"/items/{item.id}")
    assert "&lt;script&gt;alert(&#39;xss-5&#39;)&lt;/script&gt;" in shown.text
    assert "<script>alert" not in shown.text
    assert "<img src=x" not in shown.text
    assert "&lt;b&gt;Bold&lt;/b&gt; subject" in shown.text


async def test_attachments_are_kept_and_downloaded_safely(
    gateway: Gateway,
    make_app: MakeApp,  # noqa: F811
) -> None:
    mail = message("Error report", "See the files.")
    mail.add_attachment(b"%PDF-1.4 report", maintype="application", subtype="pdf",
                        filename="report.pdf")  # fmt: skip
    mail.add_attachment(b"root:x:0:0", maintype="text", subtype="plain",
                        filename="../../etc/passwd")  # fmt: skip
    mail.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html",
                        filename="page.html")  # fmt: skip
    too_big = b"\0" * (gateway.settings.max_attachment_bytes + 1)
    mail.add_attachment(too_big, maintype="application", subtype="zip", filename="big.bin")
    await gateway.send(mail)
    [item] = gateway.items()
    files = gateway.files(item.id)
    assert [(f.filename, f.content_type, f.size) for f in files] == [
        ("report.pdf", "application/pdf", 15),
        ("passwd", "text/plain", 10),
        ("page.html", "text/html", 25),
    ]
    assert item.description == (
        "See the files.\n\nAttached: report.pdf, passwd, page.html\n\n"
        "Not kept: big.bin: larger than 65536 bytes"
    )
    nora = person(gateway, "nora@example.net")
    shown = page(make_app, nora, f"/items/{item.id}")
    assert "Files from e-mail" in shown.text
    assert f'href="/helpdesk/items/{item.id}/attachments/1"' in shown.text
    pdf = page(make_app, nora, f"/helpdesk/items/{item.id}/attachments/1")
    assert pdf.status_code == 200
    assert pdf.content == b"%PDF-1.4 report"
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith('attachment; filename="report.pdf"')
    assert pdf.headers["x-content-type-options"] == "nosniff"
    html = page(make_app, nora, f"/helpdesk/items/{item.id}/attachments/3")
    assert html.headers["content-type"] == "application/octet-stream"  # never rendered
    assert "sandbox" in html.headers["content-security-policy"]
    assert page(make_app, nora, f"/helpdesk/items/{item.id}/attachments/4").status_code == 404
    with gateway.sessions.begin() as db:
        db.add(Person(email="olga@example.net", name="Olga Other"))
    olga = person(gateway, "olga@example.net")
    assert page(make_app, olga, f"/helpdesk/items/{item.id}/attachments/1").status_code == 404
    anonymous = page(make_app, None, f"/helpdesk/items/{item.id}/attachments/1")
    assert anonymous.status_code == 303


async def test_a_reply_s_attachments_go_to_the_ticket(gateway: Gateway) -> None:
    await gateway.send(message("Printer jams"))
    [item] = gateway.items()
    reply = message(f"Re: [{item.reference}] Printer jams", "A photo of the jam.")
    reply.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="jam.png")
    await gateway.send(reply)
    assert [f.filename for f in gateway.files(item.id)] == ["jam.png"]
    [(body, public, _)] = gateway.comments(item.id)
    assert (body, public) == ("A photo of the jam.\n\nAttached: jam.png", True)
