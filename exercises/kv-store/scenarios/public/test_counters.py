"""INCR, DECR and INCRBY on string values holding integers."""

import pytest

pytestmark = pytest.mark.criterion("counters")


def test_incr_creates_a_missing_key_and_counts_up(service, resp, key):
    client = resp(service)
    client.call("INCR", key(), expect=1)
    client.call("INCR", key(), expect=2)
    client.call("GET", key(), expect=b"2")


def test_decr_and_incrby_update_the_value(service, resp, key):
    client = resp(service)
    client.call("DECR", key(), expect=-1)
    client.call("INCRBY", key(), 10, expect=9)
    client.call("INCRBY", key(), -20, expect=-11)
    client.call("GET", key(), expect=b"-11")


def test_incr_works_on_a_number_stored_with_set(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "41", expect="OK")
    client.call("INCR", key(), expect=42)
    client.call("INCRBY", key(), 1000, expect=1042)
