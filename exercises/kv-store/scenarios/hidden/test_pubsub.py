"""Pub/sub: subscription replies, delivery to every subscriber, ordering across channels and
publishers, unsubscribing, and what a subscribed connection may still do."""

import threading

import pytest

from harness.drivers.resp import RespError, expect_reply, show_reply

pytestmark = pytest.mark.criterion("pubsub")


def _subscribe(client, *channels):
    client.send("SUBSCRIBE", *channels)
    for index, channel in enumerate(channels):
        expect_reply(
            client.read_reply(),
            [b"subscribe", channel.encode(), index + 1],
            f"confirmation {index + 1} of SUBSCRIBE {' '.join(channels)}",
        )


def _message(channel, payload):
    return [b"message", channel.encode(), payload if isinstance(payload, bytes) else payload.encode()]


def test_subscribe_confirms_each_channel_with_a_running_count(service, resp, key):
    subscriber = resp(service)
    _subscribe(subscriber, key("a"), key("b"), key("c"))


def test_publish_reaches_every_subscriber_and_returns_their_number(service, resp, key):
    first, second, elsewhere = resp(service), resp(service), resp(service)
    _subscribe(first, key("news"))
    _subscribe(second, key("news"), key("other"))
    _subscribe(elsewhere, key("other"))
    publisher = resp(service)
    publisher.call("PUBLISH", key("news"), "hello", expect=2)
    for name, client in (("first", first), ("second", second)):
        expect_reply(
            client.read_reply(), _message(key("news"), "hello"), f"message seen by the {name} subscriber"
        )
    elsewhere.expect_silence(0.2)
    publisher.call("PUBLISH", key("nobody"), "hello", expect=0)


def test_message_payloads_are_binary_safe(service, resp, key, rng):
    subscriber = resp(service)
    _subscribe(subscriber, key())
    payload = b"a\r\nb\x00" + rng.randbytes(200) + b"*3\r\n"
    resp(service).call("PUBLISH", key(), payload, expect=1)
    expect_reply(subscriber.read_reply(), _message(key(), payload), "message with a binary payload")


def test_messages_keep_publish_order_across_channels_and_publishers(service, resp, key, rng):
    channels = [key(f"ch{i}") for i in range(3)]
    everything, some = resp(service), resp(service)
    _subscribe(everything, *channels)
    _subscribe(some, channels[0], channels[2])
    publishers = [resp(service) for _ in range(3)]
    sent = []
    for index in range(90):  # one publish at a time: each is acknowledged before the next is sent
        channel = rng.choice(channels)
        payload = f"m{index}"
        receivers = 2 if channel != channels[1] else 1
        rng.choice(publishers).call("PUBLISH", channel, payload, expect=receivers)
        sent.append((channel, payload))
    for name, client, wanted in (
        ("all three", everything, channels),
        ("two", some, [channels[0], channels[2]]),
    ):
        expected = [_message(c, p) for c, p in sent if c in wanted]
        got = [client.read_reply() for _ in expected]
        expect_reply(got, expected, f"messages seen by the subscriber to {name} channels, in publish order")


