"""What a deployed version is made of: the workflow file plus the shared forms it names.

A run is pinned to a content hash. The hash covers the file's text and, when
the workflow names forms from a forms file or a plugin, those forms too (as
canonical JSON), so that editing a shared form makes a new version instead of
changing running instances.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from engine.dsl.forms import Form


def shared_forms_json(forms: Mapping[str, Form]) -> str:
    """Canonical JSON of ``forms`` (empty text when there are none)."""
    if not forms:
        return ""
    data = {name: forms[name].model_dump(mode="json", by_alias=True) for name in sorted(forms)}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pinned_hash(source: str, shared_forms: str = "") -> str:
    """The version identity: sha256 of the text, and of the shared forms if there are any."""
    digest = hashlib.sha256(source.encode("utf-8"))
    if shared_forms:
        digest.update(b"\0")
        digest.update(shared_forms.encode("utf-8"))
    return digest.hexdigest()


def parse_shared_forms(text: str) -> dict[str, Form]:
    """The forms :func:`shared_forms_json` stored."""
    if not text:
        return {}
    return {name: Form.model_validate(data) for name, data in json.loads(text).items()}
