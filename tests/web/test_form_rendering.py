"""Forms on pages: the right control per field type, accessible markup, posts back to data."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest
from starlette.datastructures import FormData

from engine.dsl.forms import Form, validate_submission
from engine.web import forms as web_forms
from engine.web.forms import (
    DURATION_PATTERN,
    Widget,
    field_errors,
    outcome_buttons,
    parse_submission,
    widgets,
)

TEMPLATES = Path(web_forms.__file__).parent / "templates"
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render(env: jinja2.Environment, shown: list[Widget], buttons=()) -> str:
    template = env.from_string(
        '{% import "engine/_form.html" as forms %}'
        "{{ forms.error_summary(widgets) }}{{ forms.fields(widgets) }}{{ forms.buttons(buttons) }}"
    )
    return template.render(widgets=shown, buttons=list(buttons))


class Page(HTMLParser):
    """The elements of rendered HTML: ``(tag, attributes, text inside up to the next tag)``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self.stack: list[tuple[str, dict[str, str], list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (tag, {k: v or "" for k, v in attrs}, [])
        self.elements.append(element)
        if tag not in ("input", "img", "br"):
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element[2].append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a, _ in self.elements
            if (tag is None or t == tag) and all(a.get(k) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> dict[str, str]:
        (found,) = self.find(tag, **attrs)
        return found

    def text(self, tag: str, **attrs: str) -> str:
        (found,) = [
            " ".join("".join(text).split())
            for t, a, text in self.elements
            if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]
        return found


def form_of(*fields: dict[str, Any], outcomes: list[Any] | None = None) -> Form:
    return Form.model_validate({"fields": list(fields), "outcomes": outcomes or []})


# ------------------------------------------------------------- controls --

CHOICES = ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("spec", "tag", "attrs"),
    [
        ({"type": "text", "max": 80, "min": 2}, "input", {"type": "text", "maxlength": "80"}),
        ({"type": "textarea", "max": 2000}, "textarea", {"maxlength": "2000"}),
        ({"type": "number", "min": 0, "max": 9.5}, "input", {"type": "number", "step": "any"}),
        ({"type": "date", "min": "2026-01-01"}, "input", {"type": "date", "min": "2026-01-01"}),
        ({"type": "datetime"}, "input", {"type": "datetime-local"}),
        ({"type": "person"}, "input", {"type": "email"}),
        ({"type": "team"}, "input", {"type": "text"}),
        ({"type": "duration"}, "input", {"type": "text", "pattern": DURATION_PATTERN}),
        ({"type": "choice", "choices": CHOICES}, "select", {}),
        ({"type": "boolean"}, "input", {"type": "checkbox", "value": "true"}),
    ],
)
def test_each_field_type_gets_its_control(
    env: jinja2.Environment, spec: dict[str, Any], tag: str, attrs: dict[str, str]
) -> None:
    page = Page(render(env, widgets(form_of({"name": "f", **spec}))))

    control = page.one(tag, id="field-f")

    assert control["name"] == "f"
    assert {k: control.get(k) for k in attrs} == attrs
    assert page.find("label", **{"for": "field-f"})


def test_number_and_range_attributes_come_from_min_and_max(env: jinja2.Environment) -> None:
    form = form_of(
        {"name": "budget", "type": "number", "min": 0, "max": 9.5},
        {"name": "summary", "min": 2, "max": 80},
    )
    page = Page(render(env, widgets(form)))
    assert page.one("input", id="field-budget")["min"] == "0"
    assert page.one("input", id="field-budget")["max"] == "9.5"
    assert page.one("input", id="field-summary")["minlength"] == "2"


def test_a_required_short_choice_is_radio_buttons_in_a_fieldset(env: jinja2.Environment) -> None:
    form = form_of({"name": "risk", "type": "choice", "required": True, "choices": CHOICES})
    page = Page(render(env, widgets(form)))

    fieldset = page.one("fieldset", id="field-risk")
    radios = page.find("input", type="radio", name="risk")

    assert fieldset["role"] == "radiogroup"
    assert fieldset["aria-required"] == "true"
    assert page.text("legend") == "Risk (required)"
    assert [r["value"] for r in radios] == CHOICES
    assert all("required" in r for r in radios)
    for radio in radios:
        assert page.find("label", **{"for": radio["id"]})


def test_long_or_optional_choices_are_a_select_with_an_empty_option(
    env: jinja2.Environment,
) -> None:
    many = [f"c{n}" for n in range(8)]
    form = form_of(
        {"name": "site", "type": "choice", "required": True, "choices": many},
        {"name": "risk", "type": "choice", "choices": CHOICES, "default": "high"},
    )
    page = Page(render(env, widgets(form)))

    assert page.one("select", id="field-site")["required"] == ""
    site, risk = widgets(form)
    assert (site.choices[0].value, site.choices[0].label) == ("", "Choose…")
    assert [(o.value, o.selected) for o in risk.choices] == [
        ("", False),
        ("low", False),
        ("medium", False),
        ("high", True),
    ]
    assert risk.choices[0].label == "(none)"


def test_multi_choice_is_checkboxes_in_a_fieldset(env: jinja2.Environment) -> None:
    form = form_of(
        {
            "name": "scope",
            "type": "multi-choice",
            "choices": [{"value": "ws", "label": "Workstations"}, "servers"],
            "default": ["servers"],
        }
    )
    page = Page(render(env, widgets(form)))

    boxes = page.find("input", type="checkbox", name="scope")
    assert [(b["value"], "checked" in b) for b in boxes] == [("ws", False), ("servers", True)]
    assert page.text("legend") == "Scope"
    assert page.text("label", **{"for": boxes[0]["id"]}) == "Workstations"


def test_team_fields_are_a_select_when_teams_are_given(env: jinja2.Environment) -> None:
    form = form_of({"name": "implementer", "type": "team", "default": "network-l3"})
    shown = widgets(form, teams=[("helpdesk-l1", "Help desk"), ("network-l3", "Network")])
    page = Page(render(env, shown))

    assert page.one("select", id="field-implementer")
    assert page.one("option", value="network-l3")["selected"] == ""
    assert page.text("option", value="helpdesk-l1") == "Help desk"


def test_defaults_and_saved_data_are_shown_as_controls_hold_them() -> None:
    form = form_of(
        {"name": "wanted_by", "type": "date", "default": "2026-12-01"},
        {"name": "downtime", "type": "duration", "default": "4h"},
        {"name": "on_budget", "type": "boolean", "default": True},
        {"name": "planned_for", "type": "datetime", "default": "2026-12-01T09:00+01:00"},
        {"name": "budget", "type": "number"},
    )

    def shown(**kw: Any) -> dict[str, Any]:
        return {
            w.name: w.checked if w.control == "checkbox" else w.value for w in widgets(form, **kw)
        }

    assert shown(timezone="Europe/Berlin") == {
        "wanted_by": "2026-12-01",
        "downtime": "4h",
        "on_budget": True,
        "planned_for": "2026-12-01T09:00",
        "budget": "",
    }
    saved = {
        "wanted_by": date(2027, 1, 2),
        "downtime": timedelta(hours=1, minutes=30),
        "on_budget": False,
        "planned_for": datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        "budget": 1200.0,
    }
    assert shown(data=saved, timezone="America/New_York") == {
        "wanted_by": "2027-01-02",
        "downtime": "1h30m",
        "on_budget": False,
        "planned_for": "2026-12-01T03:00",
        "budget": "1200",
    }


# ---------------------------------------------------------- accessibility --

EVERY_TYPE = form_of(
    {"name": "summary", "required": True, "help": "One line", "max": 100},
    {"name": "details", "type": "textarea", "help": "Steps to reproduce"},
    {"name": "budget", "type": "number", "help": "In euros"},
    {"name": "wanted_by", "type": "date", "help": "A day"},
    {"name": "planned_for", "type": "datetime", "required": True},
    {"name": "risk", "type": "choice", "required": True, "choices": CHOICES, "help": "How bad"},
    {"name": "site", "type": "choice", "choices": ["a", "b"], "help": "Where"},
    {"name": "scope", "type": "multi-choice", "choices": ["x", "y"], "required": True},
    {"name": "agree", "type": "boolean", "help": "Tick to agree"},
    {"name": "sponsor", "type": "person", "required": True},
    {"name": "implementer", "type": "team", "help": "A team slug"},
    {"name": "downtime", "type": "duration", "max": "1d"},
    outcomes=["approve", {"value": "reject", "label": "Send back"}],
)


@pytest.fixture
def failed(env: jinja2.Environment) -> tuple[Page, list[Widget]]:
    """EVERY_TYPE rendered after a post with a mistake in every field that can hold one."""
    post = FormData(
        [
            ("summary", ""),
            ("details", "x"),
            ("budget", "lots"),
            ("wanted_by", "tomorrow"),
            ("planned_for", "soon"),
            ("risk", "extreme"),
            ("site", "c"),
            ("agree", "maybe"),
            ("sponsor", ""),
            ("implementer", "ops"),
            ("downtime", "2d"),
            ("csrf_token", "abc"),
        ]
    )
    clean, errors = validate_submission(EVERY_TYPE, parse_submission(EVERY_TYPE, post))
    assert clean is None
    shown = widgets(EVERY_TYPE, submitted=post, errors=field_errors(errors))
    return Page(render(env, shown, outcome_buttons(EVERY_TYPE))), shown


def test_errors_are_attached_to_their_fields_and_input_is_kept(failed) -> None:
    page, shown = failed
    wrong = {w.name for w in shown if w.errors}
    assert wrong == {
        "summary", "budget", "wanted_by", "planned_for", "risk", "site", "scope", "agree",
        "sponsor", "downtime",
    }  # fmt: skip
    assert page.one("input", id="field-budget")["value"] == "lots"
    assert page.one("input", id="field-wanted_by")["value"] == "tomorrow"
    assert page.one("input", id="field-downtime")["value"] == "2d"
    assert page.text("textarea", id="field-details") == "x"
    assert page.text("div", id="field-scope-error") == "this field is required"
    assert page.text("fieldset", id="field-scope").startswith("Scope (required)")
    assert page.text("div", id="field-summary-error") == "this field is required"
    summary = [a["href"] for a in page.find("a")]
    assert "#field-summary" in summary
    assert "#field-risk-0" in summary  # a group's link leads to its first option


def test_every_control_is_labelled_described_and_marked(failed) -> None:
    page, shown = failed
    ids = [a["id"] for _, a, _ in page.elements if "id" in a]
    assert len(ids) == len(set(ids)), "ids are unique"
    labelled = {a["for"] for a in page.find("label")}
    for tag, attrs, _ in page.elements:
        if tag in ("input", "select", "textarea"):
            assert attrs["id"] in labelled, f"{attrs['id']} has no <label for>"
        for described in attrs.get("aria-describedby", "").split():
            assert described in ids, f"{attrs['id']} points at missing {described}"
    for widget in shown:
        box = page.one(id=widget.id)
        described = box.get("aria-describedby", "").split()
        if widget.help:
            assert widget.help_id in described
            assert page.text("p", id=widget.help_id) == widget.help
        if widget.errors:
            assert widget.error_id in described
            if widget.control != "checkboxes":
                assert box["aria-invalid"] == "true"
        if widget.control == "checkboxes":
            assert all(
                b.get("aria-invalid") == "true" for b in page.find("input", name=widget.name)
            )
        if widget.control in ("text", "email", "datetime-local"):
            assert ("required" in box) == widget.required
    for fieldset in page.find("fieldset"):
        assert fieldset["id"] in ("field-risk", "field-scope")
    assert len(page.find("legend")) == 2
    assert page.text("label", **{"for": "field-summary"}) == "Summary (required)"


def test_outcomes_are_submit_buttons(failed) -> None:
    page, _ = failed
    buttons = page.find("button")
    assert [(b["type"], b["name"], b["value"]) for b in buttons] == [
        ("submit", "outcome", "approve"),
        ("submit", "outcome", "reject"),
    ]
    assert outcome_buttons(EVERY_TYPE) == [("approve", "Approve"), ("reject", "Send back")]
    assert outcome_buttons(form_of({"name": "a"})) == [("", "Submit")]
    assert outcome_buttons(form_of({"name": "a"}), default="Complete") == [("", "Complete")]


def test_a_form_without_errors_has_no_error_summary(env: jinja2.Environment) -> None:
    page = Page(render(env, widgets(EVERY_TYPE), [("", "Submit")]))
    assert not page.find("div", role="alert")
    assert not page.find(**{"aria-invalid": "true"})
    (button,) = page.find("button")
    assert "name" not in button


# -------------------------------------------------------------- posting --


ROUND_TRIPS = [
    ({"type": "text"}, "  Printer jammed ", "Printer jammed"),
    ({"type": "textarea"}, "line one\r\nline two", "line one\r\nline two"),
    ({"type": "number"}, "12.5", 12.5),
    ({"type": "number"}, "3", 3),
    ({"type": "date"}, "2026-12-01", date(2026, 12, 1)),
    (
        {"type": "datetime"},
        "2026-12-01T09:30",
        datetime(2026, 12, 1, 8, 30, tzinfo=UTC),  # Berlin is UTC+1 in December
    ),
    ({"type": "choice", "choices": CHOICES}, "medium", "medium"),
    ({"type": "multi-choice", "choices": CHOICES}, ["low", "high"], ["low", "high"]),
    ({"type": "boolean"}, "true", True),
    ({"type": "boolean"}, "on", True),
    ({"type": "person"}, "hannah.lee@example.org", "hannah.lee@example.org"),
    ({"type": "team"}, "helpdesk-l1", "helpdesk-l1"),
    ({"type": "duration"}, "1h30m", timedelta(minutes=90)),
]


@pytest.mark.parametrize(("spec", "posted", "clean"), ROUND_TRIPS)
def test_a_post_parses_to_the_value_and_shows_again_as_posted(
    spec: dict[str, Any], posted: str | list[str], clean: Any
) -> None:
    form = form_of({"name": "f", **spec})
    items = [("f", v) for v in posted] if isinstance(posted, list) else [("f", posted)]
    post = FormData([*items, ("outcome", "done"), ("csrf_token", "t")])

    data = parse_submission(form, post, timezone="Europe/Berlin")
    values, errors = validate_submission(form, data)

    assert errors == []
    assert values == {"f": clean}
    (again,) = widgets(form, data=values, timezone="Europe/Berlin")
    if spec["type"] in ("multi-choice", "choice"):
        assert [o.value for o in again.choices if o.selected] == (
            posted if isinstance(posted, list) else [posted]
        )
    elif spec["type"] == "boolean":
        assert again.checked
    else:
        assert again.value == (clean if spec["type"] == "text" else posted)


def test_absent_checkboxes_are_no_and_absent_fields_take_their_default() -> None:
    form = form_of(
        {"name": "agree", "type": "boolean", "default": True},
        {"name": "scope", "type": "multi-choice", "choices": CHOICES},
        {"name": "risk", "type": "choice", "choices": CHOICES, "default": "low"},
        {"name": "note"},
    )
    data = parse_submission(form, FormData([("note", "")]))
    assert data == {"agree": False, "scope": [], "note": ""}
    values, errors = validate_submission(form, data)
    assert errors == []
    assert values == {"agree": False, "scope": [], "risk": "low", "note": None}


def test_plain_dicts_post_like_multidicts() -> None:
    form = form_of(
        {"name": "scope", "type": "multi-choice", "choices": CHOICES},
        {"name": "one", "type": "multi-choice", "choices": CHOICES},
        {"name": "when", "type": "datetime"},
    )
    data = parse_submission(
        form, {"scope": ["low", ""], "one": "high", "when": "2026-12-01T09:00+05:00"}
    )
    assert data["scope"] == ["low"]
    assert data["one"] == ["high"]
    assert data["when"] == datetime.fromisoformat("2026-12-01T09:00+05:00")


def test_unparsable_values_reach_the_validator_as_typed() -> None:
    form = form_of({"name": "when", "type": "datetime"}, {"name": "agree", "type": "boolean"})
    data = parse_submission(form, FormData([("when", "next week"), ("agree", "perhaps")]))
    assert data == {"when": "next week", "agree": "perhaps"}
    _, errors = validate_submission(form, data)
    assert {e["field"] for e in errors} == {"when", "agree"}


def test_field_errors_group_messages_by_field_in_order() -> None:
    errors = [
        {"field": "a", "message": "first"},
        {"field": "b", "message": "other"},
        {"field": "a", "message": "second"},
        {"field": "", "message": "expected an object of field values"},
    ]
    assert field_errors(errors) == {
        "a": ["first", "second"],
        "b": ["other"],
        "": ["expected an object of field values"],
    }


# ------------------------------------------------------------- escaping --


def test_labels_help_choices_values_and_errors_are_escaped(env: jinja2.Environment) -> None:
    form = form_of(
        {"name": "summary", "label": f"Summary {XSS}", "help": f"Help {XSS}"},
        {
            "name": "risk",
            "type": "choice",
            "required": True,
            "choices": [{"value": "v1", "label": f"Low {XSS}"}],
            "help": XSS,
        },
        {"name": "scope", "type": "multi-choice", "choices": [{"value": "x", "label": XSS}]},
        {"name": "note", "type": "textarea", "label": XSS},
        {"name": "agree", "type": "boolean", "label": XSS},
        outcomes=[{"value": "done", "label": XSS}],
    )
    post = FormData([("summary", XSS), ("note", f"</textarea>{XSS}"), ("risk", XSS)])
    shown = widgets(form, submitted=post, errors={"summary": [f"bad {XSS}"], "risk": [XSS]})

    html = render(env, shown, outcome_buttons(form))
    page = Page(html)

    assert "<script" not in html
    assert "<img" not in html
    assert "</textarea><" not in html
    assert not [a for _, a, _ in page.elements if any(k.startswith("on") for k in a)]
    assert page.one("input", id="field-summary")["value"] == XSS
    assert page.text("label", **{"for": "field-summary"}) == f"Summary {XSS}"
    assert page.text("p", id="field-summary-help") == f"Help {XSS}"
    assert page.text("div", id="field-summary-error") == f"bad {XSS}"
    assert page.text("textarea", id="field-note") == f"</textarea>{XSS}"
    assert page.text("button") == XSS
    assert len(page.find("input")) == 4  # summary, one radio, one checkbox, agree


def test_the_web_form_and_inbox_modules_do_not_import_starlette() -> None:
    for module in ("forms.py", "inbox.py"):
        tree = ast.parse((TEMPLATES.parent / module).read_text())
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        assert not [name for name in imported if name.split(".")[0] == "starlette"], module


def test_a_nul_character_is_a_field_error_in_every_text_and_choice() -> None:
    form = form_of(
        {"name": "summary", "required": True},
        {"name": "tags", "type": "multi-choice", "choices": ["a", "b"]},
        {"name": "count", "type": "number"},
    )
    clean, errors = validate_submission(form, {"summary": "screen\x00black", "tags": ["a\x00"]})

    assert clean is None
    assert {e["field"]: e["message"] for e in errors} == {
        "summary": "contains a NUL character, which no field accepts; remove it",
        "tags": "contains a NUL character, which no field accepts; remove it",
    }
    assert validate_submission(form, {"summary": "fine", "tags": ["a"]})[1] == []
