"""Kafka-protocol faults for the fault proxy: one API of one client, for the next N requests.

The fault proxy (:mod:`conformance.faults.proxy`) forwards bytes; this module reads them as Kafka
frames (a 4-byte size, then a request or response) so that one API's requests or responses can be
touched. Message bodies are decoded and encoded with `kio <https://pypi.org/project/kio/>`_,
generated from Kafka's own JSON schemas; only framing and the fixed start of a request header
(api key, api version, correlation id) are read by hand.

Fault kinds (:data:`KINDS`):

    error           the matching request is not forwarded; the client gets a well-formed response
                    with the error code, in every partition (or group, or coordinator) entry and in
                    the top-level error code where the response has one (a partition-level error,
                    see :data:`PARTITION_ERRORS`, leaves the top level at NONE when the response
                    has partition entries, as a broker does)
    lose-response   the request is forwarded (the broker applies it); its response is dropped and
                    the connection closed once every earlier response has been sent
    delay-response  the response is held ``delay_ms`` before it is sent (and, to keep the order,
                    whatever follows it on the connection)

Order: clients pipeline requests and expect their responses in request order, so
:class:`Exchange` keeps, per connection, the requests still waiting for an answer; an injected
response is sent only after the broker's answers to every earlier request on the connection.

A request whose version kio cannot decode (or whose response it cannot encode) is forwarded
untouched and the refusal recorded with its reason (:attr:`ArmedFault.refusals`, a log warning and
the fault's listener); it is never a silent no-op.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import struct
import threading
import time
import types
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, get_args, get_origin

from conformance.cache import cache_root

# kio registers Hypothesis strategies for its types when it is imported beside Hypothesis, and
# that writes Hypothesis's character tables into ``.hypothesis`` in the working directory: a
# run must write only under its --out, so Hypothesis's storage goes to the cache folder (unless
# the user chose one). Read by Hypothesis at its first storage access.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_root() / "hypothesis"))

from kio.index import UnknownAPIKey, UnknownEntity, load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.schema.index import api_key_map
from kio.serial import entity_reader, entity_writer

log = logging.getLogger(__name__)

KINDS = ("error", "lose-response", "delay-response")

_SIZE = struct.Struct(">i")
_REQUEST_START = struct.Struct(">hhi")  # api_key, api_version, correlation_id
#: Request frames longer than this (bytes after the size) mean the stream is not Kafka.
MAX_FRAME = 1 << 30


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


#: API name ("OffsetCommit") -> api key, for every API kio knows.
API_KEYS: dict[str, int] = {_camel(name): key for key, name in api_key_map.items()}
_API_NAMES = {key: name for name, key in API_KEYS.items()}

#: Errors that a broker reports per partition, leaving the top-level code at NONE.
PARTITION_ERRORS = frozenset(ErrorCode[name] for name in (
    "offset_out_of_range", "unknown_topic_or_partition", "leader_not_available",
    "not_leader_or_follower", "replica_not_available", "fenced_leader_epoch",
    "unknown_leader_epoch", "offset_not_available", "kafka_storage_error", "unknown_topic_id",
    "offset_metadata_too_large", "invalid_commit_offset_size", "corrupt_message"))


class Unsupported(Exception):
    """kio cannot decode this request or encode its response (the reason is the message)."""


def api_key(api: str | int) -> int:
    """The api key of ``api``: a name ("OffsetCommit" or "offset_commit") or a key."""
    if isinstance(api, int):
        if api not in _API_NAMES:
            raise ValueError(f"unknown Kafka api key {api}")
        return api
    key = API_KEYS.get(api, API_KEYS.get(_camel(api)))
    if key is None:
        raise ValueError(f"unknown Kafka API {api!r}; e.g. OffsetCommit, Fetch, JoinGroup")
    return key


def api_name(key: int) -> str:
    """"OffsetCommit" for 8; "api-<key>" for a key kio does not know."""
    return _API_NAMES.get(key, f"api-{key}")


def error_code(error: str | int) -> int:
    """The code of an error given by name ("REBALANCE_IN_PROGRESS", any case) or code."""
    if isinstance(error, int):
        return int(ErrorCode(error))
    try:
        return int(ErrorCode[error.lower().replace("-", "_")])
    except KeyError:
        raise ValueError(f"unknown Kafka error {error!r}") from None


def error_name(code: int) -> str:
    """"REBALANCE_IN_PROGRESS" for 27."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return f"ERROR_{code}"


