"""Choice lists from the database: the options of ``choices_from:`` fields, by list name.

Plugins contribute them with ``tierflow_register_choice_lists``
(:class:`engine.contrib.ChoiceList`). The validator checks a form's list names
against :func:`choice_list_names`; :func:`load_choices` reads the options of
the lists a form uses, once, as plain ``[value, label]`` pairs that a task
keeps (its options are those of the moment it opened) and that
:func:`engine.dsl.forms.with_choices` puts into the form.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from engine.contrib import ChoiceList
from engine.dsl.forms import Options
from engine.dsl.suggest import did_you_mean
from engine.errors import TierflowError
from engine.plugins import PluginManager, unique_by

HOOK = "tierflow_register_choice_lists"


class UnknownChoiceList(TierflowError):
    """A form names a choice list no installed plugin contributes."""


def choice_lists(pm: PluginManager) -> dict[str, ChoiceList]:
    """Every plugin's choice lists by name; two plugins with one name is a ``PluginError``."""
    return unique_by(pm, HOOK, "name", expect=ChoiceList)


def choice_list_names(pm: PluginManager) -> frozenset[str]:
    """The names a ``choices_from:`` may use."""
    return frozenset(choice_lists(pm))


def load_choices(pm: PluginManager, session: Session, names: Iterable[str]) -> Options:
    """The options of the lists ``names``: ``{name: [[value, label], ...]}``, read now.

    An unknown name raises :class:`UnknownChoiceList` naming the lists there are.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    lists = choice_lists(pm)
    options: Options = {}
    for name in wanted:
        found = lists.get(name)
        if found is None:
            known = ", ".join(sorted(lists)) or "none"
            raise UnknownChoiceList(
                f"there is no choice list '{name}'{did_you_mean(name, lists)}; "
                f"the installed plugins offer: {known}"
            )
        options[name] = [[str(value), str(label)] for value, label in found.load(session)]
    return options
