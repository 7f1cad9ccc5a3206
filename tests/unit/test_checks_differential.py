"""The two searches against a brute-force oracle on small random histories, the budget, and speed."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from harness.checks import Budget, check_linearizable, check_model
from harness.checks.model import State, relevant, step
from harness.history import History, HistoryRecorder, ManualClock, Operation, OpHandle, script
from harness.history.events import Value


def brute_force(history: History) -> bool:
    """Linearizable iff, for every key, some subset of the info operations with all the ok ones has an
    order that respects real time (a before b when a completed before b was invoked) and that the model
    accepts."""
    for key in history.keys():  # noqa: SIM118 - History is not a mapping
        ops = [op for op in history.operations if op.key == key and relevant(op)]
        oks = [op for op in ops if op.status == "ok"]
        infos = [op for op in ops if op.status == "info"]
        if not any(
            _some_order([*oks, *chosen])
            for n in range(len(infos) + 1)
            for chosen in itertools.combinations(infos, n)
        ):
            return False
    return True


def _some_order(ops: list[Operation]) -> bool:
    for order in itertools.permutations(ops):
        if any(
            a.complete_index is not None and a.status == "ok" and a.complete_index < b.invoke_index
            for i, b in enumerate(order)
            for a in order[i + 1 :]
        ):
            continue  # a finished before b started, yet b comes first
        state: State = None
        for op in order:
            consistent, state = step(state, op)
            if not consistent:
                break
        else:
            return True
    return False


def random_history(rng: random.Random, n_ops: int, keys: int = 1) -> History:
    """Up to 3 clients issuing operations on small values with random (often wrong) results."""
    recorder = HistoryRecorder(clock=ManualClock())
    open_ops: dict[int, OpHandle] = {}
    issued = 0
    while issued < n_ops or open_ops:
        free = [p for p in range(3) if p not in open_ops]
        if issued < n_ops and free and (not open_ops or rng.random() < 0.5):
            process = rng.choice(free)
            f = rng.choice(["read", "write", "cas", "read", "write", "incr", "delete"])
            value: Value = None
            if f == "write":
                value = rng.randrange(3)
            elif f == "cas":
                value = (rng.randrange(3), rng.randrange(3))
            open_ops[process] = recorder.invoke(process, f, f"k{rng.randrange(keys)}", value)
            issued += 1
            continue
        process = rng.choice(list(open_ops))
        handle = open_ops.pop(process)
        roll = rng.random()
        if roll < 0.15:
            handle.info("timeout")
        elif roll < 0.25:
            handle.fail("refused")
        elif handle.invocation.f == "read":
            handle.ok(rng.choice([None, 0, 1, 2]))
        elif handle.invocation.f == "cas":
            handle.ok(rng.choice([None, False]))
        elif handle.invocation.f == "incr":
            handle.ok(rng.choice([None, 1, 2, 3]))
        elif handle.invocation.f == "delete":
            handle.ok(rng.choice([None, 0, 1]))
        else:
            handle.ok()
    return recorder.snapshot()


def test_searches_agree_with_brute_force_on_random_histories() -> None:
    rng = random.Random(20240601)
    verdicts = {"pass": 0, "fail": 0}
    for case in range(600):
        history = random_history(rng, n_ops=rng.randrange(1, 7), keys=rng.choice([1, 1, 2]))
        expected = "pass" if brute_force(history) else "fail"
        for checker in (check_linearizable, check_model):
            result = checker(history)
            assert result.status == expected, f"case {case}, {checker.__name__}:\n{history.to_json()}"
        verdicts[expected] += 1
    # The generator must exercise both outcomes, or the agreement says little.
    assert min(verdicts.values()) > 100, verdicts


def contended(n: int) -> History:
    """n overlapping writes of distinct values, then reads that no order can explain."""
    lines = [f"w{i} write x {i}" for i in range(n)] + [f"w{i} ok" for i in range(n)]
    lines += ["r read x", "r ok 999"]
    return script(*lines)


@pytest.mark.parametrize("checker", [check_linearizable, check_model], ids=["wgl", "replay"])
def test_out_of_budget_is_unknown_never_pass(checker: object) -> None:
    assert callable(checker)
    result = checker(contended(14), budget=Budget(max_steps=500))
    assert result.status == "unknown"
    assert "out of budget" in result.summary
    assert checker(contended(6)).status == "fail"  # with the default budget it decides


def test_budget_time_limit() -> None:
    budget = Budget(max_steps=None, max_seconds=0.0)
    with pytest.raises(Exception, match="more than 0 s"):
        for _ in range(5000):
            budget.spend()


def workload(seed: int, n_ops: int, keys: int, concurrency: int, stale: bool = False) -> History:
    """A linearizable history: each operation takes effect at its completion on a real store."""
    rng = random.Random(seed)
    clock = ManualClock(step_ns=1000)
    recorder = HistoryRecorder(clock=clock)
    store: dict[str, int] = {}
    in_flight: list[OpHandle] = []
    issued = 0
    while issued < n_ops or in_flight:
        if issued < n_ops and len(in_flight) < concurrency and (not in_flight or rng.random() < 0.5):
            key = f"key{rng.randrange(keys)}"
            f = rng.choice(["read", "read", "write", "cas", "incr"])
            value: Value = None
            if f == "write":
                value = rng.randrange(10)
            elif f == "cas":
                value = (store.get(key, 0) if rng.random() < 0.5 else rng.randrange(10), rng.randrange(10))
            in_flight.append(recorder.invoke(issued % concurrency, f, key, value))
            issued += 1
            continue
        handle = in_flight.pop(rng.randrange(len(in_flight)))
        call = handle.invocation
        key = str(call.key)
        if rng.random() < 0.02:
            if call.f == "write" and rng.random() < 0.5:
                store[key] = int(str(call.value))
            handle.info("timeout")
        elif call.f == "read":
            handle.ok(store.get(key))
        elif call.f == "write":
            store[key] = int(str(call.value))
            handle.ok()
        elif call.f == "incr":
            store[key] = store.get(key, 0) + 1
            handle.ok(store[key])
        else:
            assert isinstance(call.value, tuple)
            if store.get(key) == call.value[0]:
                store[key] = int(str(call.value[1]))
                handle.ok(True)
            else:
                handle.fail("mismatch")
    if stale:  # one read, after everything, of a value the key no longer holds
        handle = recorder.invoke(0, "read", "key7", None)
        handle.ok(store.get("key7", 0) + 1000)
    return recorder.snapshot()


@pytest.mark.parametrize("checker", [check_linearizable, check_model], ids=["wgl", "replay"])
def test_five_thousand_ops_over_fifty_keys_check_fast(checker: object) -> None:
    assert callable(checker)
    history = workload(seed=7, n_ops=5000, keys=50, concurrency=5)
    assert len(history.operations) == 5000
    started = time.perf_counter()
    result = checker(history)
    elapsed = time.perf_counter() - started
    assert result.status == "pass", result.details
    assert elapsed < 1.0, f"{elapsed:.3f} s"

    broken = workload(seed=7, n_ops=5000, keys=50, concurrency=5, stale=True)
    started = time.perf_counter()
    result = checker(broken)
    elapsed = time.perf_counter() - started
    assert result.status == "fail"
    assert result.counterexample is not None and len(result.counterexample.operations) <= 10
    assert elapsed < 1.0, f"{elapsed:.3f} s"
