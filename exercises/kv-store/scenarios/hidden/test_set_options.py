"""SET with EX, PX, NX and XX: each option, their combinations, and the errors for invalid ones."""

import time

import pytest

from harness.drivers.resp import RespError, show_reply

pytestmark = pytest.mark.criterion("set-options")


def test_set_nx_only_writes_a_missing_key(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "first", "NX", expect="OK")
    client.call("SET", key(), "second", "NX", expect=None)
    client.call("GET", key(), expect=b"first")


def test_set_xx_only_writes_an_existing_key(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "first", "XX", expect=None)
    client.call("EXISTS", key(), expect=0)
    client.call("SET", key(), "first", expect="OK")
    client.call("SET", key(), "second", "XX", expect="OK")
    client.call("GET", key(), expect=b"second")


def test_set_ex_and_px_set_a_deadline(service, resp, key):
    client = resp(service)
    client.call("SET", key("ex"), "v", "EX", 100, expect="OK")
    ttl = client.call("TTL", key("ex"))
    assert ttl in (99, 100), f"TTL after SET EX 100: expected 100, got {show_reply(ttl)}"
    client.call("SET", key("px"), "v", "PX", 5000, expect="OK")
    pttl = client.call("PTTL", key("px"))
    assert isinstance(pttl, int) and 4900 <= pttl <= 5000, (
        f"PTTL after SET PX 5000: expected 4900-5000, got {show_reply(pttl)}"
    )
    client.call("DEL", key("ex"), key("px"), expect=2)


def test_set_options_are_case_insensitive_and_in_any_order(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "v", "px", 5000, "nx", expect="OK")
    client.call("SET", key("b"), "v", "Nx", "Ex", 100, expect="OK")
    client.call("SET", key("a"), "w", "xX", "pX", 5000, expect="OK")
    client.call("GET", key("a"), expect=b"w")
    pttl = client.call("PTTL", key("b"))
    assert isinstance(pttl, int) and 99_000 <= pttl <= 100_000, (
        f"PTTL after 'SET k v Nx Ex 100': expected 99000-100000, got {show_reply(pttl)}"
    )
    client.call("DEL", key("a"), key("b"), expect=2)


def test_set_nx_px_does_not_touch_an_existing_key_or_its_deadline(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "first", "NX", "PX", 100_000, expect="OK")
    client.call("SET", key(), "second", "NX", "PX", 500, expect=None)
    client.call("GET", key(), expect=b"first")
    pttl = client.call("PTTL", key())
    assert isinstance(pttl, int) and pttl > 99_000, (
        f"PTTL after a refused SET NX PX 500: expected the original ~100000, got {show_reply(pttl)}"
    )
    client.call("DEL", key(), expect=1)


def test_set_xx_replaces_the_deadline_or_clears_it(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "a", "EX", 1000, expect="OK")
    client.call("SET", key(), "b", "XX", "EX", 100, expect="OK")
    ttl = client.call("TTL", key())
    assert ttl in (99, 100), f"TTL after SET XX EX 100: expected 100, got {show_reply(ttl)}"
    client.call("SET", key(), "c", "XX", expect="OK")
    client.call("TTL", key(), expect=-1)


def test_set_nx_treats_an_expired_key_as_missing(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "old", "PX", 100, expect="OK")
    time.sleep(0.25)
    client.call("SET", key(), "new", "NX", expect="OK")
    client.call("SET", key(), "newer", "NX", expect=None)
    client.call("GET", key(), expect=b"new")


SYNTAX = RespError("ERR syntax error")
BAD_TIME = RespError("ERR invalid expire time in 'set' command")
NOT_INT = RespError("ERR value is not an integer or out of range")

INVALID = [
    pytest.param(("NX", "XX"), SYNTAX, id="NX and XX together"),
    pytest.param(("EX", "10", "PX", "100"), SYNTAX, id="EX and PX together"),
    pytest.param(("EX",), SYNTAX, id="EX without a time"),
    pytest.param(("PX",), SYNTAX, id="PX without a time"),
    pytest.param(("BOGUS",), SYNTAX, id="unknown option"),
    pytest.param(("EX", "0"), BAD_TIME, id="EX 0"),
    pytest.param(("EX", "-5"), BAD_TIME, id="negative EX"),
    pytest.param(("PX", "0"), BAD_TIME, id="PX 0"),
    pytest.param(("EX", "9223372036854775807"), BAD_TIME, id="EX that overflows"),
    pytest.param(("EX", "ten"), NOT_INT, id="EX not a number"),
    pytest.param(("PX", "1.5"), NOT_INT, id="PX not an integer"),
]


@pytest.mark.parametrize(("options", "error"), INVALID)
def test_set_rejects_invalid_options_and_leaves_the_key_alone(service, resp, key, options, error):
    client = resp(service)
    client.call("SET", key(), "original", expect="OK")
    client.call("SET", key(), "changed", *options, expect=error)
    client.call("GET", key(), expect=b"original")
    client.call("TTL", key(), expect=-1)
