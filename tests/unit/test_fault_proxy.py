"""The fault proxy without Kafka: a local echo server and hand-made Kafka request frames."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from loopback import serving

from conformance.faults.proxy import Fault, FaultProxy, ProxySet, covers, read_client_id

TIMEOUT = 10.0


def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def frame(client_id: str | None, body: bytes = b"", api_key: int = 18, version: int = 3,
          correlation_id: int = 1) -> bytes:
    """A Kafka request: int32 size, then header (api key, version, correlation id, client id)."""
    cid = b"" if client_id is None else client_id.encode()
    header = struct.pack(">hhih", api_key, version, correlation_id,
                         -1 if client_id is None else len(cid)) + cid
    return struct.pack(">i", len(header) + len(body)) + header + body


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    with serving(_EchoServer(("127.0.0.1", 0), _Echo)) as address:
        yield address


@pytest.fixture
def proxy(echo: tuple[str, int]) -> Iterator[FaultProxy]:
    p = FaultProxy(echo).start()
    yield p
    p.stop()


def connect(p: FaultProxy, client_id: str | None, body: bytes = b"hello") -> socket.socket:
    """A connection through ``p`` whose first request names ``client_id``; the echo of that
    request has been read back (so the proxy has identified it)."""
    sock = socket.create_connection(p.address, timeout=TIMEOUT)
    request = frame(client_id, body)
    sock.sendall(request)
    assert recv_exactly(sock, len(request)) == request
    return sock


def recv_exactly(sock: socket.socket, n: int, timeout: float = TIMEOUT) -> bytes:
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def closed(sock: socket.socket, timeout: float = TIMEOUT) -> bool:
    """True once the peer closes ``sock`` (EOF or reset) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def silent(sock: socket.socket, seconds: float) -> bool:
    """True if nothing (no byte, no close) arrives on ``sock`` for ``seconds``."""
    sock.settimeout(seconds)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    return False


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy-")]


# -- parsing -------------------------------------------------------------------------------------
def test_client_id_from_the_first_request_header():
    request = frame("g-m1", b"body")
    assert read_client_id(request) == "g-m1"
    for cut in range(len(request) - 4):  # the body is not needed, the whole header is
        assert read_client_id(request[:cut]) is None, cut
    assert read_client_id(frame(None)) == ""
    assert read_client_id(frame("")) == ""
    assert read_client_id(frame("ünï")) == "ünï"
    # a size too small for the header it claims, or a bad client id length: no request header
    assert read_client_id(struct.pack(">ihhih", 12, 18, 3, 1, 100) + b"x" * 100) == ""
    assert read_client_id(struct.pack(">ihhih", 50, 18, 3, 1, -7) + b"x" * 50) == ""


# -- forwarding ----------------------------------------------------------------------------------
def test_forwards_bytes_intact_and_names_the_client(proxy):
    payload = os.urandom(3 << 20)
    request = frame("g-m1", payload)
    sock = socket.create_connection(proxy.address, timeout=TIMEOUT)
    try:
        for b in request[:20]:  # the header arrives a byte at a time
            sock.sendall(bytes([b]))
        sender = threading.Thread(target=sock.sendall, args=(request[20:],), daemon=True)
        sender.start()
        assert recv_exactly(sock, len(request)) == request
        sender.join(TIMEOUT)
        assert proxy.connections() == {"g-m1": 1}
        other = connect(proxy, None)
        assert proxy.connections() == {"g-m1": 1, "": 1}
        other.close()
        wait_until(lambda: proxy.connections() == {"g-m1": 1}, "the closed connection to go")
    finally:
        sock.close()
    wait_until(lambda: proxy.connections() == {}, "every connection to go")


def test_half_close_passes_eof_after_the_data(proxy):
    sock = connect(proxy, "g-m1")
    sock.sendall(b"last words")
    sock.shutdown(socket.SHUT_WR)
    assert recv_exactly(sock, 10) == b"last words"
    assert closed(sock)
    sock.close()


def test_unreachable_target_closes_the_client_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with FaultProxy(("127.0.0.1", port)) as p:
        sock = socket.create_connection(p.address, timeout=TIMEOUT)
        sock.sendall(frame("g-m1"))
        assert closed(sock)
        sock.close()
        wait_until(lambda: p.connections() == {}, "no connections")


