"""Submission intake: take a candidate's code in, safely, as a folder the harness owns.

A submission can be given as

* a folder: copied into ``workdir/src``; the harness never builds in the candidate's own folder.
  A top-level ``.git`` and any ``target/`` next to a ``Cargo.toml`` are left out.
* a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive: extracted into ``workdir/src``. An archive that
  holds exactly one top-level folder (and nothing else) has that folder as its root.
* a git repository: a URL (``https://``, ``http://``, ``git://``, ``ssh://``, ``file://``,
  ``user@host:path``) or a bare repository on disk is cloned, checked out at ``ref`` if given, and its
  ``.git`` removed; ``revision`` records the commit.
* a prebuilt image reference (``image=``): only checked for its form here.

A local folder that is a git work tree is graded *as a folder*, working files and uncommitted changes
included, because that is what someone pointing at a folder sees and expects. It goes through git only
when a ``ref`` is given: then the committed state at that ref is graded, and uncommitted changes are not.

Candidate input is treated as hostile throughout. Nothing is written outside the root or through a
symlink; symlinks must stay inside the submission; devices, fifos and sockets are refused; and the caps of
``IntakeLimits`` are enforced on the bytes actually written, so an archive bomb stops at the cap whatever
its headers claim. Every refusal is a ``SubmissionError`` with a one-line message naming the offending
path and a hint saying what to do.

``pack_context`` turns a root into the deterministic tar that is sent into build containers, and
``source_digest`` hashes that tar to key build caches.
"""

from harness.submission.context import pack_context, source_digest
from harness.submission.intake import open_submission
from harness.submission.model import IntakeLimits, Kind, Submission

__all__ = ["IntakeLimits", "Kind", "Submission", "open_submission", "pack_context", "source_digest"]
