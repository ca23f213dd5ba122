"""A loopback TCP proxy that delays, black-holes or cuts one Kafka client's connections.

A :class:`FaultProxy` listens on 127.0.0.1 and forwards every accepted connection to one target
on loopback (a broker listener), byte for byte. It names the client of a connection from the
first Kafka request on it (the ``client_id`` of the request header), so a fault keyed by a
client.id prefix picks one consumer's connections. One selector thread serves every connection
of a proxy; :class:`ProxySet` is one proxy per broker listener with the same fault API.

Faults (``fault(prefix, kind, delay_ms=...)``, the longest matching prefix wins):

    delay   every chunk, in both directions, is held ``delay_ms`` before it is sent (order kept)
    drop    black hole: bytes in both directions are read and discarded; a connection that lost
            bytes is closed when the fault is healed (its stream is broken)
    cut     the client's connections are closed at once; new ones are closed as soon as their
            first request names that client

Protocol faults (``protocol_fault(prefix, api, kind, ...)``, see :mod:`conformance.faults.protocol`)
touch one Kafka API of a client for its next N requests: answer them with an error, lose their
responses, or delay them. Every connection is read as Kafka frames (headers only, unless a fault
needs the whole request) so that responses stay in request order.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import selectors
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from conformance.faults.protocol import ArmedFault, Exchange, ProtocolFault, Touch, api_key

log = logging.getLogger(__name__)

KINDS = ("delay", "drop", "cut")

_CHUNK = 65536
#: Bytes queued towards one side (held or ready) before reading from the other side pauses.
_HIGH_WATER = 1 << 20
#: How long ``fault``/``heal`` wait for the proxy thread to apply a change.
_APPLY_TIMEOUT = 10.0
_CONNECTING = {errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN, errno.EWOULDBLOCK}
_HEADER = struct.Struct(">ihhih")  # size, api_key, api_version, correlation_id, client_id len


class Fault(NamedTuple):
    """One active fault: its kind (see :data:`KINDS`) and, for "delay", the delay."""

    kind: str
    delay_ms: int = 0


def loopback_host(host: str, what: str) -> str:
    """``host`` if it is a loopback IP address ("localhost" means 127.0.0.1); else ValueError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the fault proxy's {what} must be a loopback IP address such as "
                         f"127.0.0.1, not {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"the fault proxy's {what} {host} is not a loopback address; it only "
                         f"works on loopback (127.0.0.1)")
    return host


def read_client_id(head: bytes | bytearray) -> str | None:
    """The client id of the first Kafka request at the start of ``head``; None while more
    bytes are needed; "" for a null client id or bytes that are no request header."""
    if len(head) < _HEADER.size:
        return None
    size, _api, _version, _corr, length = _HEADER.unpack_from(head)
    if length == -1:
        return ""
    if size < _HEADER.size - 4 or length < -1 or _HEADER.size - 4 + length > size:
        return ""
    if len(head) < _HEADER.size + length:
        return None
    return bytes(head[_HEADER.size:_HEADER.size + length]).decode("utf-8", errors="replace")


class _Pipe:
    """Bytes on their way in one direction: held (delayed, with release times) then ready."""

    __slots__ = ("eof", "held", "held_bytes", "ready", "shut")

    def __init__(self) -> None:
        self.held: deque[tuple[float, bytes]] = deque()
        self.held_bytes = 0
        self.ready = bytearray()
        self.eof = False  # the source side sent EOF
        self.shut = False  # EOF passed on to the destination side

    def queued(self) -> int:
        return self.held_bytes + len(self.ready)

    def release(self, now: float) -> bool:
        moved = False
        while self.held and self.held[0][0] <= now:
            _, data = self.held.popleft()
            self.held_bytes -= len(data)
            self.ready += data
            moved = True
        return moved


