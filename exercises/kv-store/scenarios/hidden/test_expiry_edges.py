"""Expiry to the millisecond: deadlines, TTL/PTTL values, what resets or keeps a deadline, lazy and
active expiry. Every timing check leaves at least 100 ms of slack around the deadline."""

import time

import pytest

from harness.drivers.resp import show_reply

pytestmark = pytest.mark.criterion("expiry")


def _sleep_until(moment):
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _assert_between(value, low, high, what):
    assert isinstance(value, int) and low <= value <= high, (
        f"{what}: expected an integer between {low} and {high}, got {show_reply(value)}"
    )


def test_px_deadline_is_kept_to_the_millisecond(service, resp, key):
    client = resp(service)
    sent = time.monotonic()
    client.call("SET", key(), "v", "PX", 400, expect="OK")
    acked = time.monotonic()
    _sleep_until(sent + 0.2)
    reply = client.call("GET", key())
    if time.monotonic() < sent + 0.3:  # answered at least 100 ms before the deadline
        assert reply == b"v", f'GET 200 ms into a 400 ms expiry: expected "v", got {show_reply(reply)}'
    _sleep_until(acked + 0.5)
    client.call("GET", key(), expect=None)


def test_ttl_and_pttl_report_the_remaining_time(service, resp, key):
    client = resp(service)
    sent = time.monotonic()
    client.call("SET", key("a"), "v", "PX", 2600, expect="OK")
    pttl = client.call("PTTL", key("a"))
    elapsed_ms = int((time.monotonic() - sent) * 1000)
    _assert_between(pttl, 2600 - elapsed_ms - 10, 2600, "PTTL right after SET PX 2600")
    ttl = client.call("TTL", key("a"))
    if time.monotonic() - sent < 0.09:
        assert ttl == 3, (
            f"TTL of a key with 2.5-2.6 s left (rounded to nearest): expected 3, got {show_reply(ttl)}"
        )
    client.call("SET", key("b"), "v", "PX", 2400, expect="OK")
    ttl = client.call("TTL", key("b"))
    assert ttl == 2, (
        f"TTL of a key with 2.3-2.4 s left (rounded to nearest): expected 2, got {show_reply(ttl)}"
    )
    client.call("SET", key("c"), "v", "EX", 100, expect="OK")
    _assert_between(client.call("TTL", key("c")), 99, 100, "TTL right after SET EX 100")
    _assert_between(client.call("PTTL", key("c")), 99_000, 100_000, "PTTL right after SET EX 100")
    client.call("DEL", key("a"), key("b"), key("c"), expect=3)


def test_ttl_and_pttl_of_persistent_and_missing_keys(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", expect="OK")
    client.call("TTL", key(), expect=-1)
    client.call("PTTL", key(), expect=-1)
    client.call("TTL", key("missing"), expect=-2)
    client.call("PTTL", key("missing"), expect=-2)


def test_expire_and_pexpire_set_a_new_deadline(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", "EX", 1000, expect="OK")
    client.call("EXPIRE", key(), 100, expect=1)
    _assert_between(client.call("TTL", key()), 99, 100, "TTL after EXPIRE 100")
    client.call("PEXPIRE", key(), 5000, expect=1)
    _assert_between(client.call("PTTL", key()), 4900, 5000, "PTTL after PEXPIRE 5000")
    client.call("EXPIRE", key("missing"), 100, expect=0)
    client.call("PEXPIRE", key("missing"), 100, expect=0)
    client.call("EXISTS", key("missing"), expect=0)
    client.call("DEL", key(), expect=1)


def test_expire_with_a_time_of_zero_or_less_deletes_the_key(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "v", expect="OK")
    client.call("EXPIRE", key("a"), 0, expect=1)
    client.call("EXISTS", key("a"), expect=0)
    client.call("SET", key("b"), "v", expect="OK")
    client.call("PEXPIRE", key("b"), -100, expect=1)
    client.call("GET", key("b"), expect=None)


def test_set_without_expiry_removes_the_previous_deadline(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", "EX", 100, expect="OK")
    client.call("SET", key(), "v2", expect="OK")
    client.call("TTL", key(), expect=-1)


def test_incr_decr_and_incrby_keep_the_deadline(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "10", "EX", 100, expect="OK")
    client.call("INCR", key(), expect=11)
    client.call("DECR", key(), expect=10)
    client.call("INCRBY", key(), 5, expect=15)
    _assert_between(client.call("TTL", key()), 99, 100, "TTL after INCR/DECR/INCRBY on a key set with EX 100")
    client.call("DEL", key(), expect=1)


def test_expired_key_is_invisible_to_every_command(service, resp, key):
    client = resp(service)
    client.call("SET", key("other"), "x", expect="OK")
    client.call("SET", key(), "5", "PX", 150, expect="OK")
    acked = time.monotonic()
    _sleep_until(acked + 0.3)
    client.call("EXISTS", key(), expect=0)
    client.call("TTL", key(), expect=-2)
    client.call("PTTL", key(), expect=-2)
    client.call("MGET", key(), key("other"), expect=[None, b"x"])
    client.call("GET", key(), expect=None)
    client.call("INCR", key(), expect=1)
    client.call("TTL", key(), expect=-1)


def test_expired_keys_are_reclaimed_without_being_read(service, resp, key):
    client = resp(service)
    before = client.call("DBSIZE")
    assert isinstance(before, int), f"DBSIZE: expected an integer, got {show_reply(before)}"
    client.pipeline([("SET", key(str(i)), "v", "PX", 200) for i in range(40)], expect=["OK"] * 40)
    time.sleep(2.5)
    after = client.call("DBSIZE")
    assert isinstance(after, int) and after <= before, (
        f"DBSIZE 2.3 s after 40 keys expired without being read: expected at most {before} "
        f"(the count before they were set), got {show_reply(after)}; "
        "expired keys seem to be reclaimed only when read"
    )
