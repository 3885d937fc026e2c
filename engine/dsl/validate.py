"""What a workflow means, checked once its file loads: names, the step graph, expressions.

Every problem is positioned and all are reported together: duplicate step ids;
``goto``/``otherwise``/``next``/``escalate`` to a missing step or out of (into)
a parallel branch; unreachable steps; loops with no task or wait in them;
unknown forms, actions, teams, roles, recipients and called workflows; every
variable an expression or template reads; ``shown_when`` of form fields; and
schedules (cron, time zone). :func:`validate_files` checks files together:
forms files share their forms, fragments files their fragments (a workflow's
``use`` items are expanded first, see :mod:`engine.dsl.expand`), ``call`` may
name any workflow of the run, and two files may not define the same workflow.

A file that fails its schema still has the parts that load on their own
checked (each step, form, the start, the schedule: see
:mod:`engine.dsl.outline`), so one run shows every problem; what names a part
that did not load is not reported again.

The checks themselves live in :mod:`engine.dsl.graph` (ids, gotos,
reachability, loops), :mod:`engine.dsl.names` (actions, forms, teams, roles,
recipients, schedules), :mod:`engine.dsl.references` (expressions) and
:mod:`engine.dsl.steprefs` (``steps.<id>.<attribute>``); this module runs
them over a file, or over files together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form
from engine.dsl.graph import check_graph
from engine.dsl.library import library_of
from engine.dsl.loader import (
    LoadedWorkflow,
    Parsed,
    Positions,
    expand_parsed,
    parse_file,
    parse_text,
    read_source,
)
from engine.dsl.names import RECIPIENTS, check_names
from engine.dsl.outline import Findings, Known, Outline, forms_of, outline_of
from engine.dsl.problems import Problem, WorkflowFileError, display_path
from engine.dsl.references import (
    ATTRIBUTES,
    ONLY_IN,
    channel_problems,
    check_expressions,
    form_problems,
)
from engine.dsl.signal_checks import check_signals
from engine.dsl.spec import FormFile, Workflow
from engine.dsl.steprefs import STEP_ATTRIBUTES

__all__ = [
    "ATTRIBUTES",
    "ONLY_IN",
    "RECIPIENTS",
    "STEP_ATTRIBUTES",
    "LoadedWorkflow",
    "Parsed",
    "Positions",
    "check_workflow",
    "form_problems",
    "load_form_file",
    "load_form_text",
    "load_workflow_file",
    "load_workflow_text",
    "validate_files",
]


def semantic_problems(parsed: Parsed, outline: Outline, known: Known) -> list[Problem]:
    """Every problem the checks find in ``outline`` (the workflow ``parsed`` holds)."""
    findings = Findings(parsed)
    check_graph(outline, findings)
    check_names(outline, known, findings)
    check_expressions(outline, known, findings)
    check_signals(outline, known, findings)
    for problem in form_problems(parsed, outline.forms, known.catalog.choice_lists):
        findings.problems[problem] = None
    for problem in channel_problems(parsed, outline.start, outline.forms):
        findings.problems[problem] = None
    return list(findings.problems)


# ----------------------------------------------------------- entry points ---


def check_workflow(
    parsed: Parsed,
    catalog: Catalog,
    shared_forms: Mapping[str, Form] | None = None,
    workflows: frozenset[str] | None = None,
    *,
    defined_forms: frozenset[str] = frozenset(),
) -> list[Problem]:
    """The semantic problems of a parsed workflow, or of the parts of it that loaded.

    When the file failed its schema, each step, form, the start and the
    schedule that loads on its own is still checked (see
    :meth:`Outline.of_data`); ``[]`` when the file is not a workflow at all.
    ``shared_forms`` are forms files' forms (beside ``catalog.forms``);
    ``defined_forms`` names forms of forms files that did not load (naming
    one is not an unknown form); ``workflows`` the names ``call`` may use
    beside ``catalog.workflows``.
    """

    def check() -> list[Problem]:
        outline = outline_of(parsed)
        if outline is None or parsed.broken_uses:
            return []
        names = catalog.workflows | (workflows or frozenset())
        known = Known.of(outline, catalog, shared_forms or {}, names, defined_forms)
        return semantic_problems(parsed, outline, known)

    return _guarded(parsed.file, check)


def _guarded(file: str, check: Callable[[], list[Problem]]) -> list[Problem]:
    """Run ``check``; a bug of ours becomes a problem at 1:1 rather than a traceback."""
    try:
        return list(check())
    except Exception as exc:  # the last resort: report, never crash the validator
        return [Problem(file, 1, 1, f"internal error while validating: {exc!r}")]


def _outside_forms(workflow: Workflow) -> list[str]:
    """The forms ``workflow`` names but does not define, in the order it names them."""
    names = [step.task.form for step in workflow.all_steps() if step.task is not None]
    names.append(workflow.start.form or "")
    names += [offer.form or "" for offer in workflow.signals.values()]
    return [name for name in dict.fromkeys(names) if name and name not in workflow.forms]


def _used_forms(workflow: Workflow, forms: Mapping[str, Form]) -> dict[str, Form]:
    return {name: forms[name] for name in _outside_forms(workflow) if name in forms}


def load_workflow_text(
    text: str, file: str, catalog: Catalog
) -> tuple[Workflow | None, list[Problem]]:
    """Load and check one workflow: ``(workflow, [])``, or ``(None, every problem)``.

    On its own, a workflow has no fragments to use: see :func:`validate_files`.
    """
    parsed = _guarded_parse(file, lambda: expand_parsed(parse_text(text, file), {}))
    if parsed.workflow is None and not parsed.problems and not parsed.is_workflow:
        which = "forms" if parsed.is_forms_file else "fragments"
        message = f"this is a {which} file (it has only '{which}'), not a workflow"
        parsed.problems.append(Problem(file, 1, 1, message))
    problems = sorted({*parsed.problems, *check_workflow(parsed, catalog)})
    return (parsed.workflow if not problems else None), problems


def load_workflow_file(path: Path, catalog: Catalog) -> tuple[Workflow | None, list[Problem]]:
    """:func:`load_workflow_text` for the file at ``path`` (named as :func:`display_path` does)."""
    file = display_path(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return None, exc.problems
    return load_workflow_text(text, file, catalog)


def load_form_text(
    text: str, file: str, catalog: Catalog | None = None
) -> tuple[FormFile | None, list[Problem]]:
    """Load and check a forms file: ``(forms, [])``, or ``(None, every problem)``."""
    parsed = _guarded_parse(file, lambda: parse_text(text, file))
    return _forms_result(parsed, catalog)


def load_form_file(
    path: Path, catalog: Catalog | None = None
) -> tuple[FormFile | None, list[Problem]]:
    """:func:`load_form_text` for the file at ``path``."""
    file = display_path(path)
    try:
        text = read_source(path, file)
    except WorkflowFileError as exc:
        return None, exc.problems
    return load_form_text(text, file, catalog)


def _forms_result(
    parsed: Parsed, catalog: Catalog | None = None
) -> tuple[FormFile | None, list[Problem]]:
    problems = list(parsed.problems)
    if parsed.data is not None and not parsed.is_forms_file and not problems:
        problems.append(Problem(parsed.file, 1, 1, "a forms file has only 'forms', nothing else"))
    problems += _forms_file_problems(parsed, catalog)
    return (parsed.forms if not problems else None), sorted(set(problems))


def _file_forms(parsed: Parsed) -> tuple[Mapping[str, Form], frozenset[str]]:
    """A forms file's forms that loaded (each on its own if need be), and every form's name."""
    if parsed.forms is not None:
        return parsed.forms.forms, frozenset(parsed.forms.forms)
    if parsed.is_forms_file:
        return forms_of(parsed.data)
    return {}, frozenset()


def _forms_file_problems(parsed: Parsed, catalog: Catalog | None = None) -> list[Problem]:
    lists = catalog.choice_lists if catalog is not None else None
    return _guarded(parsed.file, lambda: form_problems(parsed, _file_forms(parsed)[0], lists))


def _guarded_parse(file: str, parse: Callable[[], Parsed]) -> Parsed:
    try:
        return parse()
    except Exception as exc:  # the last resort: report, never crash the validator
        problem = Problem(file, 1, 1, f"internal error while validating: {exc!r}")
        return Parsed(file, "", None, Positions(), [problem])


def validate_files(
    paths: Sequence[Path],
    catalog: Catalog,
    progress: Callable[[Path], None] | None = None,
) -> tuple[list[LoadedWorkflow], list[Problem]]:
    """Load and check files together; the workflows that are fine, and every problem found.

    Forms files' forms and fragments files' fragments are shared by every
    workflow of the run, ``call`` may name any workflow of the run, and a
    workflow name may be defined once. A workflow using fragments loads with
    its source the text that is deployed: its fragments' steps written out.
    A folder stands for the ``.yaml``/``.yml`` files below it.

    ``progress`` is called with each file, in order, once it has been read
    and checked against the language's schema: that is most of the work; the
    checks that need every file (names, the step graph, expressions) follow
    and take a fraction of the time.
    """
    parsed: dict[Path, Parsed] = {}
    for path in _files(paths):
        file = display_path(path)
        parsed[path] = _guarded_parse(file, lambda p=path, f=file: parse_file(p, f))
        if progress is not None:
            progress(path)
    library, problems = library_of(parsed.values())
    for path, item in parsed.items():
        parsed[path] = _guarded_parse(item.file, lambda i=item: expand_parsed(i, library))
    problems += [problem for item in parsed.values() for problem in item.problems]
    shared, defined, clashes = _shared_forms(parsed.values())
    problems += clashes + _duplicate_names(parsed.values())
    names = frozenset(filter(None, map(_workflow_name, parsed.values())))
    for item in parsed.values():
        problems += check_workflow(item, catalog, shared, names, defined_forms=defined)
        if item.is_forms_file:
            problems += _forms_file_problems(item, catalog)
    bad_files = {problem.owner for problem in problems}
    forms = {**catalog.forms, **shared}
    loaded = [
        LoadedWorkflow.of(path, item.workflow, item.source, _used_forms(item.workflow, forms))
        for path, item in parsed.items()
        if item.workflow is not None
        and item.file not in bad_files
        and not _names_broken_form(item.workflow, defined - set(shared))
    ]
    return loaded, sorted(set(problems))


def _names_broken_form(workflow: Workflow, broken: set[str]) -> bool:
    """Whether ``workflow`` uses a form of a forms file that did not load (reported there)."""
    return not broken.isdisjoint(_outside_forms(workflow))


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                found
                for found in path.rglob("*")
                if found.suffix in (".yaml", ".yml") and found.is_file()
            )
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def _shared_forms(
    parsed: Iterable[Parsed],
) -> tuple[dict[str, Form], frozenset[str], list[Problem]]:
    """Forms files' forms that loaded, the name of every form they define, and clashes."""
    shared: dict[str, Form] = {}
    where: dict[str, str] = {}
    problems = []
    for item in parsed:
        forms, names = _file_forms(item)
        for name in names:
            if name in where:
                line, column = item.positions.key(("forms", name))
                message = f"form '{name}' is also defined in {where[name]}: give it another name"
                problems.append(Problem(item.file, line, column, message))
                continue
            where[name] = item.file
            if name in forms:
                shared[name] = forms[name]
    return shared, frozenset(where), problems


def _workflow_name(parsed: Parsed) -> str | None:
    """The name a workflow file gives, even when the file did not load."""
    if parsed.workflow is not None:
        return parsed.workflow.name
    data = parsed.data
    if isinstance(data, dict) and parsed.is_workflow and isinstance(data.get("name"), str):
        return data["name"]
    return None


def _duplicate_names(parsed: Iterable[Parsed]) -> list[Problem]:
    first: dict[str, str] = {}
    problems = []
    for item in parsed:
        name = _workflow_name(item)
        if name is None:
            continue
        if name in first:
            line, column = item.positions.value(("name",))
            message = f"workflow '{name}' is also defined in {first[name]}: names must be unique"
            problems.append(Problem(item.file, line, column, message))
        first.setdefault(name, item.file)
    return problems
