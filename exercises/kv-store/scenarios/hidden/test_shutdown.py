"""SIGTERM: the server stops on its own within 5 s with exit status 0, even with clients connected
(idle, subscribed, or halfway through a request), and what it acknowledged is there on the next start."""

import pytest

from harness.drivers.resp import encode_command

pytestmark = [pytest.mark.criterion("graceful-shutdown"), pytest.mark.timeout(90)]


def _stop_gracefully(service):
    outcome = service.stop(5)
    assert not outcome.forced, (
        f"SIGTERM: expected the server to exit within 5 s, it had to be killed after {outcome.seconds:.1f} s"
    )
    assert outcome.exit_code == 0, (
        f"SIGTERM: expected exit status 0, got {outcome.exit_code} after {outcome.seconds:.1f} s"
    )


def test_sigterm_exits_with_status_0_within_5_seconds(fresh_service, resp, key):
    client = resp(fresh_service)
    client.pipeline([("SET", key(str(i)), i) for i in range(100)], expect=["OK"] * 100)
    client.close()
    _stop_gracefully(fresh_service)
    fresh_service.start()
    after = resp(fresh_service)
    for i in (0, 50, 99):
        after.call("GET", key(str(i)), expect=str(i).encode())


def test_sigterm_with_idle_busy_and_subscribed_clients_connected(fresh_service, resp, key):
    idle = resp(fresh_service)
    idle.call("GET", key("nothing"), expect=None)
    subscriber = resp(fresh_service)
    subscriber.send("SUBSCRIBE", key("channel"))
    subscriber.read_reply()
    halfway = resp(fresh_service)
    halfway.send_raw(encode_command("SET", key("half"), "v")[:12])
    writer = resp(fresh_service)
    writer.call("SET", key("done"), "v", expect="OK")
    _stop_gracefully(fresh_service)