def test_concurrent_publishers_each_keep_their_order(service, resp, key):
    subscriber = resp(service)
    channels = [key(f"p{i}") for i in range(4)]
    _subscribe(subscriber, *channels)
    publishers = [resp(service) for _ in channels]
    failures = []

    def publish(client, channel):
        try:
            for index in range(100):
                client.call("PUBLISH", channel, f"{index}", expect=1)
        except Exception as exc:  # reported from the main thread
            failures.append(exc)

    threads = [threading.Thread(target=publish, args=pair) for pair in zip(publishers, channels, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if failures:
        raise failures[0]
    received = {channel.encode(): [] for channel in channels}
    for index in range(400):
        message = subscriber.read_reply()
        assert isinstance(message, list) and len(message) == 3 and message[:1] == [b"message"], (
            f"message {index + 1} of 400: expected a message array, got {show_reply(message)}"
        )
        assert message[1] in received, (
            f"message {index + 1} of 400: unexpected channel in {show_reply(message)}"
        )
        received[message[1]].append(message[2])
    for channel in channels:
        got = received[channel.encode()]
        assert got == [str(i).encode() for i in range(100)], (
            f"messages from the publisher on {channel}: expected 0..99 in order, got "
            f"{len(got)} messages starting {show_reply(got[:5])}"
        )


def test_unsubscribe_replies_with_the_remaining_count(service, resp, key):
    client = resp(service)
    a, b, c = key("a"), key("b"), key("c")
    _subscribe(client, a, b, c)
    client.send("UNSUBSCRIBE", b)
    expect_reply(client.read_reply(), [b"unsubscribe", b.encode(), 2], f"reply to UNSUBSCRIBE {b}")
    client.send("UNSUBSCRIBE")
    first, second = client.read_reply(), client.read_reply()
    # From all channels "in any order": sort the two replies by channel before comparing.
    got = sorted(
        [first, second],
        key=lambda reply: show_reply(reply[1]) if isinstance(reply, list) and len(reply) > 1 else "",
    )
    wanted = sorted(
        [[b"unsubscribe", a.encode()], [b"unsubscribe", c.encode()]], key=lambda r: show_reply(r[1])
    )
    names = [r[:2] if isinstance(r, list) else r for r in got]
    counts = [r[2] if isinstance(r, list) and len(r) == 3 else None for r in (first, second)]
    assert names == wanted and counts == [1, 0], (
        f"replies to UNSUBSCRIBE with no channel: expected unsubscribe from {a} and {c} (any order) "
        f"with counts 1 then 0, got {show_reply(first)} and {show_reply(second)}"
    )
    client.call("PING", expect="PONG")  # back in normal mode
    client.call("UNSUBSCRIBE", expect=[b"unsubscribe", None, 0])
    client.call("GET", key("plain"), expect=None)


def test_unsubscribed_channel_delivers_nothing_more(service, resp, key):
    subscriber = resp(service)
    _subscribe(subscriber, key("stay"), key("leave"))
    subscriber.send("UNSUBSCRIBE", key("leave"))
    expect_reply(subscriber.read_reply(), [b"unsubscribe", key("leave").encode(), 1], "reply to UNSUBSCRIBE")
    publisher = resp(service)
    publisher.call("PUBLISH", key("leave"), "gone", expect=0)
    publisher.call("PUBLISH", key("stay"), "here", expect=1)
    expect_reply(subscriber.read_reply(), _message(key("stay"), "here"), "next message after unsubscribing")


def test_subscribing_twice_to_a_channel_counts_once(service, resp, key):
    subscriber = resp(service)
    subscriber.send("SUBSCRIBE", key(), key())
    expect_reply(subscriber.read_reply(), [b"subscribe", key().encode(), 1], "first confirmation")
    expect_reply(
        subscriber.read_reply(), [b"subscribe", key().encode(), 1], "second confirmation, same channel"
    )
    resp(service).call("PUBLISH", key(), "once", expect=1)
    expect_reply(subscriber.read_reply(), _message(key(), "once"), "the message")
    subscriber.expect_silence(0.2)


def test_subscribed_connection_only_runs_pubsub_commands(service, resp, key):
    client = resp(service)
    _subscribe(client, key())
    refusal = (
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context"
    )
    client.call("PING", expect=[b"pong", b""])
    client.call("PING", "hi", expect=[b"pong", b"hi"])
    client.call("GET", key(), expect=RespError(refusal.format("get")))
    client.call("set", key(), "v", expect=RespError(refusal.format("set")))
    client.call("GET", expect=RespError("ERR wrong number of arguments for 'get' command"))
    client.call(
        "NOTACOMMAND", expect=RespError("ERR unknown command 'NOTACOMMAND', with args beginning with: ")
    )
    resp(service).call("PUBLISH", key(), "still subscribed", expect=1)
    expect_reply(client.read_reply(), _message(key(), "still subscribed"), "message after the refusals")
    client.call("QUIT", expect="OK")
    client.expect_closed(timeout=2.0)