# -- headers -----------------------------------------------------------------------------------
class RequestHeader(NamedTuple):
    """A request header; ``size`` is its length in bytes (where the body starts)."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    size: int


def request_start(frame: bytes | bytearray | memoryview) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id) at the start of a request frame (after the size
    prefix); these three never change with the header version."""
    if len(frame) < _REQUEST_START.size:
        raise ValueError(f"a request frame needs at least {_REQUEST_START.size} bytes")
    return _REQUEST_START.unpack_from(frame)


def _schemas(key: int, version: int) -> tuple[type, type]:
    """The kio request and response classes of (api key, version); Unsupported if none."""
    try:
        return load_request_schema(key, version), load_response_schema(key, version)
    except (UnknownAPIKey, UnknownEntity):
        raise Unsupported(f"kio {_kio_version()} has no schema for {api_name(key)} "
                          f"v{version}") from None


def _kio_version() -> str:
    from kio import __version__
    return __version__


def request_header_version(key: int, version: int) -> int:
    """1 (client id) or 2 (flexible: client id and tagged fields)."""
    return int(_schemas(key, version)[0].__header_schema__.__version__)


def response_header_version(key: int, version: int) -> int:
    """0 (correlation id) or 1 (flexible: and tagged fields); ApiVersions always 0."""
    return int(_schemas(key, version)[1].__header_schema__.__version__)


