"""The event loop a service runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop runs the same coroutines with a loop written in C (libuv): scheduling a callback, a
future's completion and socket I/O cost a fraction of asyncio's pure-Python loop, which is most
of what a gRPC call does besides its own work. `CASEDESK_EVENT_LOOP=asyncio` is the fallback
(and what a process gets, with a warning, when uvloop is not installed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from casedesk_runtime.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
EventLoop = Literal["uvloop", "asyncio"]


def run_on(loop: EventLoop, main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the event loop `loop` names."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: running on asyncio's event loop")
        else:
            return uvloop.run(main)
    return asyncio.run(main)
