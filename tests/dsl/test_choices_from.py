"""``choices_from``: a choice field's options from a plugin's list, checked when loaded."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.choices import UnknownChoiceList, choice_list_names, load_choices
from engine.contrib import ChoiceList
from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form, validate_submission, with_choices
from engine.dsl.forms import choice_list_names as form_lists
from engine.dsl.validate import load_form_text
from engine.hookspecs import hookimpl
from engine.plugins import PluginError, create_plugin_manager

LISTS = Catalog(choice_lists=frozenset({"helpdesk.categories"}))


def _problems(fields: str, catalog: Catalog = LISTS) -> list[str]:
    text = f"forms:\n  f:\n    fields:\n{fields}"
    return [str(problem) for problem in load_form_text(text, "f.yaml", catalog)[1]]


def test_a_list_name_is_checked_with_did_you_mean_at_its_place() -> None:
    fields = "      - {name: category, type: choice, choices_from: helpdesk.categorys}\n"
    assert _problems(fields) == [
        "f.yaml:4:54: unknown choice list 'helpdesk.categorys' in 'choices_from' of field "
        "'category' of form 'f' (did you mean 'helpdesk.categories'?): the installed plugins "
        "offer helpdesk.categories"
    ]
    assert _problems(fields, Catalog()) == []  # plugins not known: not checked
    good = "      - {name: category, type: multi-choice, choices_from: helpdesk.categories}\n"
    assert _problems(good) == []


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "{name: c, type: choice, choices: [a], choices_from: helpdesk.categories}",
            "give either 'choices' or 'choices_from', not both",
        ),
        (
            "{name: c, type: text, choices_from: helpdesk.categories}",
            "choices_from only applies to choice and multi-choice fields, not text",
        ),
        ("{name: c, type: choice}", "a choice field needs choices (or choices_from)"),
        ("{name: c, type: choice, choices_from: Bad Name}", "c"),
    ],
)
def test_wrong_combinations_are_load_errors_with_a_place(field: str, message: str) -> None:
    [problem] = _problems(f"      - {field}\n")
    assert problem.startswith("f.yaml:4:")
    assert message in problem


FORM = Form.model_validate(
    {
        "fields": [
            {"name": "category", "type": "choice", "required": True,
             "choices_from": "helpdesk.categories"},
            {"name": "tags", "type": "multi-choice", "choices_from": "helpdesk.categories"},
            {"name": "note", "type": "text"},
        ]
    }
)  # fmt: skip


def test_read_options_fill_the_form_and_are_what_is_accepted() -> None:
    assert form_lists(FORM) == ["helpdesk.categories"]
    form = with_choices(FORM, {"helpdesk.categories": [["net", "Network"], ["hw", "Hardware"]]})
    assert [(c.value, c.text) for c in form.fields[0].choices] == [
        ("net", "Network"), ("hw", "Hardware"),
    ]  # fmt: skip
    assert validate_submission(form, {"category": "hw", "tags": ["net"]})[1] == []
    _, errors = validate_submission(form, {"category": "old", "tags": ["net", "gone"]})
    assert errors == [
        {"field": "category", "message": "'old' is not one of net, hw"},
        {"field": "tags", "message": "'gone' is not one of net, hw"},
    ]
    empty = with_choices(FORM, {"helpdesk.categories": []})
    assert validate_submission(empty, {"category": "hw"})[1] == [
        {"field": "category", "message": "'hw' is not an option: there are none to choose from"}
    ]
    # never read: refused, never taken as valid
    assert "were not read" in validate_submission(FORM, {"category": "hw"})[1][0]["message"]
    assert with_choices(FORM, {}) is FORM


class Plugin:
    @hookimpl
    def tierflow_register_choice_lists(self) -> list[ChoiceList]:
        return [ChoiceList("test.colours", load=lambda session: [("red", "Red")])]


def test_the_hook_gives_names_to_the_validator_and_options_when_read() -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("colours", Plugin())])
    assert choice_list_names(pm) == frozenset({"test.colours"})
    assert load_choices(pm, Session(), ["test.colours"]) == {"test.colours": [["red", "Red"]]}
    with pytest.raises(UnknownChoiceList, match=r"'test.colors' \(did you mean 'test.colours'"):
        load_choices(pm, Session(), ["test.colors"])
    twice = create_plugin_manager(entry_points=False, plugins=[("a", Plugin()), ("b", Plugin())])
    with pytest.raises(PluginError, match=r"test\.colours"):
        choice_list_names(twice)