# -- faults --------------------------------------------------------------------------------------
def test_delay_holds_every_chunk_both_ways_in_order(proxy):
    sock = connect(proxy, "g-m1")
    fast = connect(proxy, "g-m2")
    delay_ms = 150
    proxy.fault("g-m1", "delay", delay_ms=delay_ms)
    assert proxy.active() == {"g-m1": Fault("delay", delay_ms)}
    chunks = [os.urandom(1000) + bytes([i]) for i in range(5)]
    start = time.monotonic()
    for chunk in chunks:
        sock.sendall(chunk)
    assert recv_exactly(sock, sum(map(len, chunks))) == b"".join(chunks)
    assert time.monotonic() - start >= 2 * delay_ms / 1000  # held on the way there and back
    # a new connection of that client is delayed too, from its first request on
    start = time.monotonic()
    late = connect(proxy, "g-m1-x")
    assert time.monotonic() - start >= 2 * delay_ms / 1000
    fast.sendall(b"ping")
    assert recv_exactly(fast, 4) == b"ping"
    proxy.heal("g-m1")
    assert proxy.active() == {}
    sock.sendall(b"after")
    assert recv_exactly(sock, 5) == b"after"
    for s in (sock, fast, late):
        s.close()


def test_drop_silences_both_ways_then_closes_on_heal(proxy):
    sock = connect(proxy, "g-m1")
    idle = connect(proxy, "g-m1")  # nothing moves on it during the fault: its stream stays whole
    other = connect(proxy, "g-m2")
    proxy.fault("g-m1", "drop")
    sock.sendall(b"into the void")
    assert silent(sock, 0.5)
    newer = socket.create_connection(proxy.address, timeout=TIMEOUT)
    newer.sendall(frame("g-m1", b"hi"))
    wait_until(lambda: proxy.connections().get("g-m1") == 3, "the new connection to be named")
    assert silent(newer, 0.2)
    other.sendall(b"ping")
    assert recv_exactly(other, 4) == b"ping"
    proxy.heal("g-m1")
    assert closed(sock) and closed(newer)
    idle.sendall(b"still here")
    assert recv_exactly(idle, 10) == b"still here"
    assert proxy.connections() == {"g-m1": 1, "g-m2": 1}
    for s in (sock, idle, other, newer):
        s.close()


def test_cut_closes_open_connections_and_refuses_new_ones_until_healed(proxy):
    a = connect(proxy, "g-m1")
    b = connect(proxy, "g-m1")
    other = connect(proxy, "g-m2")
    assert proxy.connections() == {"g-m1": 2, "g-m2": 1}
    proxy.fault("g-m1", "cut")
    assert proxy.connections() == {"g-m2": 1}  # applied when fault() returns
    assert closed(a) and closed(b)
    again = socket.create_connection(proxy.address, timeout=TIMEOUT)
    again.sendall(frame("g-m1"))
    assert closed(again)
    other.sendall(b"ping")
    assert recv_exactly(other, 4) == b"ping"
    proxy.heal()
    fresh = connect(proxy, "g-m1")
    assert proxy.connections() == {"g-m1": 1, "g-m2": 1}
    for s in (a, b, other, again, fresh):
        s.close()


def test_longest_prefix_wins_and_heal_removes_one_or_all(proxy):
    proxy.fault("g-", "cut")
    proxy.fault("g-m1", "delay", delay_ms=1)
    kept = connect(proxy, "g-m1")  # delayed, not cut
    refused = socket.create_connection(proxy.address, timeout=TIMEOUT)
    refused.sendall(frame("g-m2"))
    assert closed(refused)
    proxy.heal("g-m1")
    assert proxy.active() == {"g-": Fault("cut")}
    assert closed(kept)
    proxy.heal("nothing-here")
    proxy.heal()
    assert proxy.active() == {}
    connect(proxy, "g-m2").close()
    for s in (kept, refused):
        s.close()


