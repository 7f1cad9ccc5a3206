"""A load generator for the services the harness grades: open loop (constant arrival rate, latency
corrected for coordinated omission) or closed loop (N connections, optional pipelining), across several
processes each with its own HdrHistogram, speaking any protocol through a pluggable codec (built in:
``resp-set-get``, and ``jsonl-orders`` for the matching-engine exercise).

    from harness.load import LoadSpec, run_load
    result = run_load("127.0.0.1", 6379, LoadSpec(mode="open", rate=20_000, duration_s=10))
    result.latency.p99_us, result.valid, result.invalid_reasons

A result with ``valid == False`` measured the generator rather than the service (a saturated generator
process, or too many sends it was too late to make) and must not be used to grade performance.
"""

from harness.load.codec import Codec, ConnectionRequests, ReplyParser, RequestEncoder, SessionEncoder
from harness.load.errors import LoadConnectError, LoadGeneratorError
from harness.load.jsonl_orders import JsonLinesReplyCounter, OrderSessions
from harness.load.model import (
    LatencySummary,
    LoadResult,
    LoadSpec,
    Mode,
    ProcessReport,
    SecondSample,
    WorkloadSpec,
)
from harness.load.pacing import Due, Pacer
from harness.load.registry import codec_names, get_codec, register_codec
from harness.load.resp import RespReplyCounter, RespSetGetEncoder, resp_command
from harness.load.runner import run_load

__all__ = [
    "Codec",
    "ConnectionRequests",
    "Due",
    "JsonLinesReplyCounter",
    "LatencySummary",
    "LoadConnectError",
    "LoadGeneratorError",
    "LoadResult",
    "LoadSpec",
    "Mode",
    "OrderSessions",
    "Pacer",
    "ProcessReport",
    "ReplyParser",
    "RequestEncoder",
    "RespReplyCounter",
    "RespSetGetEncoder",
    "SecondSample",
    "SessionEncoder",
    "WorkloadSpec",
    "codec_names",
    "get_codec",
    "register_codec",
    "resp_command",
    "run_load",
]
