"""Knowledge base: articles, search, self-help at intake (see plugins/helpdesk/plugin.py PARTS).

Articles are Markdown (:mod:`.render`), found by full-text search on either
database (:mod:`.search`), written by agents and published by team leads
(:mod:`.articles`, :mod:`.views`), linked to the tickets they solved
(:mod:`.tickets`), and suggested in the portal, where "This solved it" closes a
request as self-help (:mod:`.intake`, :mod:`.selfhelp`), counted by the "Self-help
deflections" report (:mod:`.reports`, ``REPORTS``).
"""

from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.web.access import api, page
from plugins.helpdesk.kb import demo, intake, models, reports, tickets, views

MODELS = [models]

ROUTES: list[BaseRoute] = [
    page("/kb", views.index, allow="signed_in", name="kb"),
    page("/kb/new", views.new, allow="agent", name="kb.new"),
    page("/kb/new", views.create, allow="agent", methods=("POST",), name="kb.create"),
    page("/kb/{article_id:int}", views.show, allow="signed_in", name="kb.article"),
    page("/kb/{article_id:int}/edit", views.edit, allow="agent", name="kb.edit"),
    page("/kb/{article_id:int}/edit", views.save, allow="agent", methods=("POST",), name="kb.save"),
    page(
        "/kb/{article_id:int}/publish",
        views.publish,
        allow="agent",
        methods=("POST",),
        name="kb.publish",
    ),
    page("/kb/link/{item_id:int}", tickets.link, allow="agent", methods=("POST",), name="kb.link"),
    page(
        "/kb/draft/{item_id:int}", tickets.draft, allow="agent", methods=("POST",), name="kb.draft"
    ),
    page(
        "/kb/self-help/{request_type}",
        intake.self_help,
        allow="signed_in",
        methods=("POST",),
        name="kb.self_help",
    ),
    page("/kb/self-help.js", intake.script, allow="public", name="kb.script"),
    api("/api/kb/suggestions", intake.suggest, allow="signed_in", name="kb.suggestions"),
]

NAVIGATION = [NavItem("Knowledge base", "/kb", order=25)]

sections = tickets.sections
intake_panels = intake.intake_panels
load_demo = demo.load
REPORTS = reports.REPORTS
