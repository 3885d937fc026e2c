"""The help desk's categories as a choice list: active ones only, nested ones with parents."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.choices import load_choices
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager
from plugins.helpdesk.categories import CHOICE_LIST, SEPARATOR, choice_lists
from plugins.helpdesk.models import Category


class Registered:
    """The hookimpl plugins/helpdesk/plugin.py adds (this test holds it till then)."""

    @hookimpl
    def tierflow_register_choice_lists(self):
        return choice_lists()


def test_the_list_offers_the_active_categories_as_people_read_them(session: Session) -> None:
    hardware = Category(slug="hardware", name="Hardware")
    session.add_all([hardware, Category(slug="retired", name="Retired", active=False)])
    session.flush()
    session.add(Category(slug="printers", name="Printers", parent_id=hardware.id))
    session.flush()
    [listed] = choice_lists()
    assert listed.name == CHOICE_LIST == "helpdesk.categories"
    assert listed.load(session) == [
        ("hardware", "Hardware"),
        ("printers", f"Hardware{SEPARATOR}Printers"),
    ]


def test_read_through_the_hook_once_plugin_py_registers_it(session: Session) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", Registered())])
    session.add(Category(slug="network", name="Network"))
    session.flush()
    assert load_choices(pm, session, [CHOICE_LIST]) == {CHOICE_LIST: [["network", "Network"]]}
