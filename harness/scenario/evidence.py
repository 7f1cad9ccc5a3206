"""Evidence a scenario gathers while it runs: transcripts of what was sent and received, notes, and the
services it used (whose log tail is shown when the scenario fails)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from harness.scenario.service import ServiceHandle

#: Evidence is for people: keep each failure's story short enough to read.
MAX_EVIDENCE_CHARS = 6000
LOG_TAIL_BYTES = 2000


class EvidenceSource(Protocol):
    """Anything that can tell what it sent and received (protocol clients)."""

    def transcript(self) -> str: ...

    def reproduce(self) -> str | None: ...


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail of long text; the middle is rarely what explains a failure."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… ({len(text) - limit} characters elided) …\n{text[-half:]}"


@dataclass
class EvidenceLog:
    notes: list[str] = field(default_factory=list)
    sources: list[EvidenceSource] = field(default_factory=list)
    services: list[ServiceHandle] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def attach(self, source: EvidenceSource) -> None:
        self.sources.append(source)

    def watch(self, service: ServiceHandle) -> None:
        if all(s is not service for s in self.services):
            self.services.append(service)

    def render(self, *, with_logs: bool) -> str:
        parts = list(self.notes)
        parts += [t for t in (s.transcript() for s in self.sources) if t]
        if with_logs:
            for service in self.services:
                if service.managed:
                    tail = service.logs(LOG_TAIL_BYTES).strip()
                    parts.append(f"service log ({service.name}, tail):\n{tail or '(empty)'}")
        return clip("\n\n".join(parts), MAX_EVIDENCE_CHARS)

    def reproduce(self) -> str | None:
        # The last client is usually the one that saw the failure.
        for source in reversed(self.sources):
            command = source.reproduce()
            if command:
                return command
        return None