class _Conn:
    """One proxied connection: the accepted client socket and its upstream socket."""

    __slots__ = ("broken", "client", "client_id", "closed", "closing", "connected", "down",
                 "exchange", "fault", "head", "masks", "up", "upstream")

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.client_id: str | None = None
        self.head = bytearray()
        self.up = _Pipe()  # client -> upstream
        self.down = _Pipe()  # upstream -> client
        self.connected = False
        self.broken = False  # bytes were dropped: the stream can never be whole again
        self.closed = False
        self.fault: Fault | None = None
        self.exchange: Exchange | None = None  # the Kafka frames on it, once identified
        self.closing = False  # a response was lost: close once the client has the rest
        self.masks = {client: 0, upstream: 0}


_CLIENT, _UPSTREAM = "client", "upstream"


def covers(prefix: str, client_id: str) -> bool:
    """Whether a fault on ``prefix`` applies to ``client_id``: the id is the prefix, or goes on
    past it at a word boundary (``g-`` covers ``g-m1``, ``g-m1`` covers ``g-m1`` and
    ``g-m1-0``, never ``g-m10``: member m1's fault must not reach member m10)."""
    if not client_id.startswith(prefix):
        return False
    rest = client_id[len(prefix):]
    return not rest or not prefix or not prefix[-1].isalnum() or not rest[0].isalnum()


