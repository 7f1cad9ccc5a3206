"""Reading YAML inputs into pydantic models with one-line errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import UsageError

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], error: type[UsageError], what: str) -> M:
    """Parse `path` as YAML and validate it as `model`; every problem is an `error` naming the place."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise error(f"{path}{where}: not valid YAML", hint="fix the syntax") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of fields at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise error(f"{path}: field '{field}': {first['msg']}") from None
