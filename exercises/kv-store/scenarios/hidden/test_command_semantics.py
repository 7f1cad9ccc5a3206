"""Replies and errors exactly as Redis gives them: arity, unknown commands, non-integer values,
overflow, case-insensitive names, counting in DEL/EXISTS/DBSIZE, and QUIT."""

import time

import pytest

from harness.drivers.resp import RespError, encode_command, expect_reply, show_reply

pytestmark = pytest.mark.criterion("command-semantics")


def _check_all(client, cases):
    """Send each (args, expected) on one connection; report every mismatch, not just the first."""
    wrong = []
    for args, expected in cases:
        reply = client.call(*args)
        if reply != expected:
            shown = " ".join(map(str, args))
            wrong.append(f"{shown} -> expected {show_reply(expected)}, got {show_reply(reply)}")
    assert not wrong, f"{len(wrong)} of {len(cases)} replies were wrong: " + "; ".join(wrong)


def _arity(name):
    return RespError(f"ERR wrong number of arguments for '{name}' command")


ARITY_CASES = [
    (("GET",), "get"),
    (("GET", "a", "b"), "get"),
    (("SET", "k"), "set"),
    (("ECHO",), "echo"),
    (("ECHO", "a", "b"), "echo"),
    (("PING", "a", "b"), "ping"),
    (("DEL",), "del"),
    (("EXISTS",), "exists"),
    (("INCR",), "incr"),
    (("INCR", "a", "b"), "incr"),
    (("DECR",), "decr"),
    (("INCRBY", "k"), "incrby"),
    (("INCRBY", "k", "1", "2"), "incrby"),
    (("EXPIRE", "k"), "expire"),
    (("PEXPIRE", "k"), "pexpire"),
    (("TTL",), "ttl"),
    (("PTTL", "a", "b"), "pttl"),
    (("MGET",), "mget"),
    (("MSET", "a"), "mset"),
    (("MSET", "a", "1", "b"), "mset"),
    (("DBSIZE", "x"), "dbsize"),
    (("PUBLISH", "ch"), "publish"),
    (("SUBSCRIBE",), "subscribe"),
]


def test_wrong_number_of_arguments_is_an_error_and_keeps_the_connection_open(service, resp):
    client = resp(service)
    _check_all(client, [(args, _arity(name)) for args, name in ARITY_CASES])
    client.call("PING", expect="PONG")


def test_arity_error_names_the_command_in_lower_case(service, resp):
    client = resp(service)
    _check_all(
        client, [(("gEt",), _arity("get")), (("Mset", "a"), _arity("mset")), (("echo",), _arity("echo"))]
    )
    client.call("PING", expect="PONG")


def test_unknown_command_is_an_error_and_keeps_the_connection_open(service, resp):
    client = resp(service)
    _check_all(
        client,
        [
            (
                ("NOTACOMMAND", "a", "b"),
                RespError("ERR unknown command 'NOTACOMMAND', with args beginning with: 'a' 'b' "),
            ),
            (("notacommand",), RespError("ERR unknown command 'notacommand', with args beginning with: ")),
            (
                ("FlushEverything", "now"),
                RespError("ERR unknown command 'FlushEverything', with args beginning with: 'now' "),
            ),
        ],
    )
    client.call("PING", expect="PONG")


def test_command_names_are_case_insensitive(service, resp, key):
    client = resp(service)
    client.call("set", key(), "v", expect="OK")
    client.call("GeT", key(), expect=b"v")
    client.call("exists", key(), expect=1)
    client.call("incrBY", key("n"), 3, expect=3)
    client.call("ping", expect="PONG")


NOT_INT = RespError("ERR value is not an integer or out of range")
NON_CANONICAL = ["abc", "1.5", " 3", "3 ", "+3", "03", "-0", "", "99999999999999999999"]


def test_incr_decr_incrby_refuse_values_that_are_not_integers(service, resp, key):
    client = resp(service)
    cases = []
    for index, value in enumerate(NON_CANONICAL):
        client.call("SET", key(str(index)), value, expect="OK")
        cases += [(("INCR", key(str(index))), NOT_INT), (("DECR", key(str(index))), NOT_INT)]
        cases += [(("INCRBY", key(str(index)), 1), NOT_INT)]
    _check_all(client, cases)
    for index, value in enumerate(NON_CANONICAL):
        client.call("GET", key(str(index)), expect=value.encode())


def test_incrby_refuses_a_delta_that_is_not_an_integer(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "5", expect="OK")
    _check_all(
        client,
        [(("INCRBY", key(), delta), NOT_INT) for delta in ["abc", "1.5", "", "+1", "9223372036854775808"]],
    )
    client.call("GET", key(), expect=b"5")


def test_overflow_is_an_error_and_leaves_the_value_unchanged(service, resp, key):
    client = resp(service)
    overflow = RespError("ERR increment or decrement would overflow")
    client.call("SET", key("max"), "9223372036854775807", expect="OK")
    client.call("SET", key("min"), "-9223372036854775808", expect="OK")
    _check_all(
        client,
        [
            (("INCR", key("max")), overflow),
            (("INCRBY", key("max"), 1), overflow),
            (("DECR", key("min")), overflow),
            (("INCRBY", key("min"), -1), overflow),
            (("INCRBY", key("max"), -1), 9223372036854775806),
            (("INCRBY", key("zero"), -9223372036854775808), -9223372036854775808),
            (("DECR", key("zero")), overflow),
        ],
    )
    client.call("GET", key("min"), expect=b"-9223372036854775808")


def test_exists_counts_a_repeated_key_each_time_and_del_only_once(service, resp, key):
    client = resp(service)
    client.call("SET", key(), "v", expect="OK")
    client.call("EXISTS", key(), key(), key("missing"), key(), expect=3)
    client.call("DEL", key(), key(), key("missing"), expect=1)
    client.call("EXISTS", key(), key(), expect=0)


def test_dbsize_counts_keys_added_and_removed(service, resp, key):
    client = resp(service)
    attempts = []
    for attempt in range(5):  # another scenario's key expiring in between is retried, not failed
        names = [key(f"{attempt}-{i}") for i in range(6)]
        before = client.call("DBSIZE")
        client.call("MSET", *[part for name in names for part in (name, "v")], expect="OK")
        added = client.call("DBSIZE")
        client.call("DEL", *names[:2], expect=2)
        removed = client.call("DBSIZE")
        client.call("DEL", *names, expect=4)
        counts = (before, added, removed)
        if all(isinstance(v, int) for v in counts) and (added - before, removed - before) == (6, 4):
            return
        attempts.append(f"{show_reply(before)} -> {show_reply(added)} -> {show_reply(removed)}")
        time.sleep(0.2)
    raise AssertionError(
        "DBSIZE before, after MSET of 6 new keys, after DEL of 2 of them: expected +6 then +4, got "
        + "; ".join(attempts)
    )


def test_quit_replies_ok_and_closes_the_connection(service, resp):
    client = resp(service)
    client.call("QUIT", expect="OK")
    client.expect_closed(timeout=2.0)


def test_commands_pipelined_after_quit_are_not_run(service, resp, key):
    client = resp(service)
    client.send_raw(
        encode_command("SET", key("before"), "v")
        + encode_command("QUIT")
        + encode_command("SET", key("after"), "v")
    )
    expect_reply(client.read_reply(), "OK", f"reply to SET {key('before')} v")
    expect_reply(client.read_reply(), "OK", "reply to QUIT")
    client.expect_closed(timeout=2.0)
    other = resp(service)
    other.call("EXISTS", key("before"), expect=1)
    other.call("EXISTS", key("after"), expect=0)
