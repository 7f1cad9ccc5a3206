"""Reading YAML inputs into pydantic models with one-line errors that name the file, line and field.

The file is composed into PyYAML's node tree (which keeps each node's position) as well as loaded, so a
validation error's location (`criteria.3.points`) can be turned back into the line it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import UsageError

M = TypeVar("M", bound=BaseModel)
Location = Sequence[int | str]


@dataclass(frozen=True)
class Located:
    """A YAML file's node tree, to find the line of a field named by its path."""

    path: Path
    root: yaml.Node | None

    def line(self, location: Location) -> int | None:
        """1-based line of the deepest node `location` reaches. Parts that name no node (pydantic adds
        union tags such as `metric` to its paths) are skipped rather than ending the walk."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in location:
            found = _child(node, part)
            if found is None:
                continue
            key_line, node = found
            line = key_line
        return line

    def where(self, location: Location) -> str:
        """`path:line` for a message, or just the path when the line is unknown."""
        line = self.line(location)
        return f"{self.path}:{line}" if line is not None else str(self.path)


def _child(node: yaml.Node, part: int | str) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


def field_name(location: Location) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def load_located(path: Path, model: type[M], error: type[UsageError], what: str) -> tuple[M, Located]:
    """Like `load_model`, also returning the node tree so callers' own checks can name lines too."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
        located = Located(path, yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise error(f"{path}{where}: not valid YAML", hint="fix the syntax") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of fields at the top level")
    try:
        return model.model_validate(raw), located
    except ValidationError as exc:
        first = exc.errors()[0]
        location = first["loc"]
        raise error(f"{located.where(location)}: field '{field_name(location)}': {first['msg']}") from None


def load_model(path: Path, model: type[M], error: type[UsageError], what: str) -> M:
    """Parse `path` as YAML and validate it as `model`; every problem is an `error` naming the place."""
    return load_located(path, model, error, what)[0]
