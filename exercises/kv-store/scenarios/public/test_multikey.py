"""MSET and MGET: several keys in one command."""

import pytest

pytestmark = pytest.mark.criterion("multi-key")


def test_mset_then_mget_returns_every_value(service, resp, key):
    client = resp(service)
    client.call("MSET", key("a"), "1", key("b"), "2", key("c"), "3", expect="OK")
    client.call("MGET", key("a"), key("b"), key("c"), expect=[b"1", b"2", b"3"])


def test_mget_returns_null_for_missing_keys(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "1", expect="OK")
    client.call("MGET", key("missing"), key("a"), key("also-missing"), expect=[None, b"1", None])


def test_mset_overwrites_existing_keys(service, resp, key):
    client = resp(service)
    client.call("SET", key("a"), "old", expect="OK")
    client.call("MSET", key("a"), "new", key("b"), "other", expect="OK")
    client.call("GET", key("a"), expect=b"new")
    client.call("GET", key("b"), expect=b"other")
