"""Client calls that do not return: how long each may take, and the worker's watch over them.

A consumer API promises that every call returns: ``poll(timeout)`` within its timeout (plus
what the rebalance listener it runs takes), the blocking calls within the client's API timeout
(``default.api.timeout.ms``, 60 s), ``close()`` within its close timeout (30 s in the Java
client). A worker watches every call it makes into the client; one still outstanding past its
:func:`bound` is reported once as a ``call_outstanding`` event (``call``, ``id``, ``since``:
the monotonic time it began, ``seconds`` outstanding, ``bound``), and, should it return after
all, by a ``call_returned`` event (``call``, ``id``, ``seconds``). The harness waits longer than
the bound for a command's reply (:func:`reply_timeout`), so the evidence is there when it gives
up; ``checkers.calls`` judges it (``call-never-returned``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: seconds a blocking client call may take: the clients' API timeout (default.api.timeout.ms)
API_TIMEOUT = 60.0
#: seconds close() may take (the Java client's default close timeout)
CLOSE_TIMEOUT = 30.0
#: slack beyond a documented bound before a call counts as never returning
MARGIN = 5.0
#: the harness waits this much longer than a call's bound for the worker's reply
REPLY_SLACK = 10.0
#: the worker commands whose client call has a bound of its own (others: API_TIMEOUT)
CLOSE_CALLS = ("close",)


def bound(call: str, timeout: float | None = None) -> float:
    """Seconds a client call may be outstanding before it counts as never returning: a poll's
    timeout plus a blocking call's (its listener may commit), ``close`` its close timeout, any
    other call the API timeout; each plus :data:`MARGIN`."""
    if call == "poll":
        return (timeout or 0.0) + API_TIMEOUT + MARGIN
    if call in CLOSE_CALLS:
        return CLOSE_TIMEOUT + MARGIN
    return API_TIMEOUT + MARGIN


def reply_timeout(command: dict[str, Any]) -> float:
    """How long the harness waits for the reply to a worker command: longer than the bound of
    the client call it makes, so that a call that never returns is reported first."""
    kind = str(command.get("type", ""))
    timeout = command.get("timeout")
    return bound(kind, float(timeout) if isinstance(timeout, int | float) else None) \
        + REPLY_SLACK


class CallWatch:
    """Tracks a worker's outstanding client calls; a daemon thread reports each one that
    outlives its bound through ``emit`` (the worker's event writer), once."""

    def __init__(self, emit: Callable[..., None], tick: float = 0.5) -> None:
        self.emit = emit
        self.tick = tick
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        #: id -> (call, started, bound, reported)
        self._open: dict[int, list[Any]] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def call(self, name: str, timeout: float | None = None,
             limit: float | None = None) -> Iterator[None]:
        """Watch one client call (``limit`` overrides its :func:`bound`)."""
        self._start()
        call_id = next(self._ids)
        started = time.monotonic()
        with self._lock:
            self._open[call_id] = [name, started, limit or bound(name, timeout), False]
        try:
            yield
        finally:
            with self._lock:
                _name, _started, _bound, reported = self._open.pop(call_id)
            if reported:
                self.emit("call_returned", call=name, id=call_id,
                          seconds=round(time.monotonic() - started, 3))

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="call-watch", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            due = []
            with self._lock:
                for call_id, entry in self._open.items():
                    name, started, limit, reported = entry
                    if not reported and now - started > limit:
                        entry[3] = True
                        due.append((call_id, name, started, limit))
            for call_id, name, started, limit in due:
                self.emit("call_outstanding", call=name, id=call_id, since=started,
                          seconds=round(now - started, 3), bound=limit)


class Watched:
    """An adapter whose every method call is watched by a :class:`CallWatch` (``poll`` with
    its timeout)."""

    def __init__(self, adapter: Any, watch: CallWatch) -> None:
        self.wrapped = adapter
        self._watch = watch

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.wrapped, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def watched(*args: Any, **kwargs: Any) -> Any:
            timeout = kwargs.get("timeout", args[0] if name == "poll" and args else None)
            with self._watch.call(name, timeout if isinstance(timeout, int | float) else None):
                return attr(*args, **kwargs)

        return watched