class FaultProxy:
    """Forwards connections accepted on ``host``:``port`` (0: a free port) to ``target`` on
    loopback, applying the faults keyed by client.id prefix. ``start()`` binds and starts the
    proxy thread (a daemon); ``stop()`` closes every socket and joins it. Thread-safe.
    ``protocol=False`` forwards bytes without reading Kafka frames (no protocol faults)."""

    def __init__(self, target: tuple[str, int], *, host: str = "127.0.0.1",
                 port: int = 0, protocol: bool = True) -> None:
        target_host, target_port = target
        self.target = (loopback_host(target_host, "target"), int(target_port))
        if not 0 < self.target[1] < 65536:
            raise ValueError(f"the fault proxy's target port must be 1..65535, not {target_port}")
        self.host = loopback_host(host, "listen address")
        if not 0 <= port < 65536:
            raise ValueError(f"the fault proxy's port must be 0..65535, not {port}")
        self._port = port
        self._family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._target_family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._faults: dict[str, Fault] = {}
        self.protocol = protocol
        #: (client.id prefix, api key) -> armed protocol fault; replaced, never changed in place,
        #: so the proxy thread reads it without the lock
        self._armed: dict[tuple[str, int], ArmedFault] = {}
        self._version = 0  # bumped by every fault change
        self._applied = 0  # the version the proxy thread has applied
        self._conns: set[_Conn] = set()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._timed: set[_Conn] = set()  # connections with held (delayed) bytes
        self._dirty: set[_Conn] = set()  # connections whose selector masks may be stale

    # -- public API --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port the proxy listens on (the chosen one once started)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FaultProxy:
        """Bind, listen and start the proxy thread; idempotent. OSError if the port is taken."""
        if self._thread is not None:
            return self
        listener = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self._port))
            listener.listen(512)
            listener.setblocking(False)
        except OSError as exc:
            listener.close()
            raise OSError(exc.errno, f"fault proxy cannot listen on {self.host}:{self._port}: "
                                     f"{exc.strerror}") from None
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"fault-proxy-{self._port}")
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection and join the proxy thread; idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake()
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("fault proxy thread %s did not stop within %.0f s", thread.name,
                            timeout)
                return
        self._thread = None
        self._timed.clear()
        self._dirty.clear()

    def fault(self, client_prefix: str, kind: str, *, delay_ms: int = 0) -> None:
        """Apply ``kind`` ("delay", "drop" or "cut") to every connection, open or new, whose
        client id starts with ``client_prefix`` (replacing a fault on that same prefix).
        Returns once the proxy thread has applied it (cut connections are closed)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {', '.join(KINDS)}")
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, not {delay_ms}")
        self._change(lambda faults: faults.__setitem__(client_prefix,
                                                       Fault(kind, int(delay_ms))))

    def heal(self, client_prefix: str | None = None) -> None:
        """Remove the fault on ``client_prefix`` (every fault if None). Connections that lost
        bytes to a black hole are closed. Returns once the proxy thread has applied it."""
        if client_prefix is None:
            self._change(lambda faults: faults.clear())
        else:
            self._change(lambda faults: faults.pop(client_prefix, None))

    def protocol_fault(self, client_prefix: str, api: str, kind: str, *,
                       error: str | None = None, count: int | None = 1, delay_ms: int = 0,
                       listener: Callable[[Touch], object] | None = None) -> ArmedFault:
        """Touch the next ``count`` (None: all, until healed) ``api`` requests of clients whose
        id starts with ``client_prefix``: ``kind`` "error" (answer with ``error``, e.g.
        "REBALANCE_IN_PROGRESS"), "lose-response" or "delay-response" (``delay_ms``). Replaces
        a protocol fault on the same prefix and api. The returned handle tells what was touched
        (and refused, with the reason); ``listener`` is called with each :class:`Touch`."""
        fault = ProtocolFault(api, kind, error, count, delay_ms)
        return self.arm(ArmedFault(client_prefix, fault, listener))

    def arm(self, armed: ArmedFault) -> ArmedFault:
        """Put ``armed`` in force (a :class:`ProxySet` shares one among its proxies)."""
        if not self.protocol:
            raise ValueError("this fault proxy does not read Kafka frames (protocol=False)")
        with self._lock:
            self._armed = {**self._armed, (armed.prefix, armed.fault.api_key): armed}
        return armed

    def heal_protocol(self, client_prefix: str | None = None,
                      api: str | None = None) -> list[ArmedFault]:
        """Remove the protocol faults on ``client_prefix`` (every prefix if None) and ``api``
        (every api if None); returns them. Responses already held keep their delay."""
        key = None if api is None else api_key(api)
        with self._lock:
            gone = [a for (prefix, k), a in self._armed.items()
                    if client_prefix in (None, prefix) and key in (None, k)]
            self._armed = {pk: a for pk, a in self._armed.items() if a not in gone}
        for armed in gone:
            armed.healed = True
        return gone

    def protocol_faults(self) -> list[ArmedFault]:
        """The protocol faults in force (spent ones included until healed)."""
        with self._lock:
            return list(self._armed.values())

    def active(self) -> dict[str, Fault]:
        """The faults in force: client.id prefix -> Fault."""
        with self._lock:
            return dict(self._faults)

    def connections(self) -> dict[str, int]:
        """Open connections per client id (those whose first request has arrived)."""
        with self._lock:
            return dict(Counter(c.client_id for c in self._conns
                                if c.client_id is not None and not c.closed))

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"FaultProxy({self.host}:{self._port} -> {self.target[0]}:{self.target[1]}, "
                f"faults={self.active()})")

    # -- fault bookkeeping -------------------------------------------------------------------
    def _change(self, edit: Callable[[dict[str, Fault]], object]) -> None:
        with self._cond:
            edit(self._faults)
            self._version += 1
            version = self._version
        if not self.running or threading.current_thread() is self._thread:
            return
        self._wake()
        with self._cond:
            if not self._cond.wait_for(lambda: self._applied >= version or not self.running,
                                       _APPLY_TIMEOUT):
                log.warning("fault proxy %s did not apply a fault change within %.0f s",
                            self._port, _APPLY_TIMEOUT)

    def _match(self, client_id: str) -> Fault | None:
        best = None
        for prefix in self._faults:
            if covers(prefix, client_id) and (best is None or len(prefix) > len(best)):
                best = prefix
        return None if best is None else self._faults[best]

    def _armed_for(self, client_id: str, key: int) -> ArmedFault | None:
        """The live protocol fault on ``key`` with the longest prefix of ``client_id``."""
        armed = self._armed
        if not armed:
            return None
        best: ArmedFault | None = None
        for (prefix, k), a in armed.items():
            if k == key and covers(prefix, client_id) and not a.spent \
                    and (best is None or len(prefix) > len(best.prefix)):
                best = a
        return best

    def _wake(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            self._wake_w.send(b"x")  # type: ignore[union-attr]

    # -- the proxy thread --------------------------------------------------------------------
    def _run(self) -> None:
        sel = self._sel
        assert sel is not None
        try:
            while not self._stopping:
                due = min((p.held[0][0] for c in self._timed for p in (c.up, c.down)
                           if p.held), default=None)
                timeout = None if due is None else max(0.0, due - time.monotonic())
                for key, mask in sel.select(timeout):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            while self._wake_r.recv(4096):  # type: ignore[union-attr]
                                pass
                    else:
                        conn, side = key.data
                        if mask & selectors.EVENT_WRITE and not conn.closed:
                            self._on_writable(conn, side)
                        if mask & selectors.EVENT_READ and not conn.closed:
                            self._on_readable(conn, side)
                self._apply_faults()
                self._release()
                self._update_masks()
        except Exception:
            log.exception("fault proxy %s:%s failed; closing its connections", self.host,
                          self._port)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._conns):
            self._close(conn)
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        if self._sel is not None:
            self._sel.close()
        with self._cond:
            self._applied = self._version
            self._cond.notify_all()

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again on the next event
                log.warning("fault proxy %s: accept failed: %s", self._port, exc)
                return
            client.setblocking(False)
            upstream = socket.socket(self._target_family, socket.SOCK_STREAM)
            upstream.setblocking(False)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            with self._lock:
                self._conns.add(conn)
            err = upstream.connect_ex(self.target)
            if err == 0:
                conn.connected = True
            elif err not in _CONNECTING:
                self._close(conn)
                continue
            self._dirty.add(conn)

    def _on_writable(self, conn: _Conn, side: str) -> None:
        if side == _UPSTREAM and not conn.connected:
            if conn.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._close(conn)  # the target refused: the client sees its connection close
                return
            conn.connected = True
        pipe, sock = (conn.up, conn.upstream) if side == _UPSTREAM else (conn.down, conn.client)
        if pipe.ready:
            try:
                sent = sock.send(pipe.ready)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            del pipe.ready[:sent]
        if conn.closing:
            self._finish(conn)
        else:
            self._pass_eof(conn)
        self._dirty.add(conn)

    def _on_readable(self, conn: _Conn, side: str) -> None:
        sock, pipe = (conn.client, conn.up) if side == _CLIENT else (conn.upstream, conn.down)
        try:
            data = sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        self._dirty.add(conn)
        if not data:
            if side == _CLIENT and conn.client_id is None:
                self._close(conn)  # gone before its first request
                return
            pipe.eof = True
            if conn.fault is not None and conn.fault.kind == "drop":
                conn.broken = True  # even the EOF falls into the black hole
            else:
                self._pass_eof(conn)
            return
        if side == _CLIENT and conn.client_id is None:
            conn.head += data
            client_id = read_client_id(conn.head)
            if client_id is not None:
                self._identify(conn, client_id)
            return
        self._carry(conn, side, data)

    def _identify(self, conn: _Conn, client_id: str) -> None:
        with self._lock:
            conn.fault = self._match(client_id)
            cut = conn.fault is not None and conn.fault.kind == "cut"
            if not cut:  # a cut connection never shows in connections()
                conn.client_id = client_id
        if cut:
            self._close(conn)
            return
        if self.protocol:
            conn.exchange = Exchange(client_id, lambda key: self._armed_for(client_id, key))
        head, conn.head = bytes(conn.head), bytearray()
        self._carry(conn, _CLIENT, head)

    def _carry(self, conn: _Conn, side: str, data: bytes) -> None:
        """Pass ``data`` read from ``side`` through the connection's Kafka frames (if read)."""
        exchange = conn.exchange
        if exchange is None:
            self._forward(conn, conn.up if side == _CLIENT else conn.down, data)
            return
        try:
            if side == _CLIENT:
                up, down = exchange.from_client(data)
                answers = [(chunk, 0) for chunk in down]
            else:
                up, answers = [], exchange.from_broker(data)
        except Exception:  # a bug here must not take every other connection down
            log.exception("fault proxy %s: reading Kafka frames of %r failed; closing the "
                          "connection", self._port, conn.client_id)
            self._close(conn)
            return
        for chunk in up:
            self._forward(conn, conn.up, chunk)
        for chunk, delay_ms in answers:
            self._forward(conn, conn.down, chunk, delay_ms)
        if exchange.closing and not conn.closing:
            conn.closing = True
            self._finish(conn)

    def _finish(self, conn: _Conn) -> None:
        """Close a connection that lost a response once the client has everything before it."""
        if conn.closing and not conn.down.queued():
            self._close(conn)

    def _forward(self, conn: _Conn, pipe: _Pipe, data: bytes, delay_ms: int = 0) -> None:
        fault = conn.fault
        if fault is not None and fault.kind == "drop":
            conn.broken = True
            return
        if fault is not None and fault.kind == "delay":
            delay_ms = max(delay_ms, fault.delay_ms)
        if delay_ms > 0:
            pipe.held.append((time.monotonic() + delay_ms / 1000.0, data))
        elif pipe.held:  # a healed delay: keep the order
            pipe.held.append((time.monotonic(), data))
        else:
            pipe.ready += data
            return
        pipe.held_bytes += len(data)
        self._timed.add(conn)

    def _pass_eof(self, conn: _Conn) -> None:
        """Half-close: pass an EOF on once everything before it has been sent; close the
        connection when both directions are done."""
        for pipe, dest in ((conn.up, conn.upstream), (conn.down, conn.client)):
            if pipe.eof and not pipe.shut and not pipe.queued() \
                    and (dest is conn.client or conn.connected):
                pipe.shut = True
                with contextlib.suppress(OSError):
                    dest.shutdown(socket.SHUT_WR)
        if conn.up.shut and conn.down.shut:
            self._close(conn)

    def _apply_faults(self) -> None:
        with self._lock:
            if self._applied == self._version:
                return
            version = self._version
            changed = []
            for conn in self._conns:
                if conn.client_id is not None and not conn.closed:
                    conn.fault = self._match(conn.client_id)
                    changed.append(conn)
        for conn in changed:
            kind = conn.fault.kind if conn.fault is not None else None
            if kind == "cut" or (conn.broken and kind != "drop"):
                self._close(conn)
            else:
                self._dirty.add(conn)
        with self._cond:
            self._applied = version
            self._cond.notify_all()

    def _release(self) -> None:
        if not self._timed:
            return
        now = time.monotonic()
        for conn in list(self._timed):
            moved = conn.up.release(now) | conn.down.release(now)
            if moved:
                self._dirty.add(conn)
            if not conn.up.held and not conn.down.held:
                self._timed.discard(conn)

    def _update_masks(self) -> None:
        sel = self._sel
        assert sel is not None
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            if conn.closed:
                continue
            dropping = conn.fault is not None and conn.fault.kind == "drop"
            read_client = not conn.up.eof and not conn.closing and (
                conn.client_id is None or dropping or conn.up.queued() < _HIGH_WATER)
            read_upstream = conn.connected and not conn.down.eof and not conn.closing and (
                dropping or conn.down.queued() < _HIGH_WATER)
            wanted = {
                conn.client: (selectors.EVENT_READ if read_client else 0)
                | (selectors.EVENT_WRITE if conn.down.ready else 0),
                conn.upstream: (selectors.EVENT_READ if read_upstream else 0)
                | (selectors.EVENT_WRITE if conn.up.ready or not conn.connected else 0),
            }
            for sock, mask in wanted.items():
                old = conn.masks[sock]
                if mask == old:
                    continue
                side = _CLIENT if sock is conn.client else _UPSTREAM
                if old == 0:
                    sel.register(sock, mask, (conn, side))
                elif mask == 0:
                    sel.unregister(sock)
                else:
                    sel.modify(sock, mask, (conn, side))
                conn.masks[sock] = mask

    def _close(self, conn: _Conn) -> None:
        if conn.closed:
            return
        with self._lock:
            conn.closed = True
            self._conns.discard(conn)
        self._timed.discard(conn)
        for sock, mask in conn.masks.items():
            if mask and self._sel is not None:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._sel.unregister(sock)
            sock.close()