def test_proxy_set_applies_faults_to_every_proxy(echo):
    with ProxySet([FaultProxy(echo), FaultProxy(echo)]) as proxies:
        assert len({p.port for p in proxies}) == 2
        socks = [connect(p, "g-m1") for p in proxies] + [connect(proxies.proxies[0], "g-m2")]
        assert proxies.connections() == {"g-m1": 2, "g-m2": 1}
        proxies.fault("g-m1", "cut")
        assert proxies.active() == {"g-m1": Fault("cut")}
        assert closed(socks[0]) and closed(socks[1])
        assert proxies.connections() == {"g-m2": 1}
        proxies.heal()
        assert all(p.active() == {} for p in proxies)
        for s in socks:
            s.close()
    assert not any(p.running for p in proxies)


# -- refusals and lifecycle ----------------------------------------------------------------------
@pytest.mark.parametrize("target,host", [
    (("10.0.0.1", 9092), "127.0.0.1"),
    (("example.com", 9092), "127.0.0.1"),
    (("127.0.0.1", 9092), "0.0.0.0"),
    (("127.0.0.1", 9092), "192.168.1.5"),
    (("127.0.0.1", 0), "127.0.0.1"),
])
def test_non_loopback_or_bad_addresses_are_refused(target, host):
    with pytest.raises(ValueError, match="fault proxy"):
        FaultProxy(target, host=host)


def test_bad_fault_kind_or_delay_is_refused(proxy):
    with pytest.raises(ValueError, match="unknown fault kind"):
        proxy.fault("g-m1", "slow")
    with pytest.raises(ValueError, match="delay_ms"):
        proxy.fault("g-m1", "delay", delay_ms=-1)
    assert proxy.active() == {}


def sockets_on(ports: set[int]) -> int:
    """This process's TCP sockets with a local or remote port in ``ports`` (other proxies,
    e.g. a proxied test broker in the same worker, are not counted)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                mine.add(link[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in list(f)[1:]:
                cols = line.split()
                local, remote, inode = cols[1], cols[2], cols[9]
                if inode in mine and {int(local.rsplit(":", 1)[1], 16),
                                      int(remote.rsplit(":", 1)[1], 16)} & ports:
                    count += 1
    return count


def test_hundreds_of_connections_then_stop_leaves_no_thread_or_socket(echo):
    p = FaultProxy(echo).start()

    def own_threads() -> list[threading.Thread]:
        return [t for t in proxy_threads() if t.name == f"fault-proxy-{p.port}"]

    def fds() -> int:
        return sockets_on({p.port, echo[1]})

    listeners = 2  # the proxy's and the echo server's
    assert p.running and len(own_threads()) == 1 and own_threads()[0].daemon
    socks = [connect(p, f"g-m{i % 7}", body=bytes([i % 256]) * 100) for i in range(300)]
    assert sum(p.connections().values()) == 300
    assert fds() >= 600 + listeners  # both legs of every connection, and the listeners
    p.stop()
    assert not p.running and own_threads() == []
    assert all(closed(s) for s in socks)
    for s in socks:
        s.close()
    # the echo server's handlers close their ends once they see the proxy's EOF
    wait_until(lambda: fds() <= listeners - 1, "every socket but the echo server's listener "
               "to close")
    p.stop()  # idempotent
    with pytest.raises(OSError):  # nothing listens any more
        socket.create_connection(p.address, timeout=2).close()


@pytest.mark.parametrize("prefix,client_id,hit", [
    ("g-m1", "g-m1", True), ("g-m1", "g-m1-0", True), ("g-m1", "g-m10", False),
    ("g-m1", "g-m11-x", False), ("g-", "g-m1", True), ("g-", "g-m10", True),
    ("", "anything", True), ("g-m2", "g-m1", False), ("g-m1", "g-m", False),
])
def test_a_fault_covers_its_member_and_not_one_whose_name_starts_alike(prefix, client_id, hit):
    assert covers(prefix, client_id) is hit


def test_member_m1s_fault_leaves_member_m10_alone(proxy):
    proxy.fault("g-m1", "cut")
    ten = connect(proxy, "g-m10")  # served: the fault is m1's
    one = socket.create_connection(proxy.address, timeout=TIMEOUT)
    one.sendall(frame("g-m1"))
    assert closed(one)
    assert proxy.connections().get("g-m10") == 1
    proxy.heal()
    for s in (ten, one):
        s.close()
