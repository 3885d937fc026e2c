"""The "Self-help deflections" report: requests closed by self-help per week, type and article.

Its ``compute`` is what the reports dashboard calls; these tests call it as the
dashboard will, on both databases, with and without a period, and with filters
it must refuse.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from plugins.helpdesk import kb
from plugins.helpdesk.kb.models import Article, SelfHelp
from plugins.helpdesk.kb.reports import ReportFilterError, deflection_rows


def at(day: int, month: int = 11, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def deflected(session: Session, make_person, make_work_item) -> dict[str, int]:
    """Self-help in the weeks of Monday 23 and Monday 30 November 2026, and one in October."""
    requester = make_person(roles={"requester"})
    vpn = Article(title="Reset your VPN token", body="b", visibility="public", status="published")
    wifi = Article(title="Wi-Fi keeps dropping", body="b", visibility="public", status="published")
    session.add_all([vpn, wifi])
    session.flush()
    closed = [
        (vpn, "incident", at(30)), (vpn, "incident", at(6, 12, 23)), (wifi, "incident", at(2, 12)),
        (vpn, "service_request", at(1, 12)), (vpn, "incident", at(29, hour=23)),
        (vpn, "incident", at(1, 10)),
    ]  # fmt: skip
    for n, (article, kind, moment) in enumerate(closed):
        item = make_work_item(type=kind, status="closed", requester_id=requester.id)
        session.add(
            SelfHelp(
                requester_id=requester.id,
                key=f"k{n}",
                work_item_id=item.id,
                article_id=article.id,
                request_type=kind,
                created_at=moment,
            )
        )
    session.commit()  # fmt: skip
    return {"vpn": vpn.id, "wifi": wifi.id}


def test_deflections_per_week_request_type_and_article(
    session: Session, deflected: dict[str, int]
) -> None:
    vpn, wifi = deflected["vpn"], deflected["wifi"]
    rows = deflection_rows(session, since="2026-11-01", until=date(2026, 12, 7))
    assert rows == [
        {"week": "2026-11-30", "request_type": "incident", "article_id": vpn,
         "article": "Reset your VPN token", "deflections": 2},
        {"week": "2026-11-30", "request_type": "incident", "article_id": wifi,
         "article": "Wi-Fi keeps dropping", "deflections": 1},
        {"week": "2026-11-30", "request_type": "service_request", "article_id": vpn,
         "article": "Reset your VPN token", "deflections": 1},
        {"week": "2026-11-23", "request_type": "incident", "article_id": vpn,
         "article": "Reset your VPN token", "deflections": 1},
    ]  # fmt: skip
    everything = deflection_rows(session)
    assert sum(row["deflections"] for row in everything) == 6
    assert everything[-1]["week"] == "2026-09-28"  # 1 October 2026 is a Thursday
    assert deflection_rows(session, since=at(1, 12), until="2026-12-02T00:00:00+00:00") == [
        {"week": "2026-11-30", "request_type": "service_request", "article_id": vpn,
         "article": "Reset your VPN token", "deflections": 1},
    ]  # fmt: skip


def test_the_report_is_offered_and_refuses_filters_it_does_not_know(session: Session) -> None:
    [spec] = kb.REPORTS
    assert (spec.name, spec.title) == ("helpdesk.self_help_deflections", "Self-help deflections")
    assert spec.compute is deflection_rows
    assert spec.columns == ("week", "request_type", "article_id", "article", "deflections")
    assert spec.compute(session) == []
    with pytest.raises(ReportFilterError, match="takes the filters since, until; not 'team'"):
        spec.compute(session, team="desk")
    with pytest.raises(ReportFilterError, match="filter 'since': 'last week' is not a date"):
        spec.compute(session, since="last week")
    with pytest.raises(ReportFilterError, match=r"filter 'until' .* must come after 'since'"):
        spec.compute(session, since="2026-12-01", until="2026-11-01")
    with pytest.raises(ReportFilterError, match="a date is needed, not int"):
        spec.compute(session, until=20261201)