class ProxySet:
    """One :class:`FaultProxy` per broker listener; ``fault``/``heal`` apply to all of them, so
    a fault reaches a member's connections to every broker."""

    def __init__(self, proxies: Iterable[FaultProxy] = ()) -> None:
        self.proxies: list[FaultProxy] = list(proxies)

    def add(self, target: tuple[str, int], *, host: str = "127.0.0.1",
            port: int = 0, protocol: bool = True) -> FaultProxy:
        """A new (unstarted) proxy to ``target``, part of this set."""
        proxy = FaultProxy(target, host=host, port=port, protocol=protocol)
        self.proxies.append(proxy)
        return proxy

    def start(self) -> ProxySet:
        """Start every proxy (on failure, stop those started and re-raise)."""
        try:
            for proxy in self.proxies:
                proxy.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()

    def fault(self, client_prefix: str, kind: str, *, delay_ms: int = 0) -> None:
        """:meth:`FaultProxy.fault` on every proxy."""
        for proxy in self.proxies:
            proxy.fault(client_prefix, kind, delay_ms=delay_ms)

    def heal(self, client_prefix: str | None = None) -> None:
        """:meth:`FaultProxy.heal` on every proxy."""
        for proxy in self.proxies:
            proxy.heal(client_prefix)

    def protocol_fault(self, client_prefix: str, api: str, kind: str, *,
                       error: str | None = None, count: int | None = 1, delay_ms: int = 0,
                       listener: Callable[[Touch], object] | None = None) -> ArmedFault:
        """:meth:`FaultProxy.protocol_fault` on every proxy, with one shared count: the next
        ``count`` matching requests of the client, whichever broker they go to."""
        armed = ArmedFault(client_prefix, ProtocolFault(api, kind, error, count, delay_ms),
                           listener)
        for proxy in self.proxies:
            proxy.arm(armed)
        return armed

    def heal_protocol(self, client_prefix: str | None = None,
                      api: str | None = None) -> list[ArmedFault]:
        """:meth:`FaultProxy.heal_protocol` on every proxy; returns the faults removed."""
        gone: dict[int, ArmedFault] = {}
        for proxy in self.proxies:
            gone.update((id(a), a) for a in proxy.heal_protocol(client_prefix, api))
        return list(gone.values())

    def protocol_faults(self) -> list[ArmedFault]:
        """The protocol faults in force (the same on every proxy)."""
        return self.proxies[0].protocol_faults() if self.proxies else []

    def active(self) -> dict[str, Fault]:
        """The faults in force (the same on every proxy)."""
        return self.proxies[0].active() if self.proxies else {}

    def connections(self) -> dict[str, int]:
        """Open connections per client id, summed over every proxy."""
        total: Counter[str] = Counter()
        for proxy in self.proxies:
            total.update(proxy.connections())
        return dict(total)

    def __iter__(self) -> Iterator[FaultProxy]:
        return iter(self.proxies)

    def __len__(self) -> int:
        return len(self.proxies)

    def __enter__(self) -> ProxySet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
