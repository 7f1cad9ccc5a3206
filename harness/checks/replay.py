"""Model-based checking: replay the history against the key-value model and report the first divergence.

Operations are replayed in real-time order. Where operations do not overlap that order is unique and
this is a plain replay; where they do (concurrent clients, or an ``info`` operation that may take effect
at any later time) the replay keeps every model configuration the overlapping operations allow, and
narrows the set at each completion (Lowe's "just-in-time linearization", the algorithm behind Knossos'
``linear`` checker). The first completion that leaves no configuration is the divergence: the service
answered something no order of the operations could produce.

A configuration is (model state, ok operations invoked but not yet applied, info operations not yet
applied). Info operations carry no obligation, so a configuration with more of them pending can do
anything one with fewer can; pruning the dominated ones keeps timeouts from doubling the set each time.
Still, every completion re-explores the pending info operations, so a key with ~100 timeouts can exhaust
the budget (unknown) where `check_linearizable`'s depth-first search finds an order at once: this
checker is for readable first divergences on mostly sequential histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from harness.checks.evidence import around, describe, show_states, sub_history
from harness.checks.model import State, check_op, normalise, relevant, step
from harness.checks.result import Budget, CheckResult, OutOfBudget, guarded
from harness.history import History, Operation, Value

NAME = "model"

_Config: TypeAlias = tuple[State, frozenset[int], frozenset[int]]


@dataclass(frozen=True)
class Divergence:
    op: Operation
    states: tuple[State, ...]  # what the model allowed the key to hold where ``op`` could take effect


def replay(ops: Sequence[Operation], initial: State, budget: Budget) -> Divergence | None:
    """The first operation of one key whose outcome the model cannot produce, or None."""
    moments = [(op.invoke_index, 0, i) for i, op in enumerate(ops)]
    for i, op in enumerate(ops):
        if op.status == "ok" and op.complete_index is not None:  # info: never completes, may apply later
            moments.append((op.complete_index, 1, i))
    moments.sort()
    configs: set[_Config] = {(initial, frozenset(), frozenset())}
    for _, is_return, i in moments:
        if not is_return:
            if ops[i].status == "ok":
                configs = {(s, oks | {i}, infos) for s, oks, infos in configs}
            else:
                configs = {(s, oks, infos | {i}) for s, oks, infos in configs}
            continue
        narrowed, refused = _complete(ops, i, configs, budget)
        if not narrowed:
            return Divergence(ops[i], tuple(refused))
        configs = _prune(narrowed)
    return None


def _complete(
    ops: Sequence[Operation], done: int, configs: Iterable[_Config], budget: Budget
) -> tuple[set[_Config], list[State]]:
    """Configurations in which ``done`` has been applied, after any pending operations before it."""
    out: set[_Config] = set()
    refused: list[State] = []
    seen: set[_Config] = set()
    stack = []
    for config in configs:
        if done in config[1]:
            if config not in seen:
                seen.add(config)
                stack.append(config)
        else:
            out.add(config)  # already applied earlier
    while stack:
        state, oks, infos = stack.pop()
        budget.spend()
        consistent, after = step(state, ops[done])
        if consistent:
            out.add((after, oks - {done}, infos))
        elif state not in refused:
            refused.append(state)
        for j in (*oks, *infos):
            if j == done:
                continue
            consistent, after = step(state, ops[j])
            if not consistent:
                continue
            config = (after, oks - {j}, infos) if j in oks else (after, oks, infos - {j})
            if config not in seen:
                seen.add(config)
                stack.append(config)
    return out, refused


def _prune(configs: set[_Config]) -> set[_Config]:
    """Drop configurations dominated by one with the same state and ok set and more info ops pending."""
    groups: dict[tuple[State, frozenset[int]], list[frozenset[int]]] = {}
    for state, oks, infos in configs:
        groups.setdefault((state, oks), []).append(infos)
    kept: set[_Config] = set()
    for (state, oks), options in groups.items():
        for infos in options:
            if not any(infos < other for other in options):
                kept.add((state, oks, infos))
    return kept


@guarded(NAME)
def check_model(
    history: History,
    *,
    initial: Mapping[Value, Value] | None = None,
    budget: Budget | None = None,
    context: int = 3,
) -> CheckResult:
    """Replay every key against the key-value model (`harness.checks.model`); fail at the first divergence.

    ``initial`` gives keys' values before the history (default: absent).
    """
    budget = budget or Budget()
    initial = initial or {}
    found: list[tuple[Divergence, list[Operation], History]] = []
    count = 0
    per_key = history.by_key()
    for key, sub in per_key.items():
        ops = [op for op in sub.operations if relevant(op)]
        for op in ops:
            check_op(op)
        count += len(ops)
        try:
            divergence = replay(ops, normalise(initial.get(key)), budget)
        except OutOfBudget as exc:
            if found:
                break
            return CheckResult(NAME, "unknown", f"out of budget replaying key {key!r} ({exc})")
        if divergence is not None:
            found.append((divergence, ops, sub))
    if not found:
        return CheckResult(NAME, "pass", f"{count} operations on {len(per_key)} keys agree with the model")
    divergence, ops, sub = min(found, key=lambda d: d[0].op.complete_time or 0)
    op = divergence.op
    window = around(ops, op, context)
    return CheckResult(
        NAME,
        "fail",
        f"first divergence from the model: {op.describe()}",
        details=(
            f"First divergence: {op.describe()}\n"
            f"The model allows key {op.key!r} to hold only: {show_states(divergence.states)}.\n"
            f"Operations around it:\n{describe(window)}\n"
            f"{len(found)} of {len(per_key)} keys diverge."
        ),
        counterexample=sub_history(sub, window),
    )
