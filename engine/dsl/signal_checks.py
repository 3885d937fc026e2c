"""The signals a workflow lets people send (``signals:``): who, when, which form.

Checked here, each at its place in the file: ``who`` names a sender the
engine knows (``requester``, ``owner_team``, ``current_team``, ``assignee``,
``role:<role>``, ``team:<slug>``), with a known role and team; ``when`` is a
condition that reads only ``item`` and its attributes; ``form`` is a form
the workflow may use, and with ``comment: true`` it has a field ``comment``;
and some ``wait`` step of the workflow waits for the signal (one nobody waits
for would be kept by the run and never read: a button that does nothing).
"""

from __future__ import annotations

from engine.dsl.expressions import ExpressionError, check_condition, references
from engine.dsl.loader import PathKey
from engine.dsl.names import Names
from engine.dsl.outline import Findings, Known, Outline
from engine.dsl.references import ATTRIBUTES
from engine.dsl.spec import SIGNAL_SENDERS_HELP, SignalOffer
from engine.dsl.suggest import did_you_mean

SENDERS = ("requester", "owner_team", "current_team", "assignee")
"""The senders that need no value; ``role:<role>`` and ``team:<slug>`` name one."""


def check_signals(outline: Outline, known: Known, findings: Findings) -> None:
    """Report what the ``signals:`` of ``outline`` get wrong to ``findings``."""
    names = Names(outline, known, findings)
    waited = {
        placed.step.wait.signal
        for placed in outline.placed
        if placed.step.wait is not None and placed.step.wait.signal is not None
    }
    for name, offer in outline.signals.items():
        path: PathKey = ("signals", name)
        where = f"signal '{name}'"
        for index, sender in enumerate(offer.who):
            _sender(sender, (*path, "who", index), where, names, findings)
        if offer.when is not None:
            _condition(offer.when, (*path, "when"), where, findings)
        if offer.form is not None:
            _form(name, offer, names, known, findings)
        if outline.complete and name not in waited:
            hint = did_you_mean(name, waited)
            findings.add_at_key(
                path,
                f"no step waits for {where}{hint}: add a step "
                f"'wait: {{signal: {name}}}', or remove the signal",
            )


def _sender(sender: str, path: PathKey, where: str, names: Names, findings: Findings) -> None:
    kind, colon, value = sender.partition(":")
    if not colon and sender in SENDERS:
        return
    if colon and kind in ("role", "team") and value.strip():
        if kind == "role":
            names.role(value.strip(), path, where)
        else:
            names.team(value.strip(), path, where)
        return
    hint = did_you_mean(sender, SENDERS)
    findings.add(path, f"unknown sender '{sender}' in {where}{hint}: write {SIGNAL_SENDERS_HELP}")


def _condition(text: str, path: PathKey, where: str, findings: Findings) -> None:
    at = f"'when' of {where}"
    try:
        tree = check_condition(text)
    except ExpressionError as exc:
        findings.add(path, f"{at}: {exc}")
        return
    for reference in references(tree):
        root = reference.path[0]
        if root in ("true", "false", "none"):
            continue
        if root != "item":
            hint = did_you_mean(root, ["item"])
            findings.add(path, f"unknown variable '{root}' in {at}{hint}: it may only read item")
        elif len(reference.path) > 1 and reference.path[1] not in ATTRIBUTES["item"]:
            attribute = reference.path[1]
            hint = did_you_mean(attribute, ATTRIBUTES["item"])
            findings.add(path, f"unknown attribute 'item.{attribute}' in {at}{hint}")


def _form(name: str, offer: SignalOffer, names: Names, known: Known, findings: Findings) -> None:
    assert offer.form is not None
    path, where = ("signals", name, "form"), f"signal '{name}'"
    if offer.form not in known.form_names:
        names.form(offer.form, path, where)
        return
    form = known.forms.get(offer.form)
    if offer.comment and form is not None and "comment" not in [f.name for f in form.fields]:
        fields = ", ".join(f.name for f in form.fields) or "none"
        findings.add(
            (*path[:-1], "comment"),
            f"'comment: true' in {where} needs a field named 'comment' in form "
            f"'{offer.form}' (its fields: {fields})",
        )
