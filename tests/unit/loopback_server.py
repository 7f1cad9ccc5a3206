"""An asyncio server on 127.0.0.1 in a thread of its own, for unit tests of the load generator: it gives
the generator a real socket to talk to while the test keeps its own thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Self


class LoopbackServer:
    """Subclasses say which protocol serves each connection (`protocol`); `port` is known on entry."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def protocol(self) -> asyncio.Protocol:
        raise NotImplementedError

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        factory: Callable[[], asyncio.Protocol] = self.protocol
        server = self._loop.run_until_complete(self._loop.create_server(factory, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
