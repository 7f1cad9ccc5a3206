"""PING, ECHO, SET, GET, DEL and EXISTS over multibulk RESP: the first things any Redis client does."""

import pytest

pytestmark = pytest.mark.criterion("basics")


def test_ping_replies_pong(service, resp):
    client = resp(service)
    client.call("PING", expect="PONG")
    client.call("PING", "hello", expect=b"hello")


def test_echo_returns_its_argument(service, resp):
    client = resp(service)
    client.call("ECHO", "hello world", expect=b"hello world")


def test_get_returns_the_value_set(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "first", expect="OK")
    client.call("GET", key(), expect=b"first")
    client.call("SET", key(), "second", expect="OK")
    client.call("GET", key(), expect=b"second")


def test_get_of_a_missing_key_is_null(service, resp, key):
    client = resp(service)
    client.call("GET", key("never-set"), expect=None)


def test_values_and_keys_are_binary_safe(service, resp, key, rng):
    client = resp(service)
    value = b"line1\r\nline2\x00\xff" + rng.randbytes(64)
    binary_key = key("bin").encode() + b"\x00\r\n\xfe"
    client.call("SET", binary_key, value, expect="OK")
    client.call("GET", binary_key, expect=value)
    client.call("SET", key("empty"), b"", expect="OK")
    client.call("GET", key("empty"), expect=b"")


def test_del_removes_keys_and_counts_them(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "1", expect="OK")
    client.call("SET", key("b"), "2", expect="OK")
    client.call("DEL", key("a"), key("b"), key("missing"), expect=2)
    client.call("GET", key("a"), expect=None)
    client.call("DEL", key("a"), expect=0)


def test_exists_counts_the_keys_present(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "1", expect="OK")
    client.call("SET", key("b"), "2", expect="OK")
    client.call("EXISTS", key("a"), expect=1)
    client.call("EXISTS", key("a"), key("b"), key("missing"), expect=2)
    client.call("EXISTS", key("missing"), expect=0)
