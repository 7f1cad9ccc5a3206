"""results.json: the result model as JSON, written atomically (a reader never sees half a file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from harness.errors import UsageError
from harness.report.model import GradeResult


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def write_result(result: GradeResult, path: Path) -> None:
    write_atomically(path, result.model_dump_json(indent=2) + "\n")


def read_result(path: Path) -> GradeResult:
    try:
        return GradeResult.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ValidationError as exc:
        raise UsageError(f"{path} is not a harness results file: {exc.errors()[0]['msg']}") from None