def _uvarint(data: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    """(value, next position) of an unsigned varint at ``pos``."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 28:
            raise Unsupported("a truncated or oversized varint in a request header")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def parse_request_header(frame: bytes | bytearray | memoryview) -> RequestHeader:
    """The header of a request frame (after the size prefix): api key, version, correlation
    id, client id (a nullable int16-length string in every version), then, for header v2 (the
    flexible versions kio's schema names), tagged fields, skipped whatever their tags.
    Unsupported if kio does not know the version or the header is truncated."""
    key, version, corr = request_start(frame)
    flexible = request_header_version(key, version) == 2
    if len(frame) < 10:
        raise Unsupported("a request header without its client id")
    (length,) = struct.unpack_from(">h", frame, 8)
    pos, client_id = 10, None
    if length >= 0:
        client_id = bytes(frame[pos:pos + length]).decode("utf-8", errors="replace")
        pos += length
    if flexible:
        count, pos = _uvarint(frame, pos)
        for _ in range(count):
            _tag, pos = _uvarint(frame, pos)
            size, pos = _uvarint(frame, pos)
            pos += size
    if pos > len(frame):
        raise Unsupported("a truncated request header")
    return RequestHeader(key, version, corr, client_id, pos)


def decode_request(frame: bytes | bytearray | memoryview) -> tuple[RequestHeader, Any]:
    """The header and the kio body of a request frame (after the size prefix)."""
    header = parse_request_header(frame)
    request = _schemas(header.api_key, header.api_version)[0]
    try:
        body, _size = entity_reader(request)(bytes(frame), header.size)
    except Exception as exc:  # kio raises several types for bytes it cannot read
        raise Unsupported(f"kio cannot decode {api_name(header.api_key)} "
                          f"v{header.api_version}: {exc}") from None
    return header, body


def encode_response(key: int, version: int, correlation_id: int, body: Any) -> bytes:
    """A size-prefixed response frame: the header version the api and version use, then
    ``body`` (a kio response of that api and version)."""
    response = _schemas(key, version)[1]
    out = io.BytesIO()
    out.write(b"\0\0\0\0")
    schema = response.__header_schema__
    entity_writer(schema)(out, schema(correlation_id=correlation_id))
    entity_writer(response)(out, body)
    data = bytearray(out.getvalue())
    _SIZE.pack_into(data, 0, len(data) - 4)
    return bytes(data)


def decode_response(frame: bytes | bytearray | memoryview, key: int,
                    version: int) -> tuple[int, Any]:
    """(correlation id, kio body) of a response frame (after the size prefix)."""
    response = _schemas(key, version)[1]
    data = bytes(frame)
    header, size = entity_reader(response.__header_schema__)(data, 0)
    body, _ = entity_reader(response)(data, size)
    return int(header.correlation_id), body


# -- error responses ---------------------------------------------------------------------------
#: Response array field -> the request fields whose items it answers, one entry per item.
_ITEMS = {"topics": ("topics",), "partitions": ("partitions", "partition_indexes"),
          "responses": ("topics",), "groups": ("groups",),
          "coordinators": ("coordinator_keys",)}
#: Response field -> the request item fields that name the entry (copied over).
_KEYS = {"name": ("name",), "topic": ("topic",), "topic_id": ("topic_id",),
         "partition_index": ("partition_index", "partition"), "group_id": ("group_id",),
         "member_id": ("member_id",)}
#: Fields a broker's error response sets to -1 (no offset, no node) where kio has no default.
_INVALID = frozenset({"committed_offset", "high_watermark", "node_id", "port", "leader_id"})
_INTS = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(type without None, nullable)."""
    if isinstance(tp, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(get_args(tp))
    return tp, False


def _blank_value(f: dataclasses.Field, nullable: bool) -> Any:
    kind = f.metadata.get("kafka_type")
    if kind in _INTS:
        return -1 if f.name in _INVALID else 0
    if kind == "string":
        return None if nullable else ""
    if kind in ("bytes", "records"):
        return b""
    if kind == "bool":
        return False
    if kind == "uuid":
        return None if nullable else uuid.UUID(int=0)
    if kind in ("timedelta_i32", "timedelta_i64"):
        from datetime import timedelta
        return timedelta(0)
    if kind == "float64":
        return 0.0
    raise Unsupported(f"no blank value for field {f.name} of kafka type {kind}")


class _Count:
    entries = 0


def _blank(cls: type, code: int, source: Any, count: _Count, top: bool) -> Any:
    """A ``cls`` entity answering ``source`` (the request entity or item it mirrors): error
    codes set to ``code``, keys copied, arrays mirrored, the rest at their schema defaults."""
    values: dict[str, Any] = {}
    deferred_error: list[str] = []
    for f in dataclasses.fields(cls):
        tp, nullable = _unwrap(f.type)
        if f.name == "error_code":
            if top:
                deferred_error.append(f.name)
            else:
                values[f.name] = ErrorCode(code)
                count.entries += 1
            continue
        if get_origin(tp) is tuple and dataclasses.is_dataclass(get_args(tp)[0]):
            items = _source(source, _ITEMS.get(f.name, ()))
            values[f.name] = tuple(_blank(get_args(tp)[0], code, item, count, False)
                                   for item in items or ())
            continue
        if dataclasses.is_dataclass(tp):
            if f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            else:
                values[f.name] = None if nullable else _blank(tp, code, None, count, False)
            continue
        keys = _KEYS.get(f.name)
        if keys is not None and source is not None:
            if isinstance(source, int | str) and not isinstance(source, bool):
                values[f.name] = source  # an item of a primitive array: a partition, a key
                continue
            found = [getattr(source, k) for k in keys if hasattr(source, k)]
            if found:
                values[f.name] = found[0]
                continue
        if f.name == "key" and isinstance(source, str):
            values[f.name] = source
        elif f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
        elif get_origin(tp) is tuple:
            values[f.name] = ()
        else:
            values[f.name] = _blank_value(f, nullable)
    for name in deferred_error:
        partition_level = code in PARTITION_ERRORS and count.entries > 0
        values[name] = ErrorCode(0 if partition_level else code)
    return cls(**values)


def _source(source: Any, names: tuple[str, ...]) -> tuple[Any, ...] | None:
    for name in names:
        items = getattr(source, name, None)
        if items is not None:
            return tuple(items)
    return None


def error_response(frame: bytes | bytearray | memoryview, error: str | int) -> bytes:
    """The size-prefixed response a broker would send to the request ``frame`` (after its
    size prefix) failing with ``error``: same correlation id, header version of its api and
    version, the error in every entry that has an error code. Unsupported if kio cannot decode
    the request or encode the response."""
    code = error_code(error)
    header, body = decode_request(frame)
    response = _schemas(header.api_key, header.api_version)[1]
    count = _Count()
    try:
        answer = _blank(response, code, body, count, True)
        if not count.entries and not any(f.name == "error_code"
                                         for f in dataclasses.fields(response)):
            raise Unsupported(f"the request has no entry to carry the error in a "
                              f"{api_name(header.api_key)} response")
        return encode_response(header.api_key, header.api_version, header.correlation_id,
                               answer)
    except Unsupported:
        raise
    except Exception as exc:
        raise Unsupported(f"cannot build an error response for {api_name(header.api_key)} "
                          f"v{header.api_version} with kio: {exc}") from None


# -- faults ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolFault:
    """What to do to one API's requests: ``kind`` (see :data:`KINDS`), the error (by name) for
    "error", the number of matching requests to touch (None: until healed) and the delay for
    "delay-response"."""

    api: str
    kind: str
    error: str | None = None
    count: int | None = 1
    delay_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "api", api_name(api_key(self.api)))
        if self.kind not in KINDS:
            raise ValueError(f"unknown protocol fault kind {self.kind!r}; choose one of "
                             f"{', '.join(KINDS)}")
        if self.kind == "error":
            if self.error is None:
                raise ValueError("an 'error' protocol fault needs an error name")
            object.__setattr__(self, "error", error_name(error_code(self.error)))
        elif self.error is not None:
            raise ValueError(f"a {self.kind!r} protocol fault takes no error")
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be >= 1 (or None: until healed), not {self.count}")
        if self.delay_ms < 0 or (self.kind == "delay-response" and self.delay_ms == 0):
            raise ValueError(f"delay_ms must be > 0 for 'delay-response' and >= 0 otherwise, "
                             f"not {self.delay_ms}")

    @property
    def api_key(self) -> int:
        return api_key(self.api)


class Touch(NamedTuple):
    """One request a protocol fault touched, or refused to touch (``refused``: the reason)."""

    client_id: str
    api: str
    api_version: int
    correlation_id: int
    kind: str
    error: str | None
    refused: str | None = None
    ts: float = 0.0


class ArmedFault:
    """A :class:`ProtocolFault` in force for client ids starting with ``prefix``; shared by the
    proxies of a :class:`~conformance.faults.proxy.ProxySet`, so ``count`` counts the client's
    requests to every broker. Thread-safe; ``listener`` is called (from a proxy thread) with
    every :class:`Touch`, refusals included."""

    def __init__(self, prefix: str, fault: ProtocolFault,
                 listener: Callable[[Touch], object] | None = None) -> None:
        self.prefix = prefix
        self.fault = fault
        self.listener = listener
        self._lock = threading.Condition()
        self._remaining = fault.count
        self.healed = False  # removed from the proxies: a request held meanwhile is let go
        self._touches: list[Touch] = []
        self._refusals: list[Touch] = []

    @property
    def remaining(self) -> int | None:
        """Requests still to touch; None: until healed."""
        with self._lock:
            return self._remaining

    @property
    def spent(self) -> bool:
        with self._lock:
            return self._remaining == 0

    @property
    def touches(self) -> list[Touch]:
        """The requests touched so far, in order."""
        with self._lock:
            return list(self._touches)

    @property
    def refusals(self) -> list[Touch]:
        """The requests it could not touch (forwarded untouched), with the reason."""
        with self._lock:
            return list(self._refusals)

    def wait_touched(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests have been touched; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._touches) >= count, timeout)

    def take(self, client_id: str, header: tuple[int, int, int]) -> bool:
        """Count one matching request (api_key, api_version, correlation_id) as touched;
        False if the fault is spent or healed."""
        with self._lock:
            if self._remaining == 0 or self.healed:
                return False
            if self._remaining is not None:
                self._remaining -= 1
            touch = Touch(client_id, self.fault.api, header[1], header[2], self.fault.kind,
                          self.fault.error, None, time.time())
            self._touches.append(touch)
            self._lock.notify_all()
        self._tell(touch)
        return True

    def refuse(self, client_id: str, header: tuple[int, int, int], reason: str) -> None:
        """Record that a matching request is forwarded untouched, and why."""
        touch = Touch(client_id, self.fault.api, header[1], header[2], self.fault.kind,
                      self.fault.error, reason, time.time())
        with self._lock:
            self._refusals.append(touch)
        log.warning("protocol fault %s %s on %r refused for correlation id %d: %s",
                    self.fault.kind, self.fault.api, client_id, header[2], reason)
        self._tell(touch)

    def _tell(self, touch: Touch) -> None:
        if self.listener is not None:
            try:
                self.listener(touch)
            except Exception:
                log.exception("protocol fault listener failed")

    def __repr__(self) -> str:
        return (f"ArmedFault({self.prefix!r}, {self.fault}, remaining={self.remaining}, "
                f"touched={len(self._touches)}, refused={len(self._refusals)})")


def supports(fault: ProtocolFault, key: int, version: int) -> str | None:
    """Why ``fault`` cannot touch a request of (key, version), or None if it can: "error" needs
    kio to decode the request and encode the response; the other kinds only need framing."""
    if fault.kind != "error":
        return None
    try:
        _schemas(key, version)
    except Unsupported as exc:
        return str(exc)
    return None


# -- framing -----------------------------------------------------------------------------------
class Piece(NamedTuple):
    """Bytes of one frame: ``head`` (the size prefix and the first header bytes) on the frame's
    first piece, None on the others; ``end`` on its last piece."""

    head: bytes | None
    data: bytes
    end: bool


class FrameSplitter:
    """Splits a stream of Kafka frames, chunk by chunk, into :class:`Piece` s that never span
    two frames, without assembling frames: a frame's first piece waits until ``4 + head``
    bytes of it (or the whole frame, if shorter) have arrived. A size below ``min_size`` or
    above :data:`MAX_FRAME` sets ``broken`` (the reason); from then on every chunk is one
    headless piece."""

    def __init__(self, head: int, min_size: int = 0) -> None:
        self.head = head
        self.min_size = min_size
        self.broken: str | None = None
        self._left = 0  # bytes of the current frame still to come
        self._start = bytearray()  # the start of a frame whose head is incomplete

    def feed(self, data: bytes) -> list[Piece]:
        if self.broken is not None:
            return [Piece(None, data, False)] if data else []
        out: list[Piece] = []
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                self._left -= take
                chunk = data if take == n else data[pos:pos + take]
                out.append(Piece(None, chunk, self._left == 0))
                pos += take
                continue
            if len(self._start) < 4:  # the size prefix
                take = min(4 - len(self._start), n - pos)
                self._start += data[pos:pos + take]
                pos += take
                if len(self._start) < 4:
                    break
                size = _SIZE.unpack_from(self._start)[0]
                if size < self.min_size or size > MAX_FRAME:
                    self.broken = f"a frame size of {size} bytes: not a Kafka stream"
                    out.append(Piece(None, bytes(self._start) + data[pos:], False))
                    self._start = bytearray()
                    return out
            size = _SIZE.unpack_from(self._start)[0]
            wanted = 4 + min(self.head, size)
            take = min(wanted - len(self._start), n - pos)
            self._start += data[pos:pos + take]
            pos += take
            if len(self._start) < wanted:
                break
            self._left = size - (wanted - 4)
            head = bytes(self._start)
            self._start = bytearray()
            if self._left == 0:
                out.append(Piece(head, head, True))
                continue
            take = min(self._left, n - pos)
            self._left -= take
            out.append(Piece(head, head + data[pos:pos + take], self._left == 0))
            pos += take
        return out


# -- one connection ----------------------------------------------------------------------------
class _Slot:
    """A request on its way: waiting for the broker's answer (``injected`` None) or answered
    by the proxy (``injected``: the response to send when its turn comes)."""

    __slots__ = ("action", "correlation_id", "delay_ms", "injected")

    def __init__(self, correlation_id: int, action: str = "forward", delay_ms: int = 0,
                 injected: bytes | None = None) -> None:
        self.correlation_id = correlation_id
        self.action = action  # forward, lose, delay, injected
        self.delay_ms = delay_ms
        self.injected = injected


Lookup = Callable[[int], "ArmedFault | None"]


class Exchange:
    """The protocol state of one proxied connection: frames the client's requests and the
    broker's responses, applies the armed faults that ``lookup(api_key)`` returns for this
    client, and keeps the responses in request order.

    ``from_client(data)`` returns (bytes for the broker, responses for the client);
    ``from_broker(data)`` returns [(bytes for the client, delay_ms)]. After a lost response
    ``closing`` is True: the connection should be closed once what was returned is sent."""

    def __init__(self, client_id: str, lookup: Lookup) -> None:
        self.client_id = client_id
        self.lookup = lookup
        self.closing = False
        self._requests = FrameSplitter(_REQUEST_START.size, min_size=_REQUEST_START.size)
        self._responses = FrameSplitter(4, min_size=4)
        self._slots: deque[_Slot] = deque()
        self._held: list[bytes] | None = None  # a request frame kept for an "error" fault
        self._held_fault: ArmedFault | None = None
        self._current: _Slot | None = None  # the request whose response is passing
        self.broken: str | None = None

    @property
    def in_flight(self) -> list[int]:
        """Correlation ids of the requests not yet answered, in order."""
        return [s.correlation_id for s in self._slots]

    def _break(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason
            log.warning("fault proxy: connection of %r no longer read as Kafka frames (%s); "
                        "protocol faults do not apply to it", self.client_id, reason)

    def from_client(self, data: bytes) -> tuple[list[bytes], list[bytes]]:
        if self.closing:
            return [], []
        if self.broken is not None:
            return [data], []
        up: list[bytes] = []
        down: list[bytes] = []
        for piece in self._requests.feed(data):
            if self._requests.broken is not None:
                self._break(self._requests.broken)
                up.append(piece.data)
                continue
            if self._held is not None:
                self._held.append(piece.data)
            elif piece.head is not None:
                self._request(piece, up)
            else:
                up.append(piece.data)
            if piece.end and self._held is not None:
                self._answer(b"".join(self._held), up)
        down.extend(self._drain())
        return up, down

    def _request(self, piece: Piece, up: list[bytes]) -> None:
        start = request_start(memoryview(piece.head)[4:])  # type: ignore[index]
        armed = self.lookup(start[0])
        slot = _Slot(start[2])
        if armed is not None:
            reason = supports(armed.fault, start[0], start[1])
            if reason is not None:
                armed.refuse(self.client_id, start, reason)
            elif armed.fault.kind == "error":
                self._held, self._held_fault = [piece.data], armed
                return
            elif armed.take(self.client_id, start):
                slot.action = "lose" if armed.fault.kind == "lose-response" else "delay"
                slot.delay_ms = armed.fault.delay_ms
        self._slots.append(slot)
        up.append(piece.data)

    def _answer(self, frame: bytes, up: list[bytes]) -> None:
        armed, self._held, self._held_fault = self._held_fault, None, None
        assert armed is not None and armed.fault.error is not None
        start = request_start(memoryview(frame)[4:])
        try:
            response = error_response(memoryview(frame)[4:], armed.fault.error)
        except Exception as exc:  # Unsupported, or whatever kio raised on these bytes
            armed.refuse(self.client_id, start, str(exc) if isinstance(exc, Unsupported)
                         else f"{type(exc).__name__}: {exc}")
            response = None
        if response is not None and armed.take(self.client_id, start):
            self._slots.append(_Slot(start[2], "injected", injected=response))
            return
        self._slots.append(_Slot(start[2]))
        up.append(frame)

    def _drain(self) -> list[bytes]:
        """Injected responses whose turn has come (no earlier request still unanswered)."""
        out = []
        while self._slots and self._slots[0].injected is not None:
            out.append(self._slots.popleft().injected)  # type: ignore[arg-type]
        return out

    def from_broker(self, data: bytes) -> list[tuple[bytes, int]]:
        if self.closing:
            return []
        if self.broken is not None:
            return [(data, 0)]
        out: list[tuple[bytes, int]] = []
        for piece in self._responses.feed(data):
            if self._responses.broken is not None:
                self._break(self._responses.broken)
                out.append((piece.data, 0))
                continue
            if piece.head is not None:
                self._current = self._match(_SIZE.unpack_from(piece.head, 4)[0], out)
                if self.broken is not None:
                    out.append((piece.data, 0))
                    continue
            slot = self._current
            if slot is None or self.broken is not None:
                out.append((piece.data, 0))
                continue
            if slot.action == "delay":
                out.append((piece.data, slot.delay_ms))
            elif slot.action != "lose":
                out.append((piece.data, 0))
            if piece.end:
                self._current = None
                if slot.action == "lose":
                    self.closing = True
                    return out
                out.extend((r, 0) for r in self._drain())
        return out

    def _match(self, correlation_id: int, out: list[tuple[bytes, int]]) -> _Slot | None:
        """Pop the slot the response to ``correlation_id`` answers; requests before it that
        got no response (acks=0) are forgotten, injected responses before it are sent."""
        while self._slots:
            slot = self._slots.popleft()
            if slot.injected is not None:
                out.append((slot.injected, 0))
            elif slot.correlation_id == correlation_id:
                return slot
        self._break(f"a response with correlation id {correlation_id} that no request on "
                    f"the connection is waiting for")
        return None
