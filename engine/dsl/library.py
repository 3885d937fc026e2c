"""The fragments that workflows checked together may use, gathered from fragments files.

Every fragments file of a run shares its fragments with every workflow of
the run (as forms files share forms). A fragment name may be defined once.
A fragments file that fails its schema still lends the fragments that load
on their own; one that does not load is known by name, so a workflow using
it is told to fix the fragment rather than that it does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.dsl.expand import Library, Shared
from engine.dsl.fragments import Fragment, fragment_file_problems
from engine.dsl.loader import Parsed
from engine.dsl.outline import valid
from engine.dsl.problems import Problem


def library_of(parsed: Iterable[Parsed]) -> tuple[Library, list[Problem]]:
    """The fragments of the fragments files among ``parsed``, and their files' own problems."""
    library: dict[str, Shared] = {}
    problems: list[Problem] = []
    for item in parsed:
        if not item.is_fragments_file:
            continue
        fragments = _fragments(item)
        for name, fragment in fragments.items():
            if name in library:
                line, column = item.positions.key(("fragments", name))
                message = (
                    f"fragment '{name}' is also defined in {library[name].file}: "
                    "give it another name"
                )
                problems.append(Problem(item.file, line, column, message))
                continue
            library[name] = Shared(name, item.file, item.positions, fragment)
        loaded = {name: each for name, each in fragments.items() if each is not None}
        problems += fragment_file_problems(item.file, loaded, item.positions)
    return library, problems


def _fragments(parsed: Parsed) -> dict[str, Fragment | None]:
    """Each fragment of a fragments file by name: loaded, or ``None`` when it did not."""
    if parsed.fragments is not None:
        return dict(parsed.fragments.fragments)
    raw = parsed.data.get("fragments") if isinstance(parsed.data, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {name: valid(Fragment, value) for name, value in raw.items() if isinstance(name, str)}
