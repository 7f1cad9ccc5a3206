"""Faults for scenarios: process and network faults on a service, a TCP fault proxy with toxics,
resource-exhaustion clients, a RESP fuzzer, seeded fault schedules, and a durability verdict from a
syscall trace. See docs/faults.md."""

from harness.faults.base import Fault, FaultUnavailable, Recorder
from harness.faults.durability import Acknowledged, DurabilityVerdict, Violation, check_trace
from harness.faults.flood import FloodReport, Slowloris, SlowlorisReport, connection_flood
from harness.faults.fuzz import FuzzFailure, FuzzReport, probe, run_fuzz
from harness.faults.mutations import FuzzCase, generate_cases
from harness.faults.process import (
    CpuSqueeze,
    FaultableService,
    Freeze,
    KillRestart,
    Partition,
    SignalStop,
    SplitPartition,
)
from harness.faults.proxy import FaultProxy, ProxiedService, ToxicFault, proxied
from harness.faults.schedule import (
    FaultChoice,
    Schedule,
    ScheduledFault,
    ScheduleResult,
    ScheduleRun,
    ScheduleSpec,
    Timeline,
    TimelineEvent,
    build_schedule,
    run_schedule,
)
from harness.faults.syscall_trace import SyscallTrace
from harness.faults.toxics import Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Timeout, Toxic

__all__ = [
    "Acknowledged",
    "Bandwidth",
    "CpuSqueeze",
    "DurabilityVerdict",
    "Fault",
    "FaultChoice",
    "FaultProxy",
    "FaultUnavailable",
    "FaultableService",
    "FloodReport",
    "Freeze",
    "FuzzCase",
    "FuzzFailure",
    "FuzzReport",
    "KillRestart",
    "Latency",
    "LimitData",
    "Partition",
    "ProxiedService",
    "Recorder",
    "ResetPeer",
    "Schedule",
    "ScheduleResult",
    "ScheduleRun",
    "ScheduleSpec",
    "ScheduledFault",
    "SignalStop",
    "Slicer",
    "SlowClose",
    "Slowloris",
    "SlowlorisReport",
    "SplitPartition",
    "SyscallTrace",
    "Timeline",
    "TimelineEvent",
    "Timeout",
    "Toxic",
    "ToxicFault",
    "Violation",
    "build_schedule",
    "check_trace",
    "connection_flood",
    "generate_cases",
    "probe",
    "proxied",
    "run_fuzz",
    "run_schedule",
]
