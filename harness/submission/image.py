"""Check that a string looks like a container image reference, without asking Docker."""

from __future__ import annotations

import re

from harness.errors import SubmissionError
from harness.submission.display import shown

# The grammar of github.com/distribution/reference, which Docker itself uses.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
_MAX_NAME = 255


def check_image_reference(ref: str) -> str:
    """``ref`` itself when it is a well-formed image reference; SubmissionError otherwise."""
    match = _REFERENCE.fullmatch(ref)
    if match is None or len(match.group("name")) > _MAX_NAME:
        raise SubmissionError(
            f"{shown(ref) or 'an empty string'} is not a valid image reference",
            hint="use the form [registry/]name[:tag][@sha256:digest], e.g. ghcr.io/you/service:1.0",
        )
    return ref
