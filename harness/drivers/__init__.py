"""Protocol clients scenarios use to drive a service under test, each recording a readable transcript."""

from harness.drivers.resp import *  # noqa: F403 - the package re-exports the RESP client's public names
from harness.drivers.resp import __all__ as __all__
