"""Fields of the result model a renderer does not lay out itself, listed generically.

The model grows (manual reviews, levels, code-quality evidence); a renderer written before a field
existed still shows it, as a name and a text, rather than silently leaving it out.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

#: The fields of GradeResult and CriterionResult that every renderer lays out on its own.
LAID_OUT_RESULT = frozenset(
    {
        "schema_version", "exercise", "mode", "started_at", "finished_at", "seed", "submission",
        "environment", "criteria", "skills", "total", "undecided_points", "complete", "problems",
    }
)  # fmt: skip
LAID_OUT_CRITERION = frozenset(
    {
        "id", "title", "skill", "visibility", "status", "points", "max_points", "passed", "failed",
        "errors", "skipped", "summary", "scenarios",
    }
)  # fmt: skip


def _dump(model: BaseModel) -> object:
    # Unset and default fields would bury what was found under nulls and zeros.
    return model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def as_text(value: object) -> str:
    """Scalars as themselves; models, lists and mappings as indented JSON."""
    if isinstance(value, BaseModel):
        value = _dump(value)
    elif isinstance(value, list | tuple):
        value = [_dump(v) if isinstance(v, BaseModel) else v for v in value]
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def extra_fields(model: BaseModel, laid_out: frozenset[str]) -> list[tuple[str, str]]:
    """(name, text) for each field of ``model`` not in ``laid_out``, neither empty nor its default, in model
    order."""
    extras = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in laid_out or value in (None, "", [], {}):
            continue
        if not info.is_required() and value == info.get_default(call_default_factory=True):
            continue  # a default says nothing this result did not already say
        extras.append((name.replace("_", " "), as_text(value)))
    return extras
