"""Keys with a time to live: set one, watch it vanish, read how long is left."""

import time

import pytest

from harness.drivers.resp import show_reply

pytestmark = pytest.mark.criterion("expiry-basics")


def _wait_until_gone(client, key, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if client.call("GET", key) is None:
            return
        time.sleep(0.05)
    raise AssertionError(f"GET {key}: expected (nil) once its expiry passed, still present after {within} s")


def test_key_set_with_px_expires(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", "PX", 300, expect="OK")
    client.call("GET", key(), expect=b"v")
    _wait_until_gone(client, key(), within=2.0)
    client.call("EXISTS", key(), expect=0)


def test_pexpire_makes_an_existing_key_vanish(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", expect="OK")
    client.call("PEXPIRE", key(), 300, expect=1)
    _wait_until_gone(client, key(), within=2.0)


def test_ttl_reports_the_seconds_left(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", "EX", 100, expect="OK")
    ttl = client.call("TTL", key())
    assert ttl in (99, 100), f"TTL right after SET EX 100: expected (integer) 100, got {show_reply(ttl)}"
    client.call("DEL", key(), expect=1)


def test_ttl_of_persistent_and_missing_keys(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", expect="OK")
    client.call("TTL", key(), expect=-1)
    client.call("TTL", key("missing"), expect=-2)
