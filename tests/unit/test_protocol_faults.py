"""Protocol faults without a broker: headers, kio-built error responses, framing, the order of
responses on a connection, refusals, and the fault proxy's wiring (with a tiny responder)."""

from __future__ import annotations

import datetime
import io
import random
import socket
import socketserver
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer
from loopback import serving

from conformance.faults import protocol as P
from conformance.faults.proxy import FaultProxy, ProxySet

TIMEOUT = 10.0


def request(api: str, version: int, correlation_id: int, body: Any | None = None,
            client_id: str | None = "m1", **fields: Any) -> bytes:
    """A size-prefixed request frame encoded with kio (``body``, or one built from
    ``fields`` plus empty arrays and zeros for what the schema requires)."""
    key = P.api_key(api)
    schema = load_request_schema(key, version)
    if body is None:
        body = _fill(schema, fields)
    header = schema.__header_schema__
    out = io.BytesIO()
    entity_writer(header)(out, header(request_api_key=key, request_api_version=version,
                                      correlation_id=correlation_id, client_id=client_id))
    entity_writer(schema)(out, body)
    data = out.getvalue()
    return struct.pack(">i", len(data)) + data


def _fill(schema: type, given: dict[str, Any]) -> Any:
    import dataclasses
    values = dict(given)
    for f in dataclasses.fields(schema):
        if f.name in values or f.default is not dataclasses.MISSING:
            continue
        kind = f.metadata.get("kafka_type")
        if kind is None:
            values[f.name] = () if "tuple" in str(f.type) else None
        elif kind == "string":
            values[f.name] = "x"
        elif kind in ("bytes", "records"):
            values[f.name] = b""
        elif kind == "bool":
            values[f.name] = False
        elif kind.startswith("timedelta"):
            values[f.name] = datetime.timedelta(0)
        elif kind == "uuid":
            values[f.name] = None
        else:
            values[f.name] = () if "tuple" in str(f.type) else 0
    return schema(**values)


def response_of(frame: bytes, api: str, version: int) -> tuple[int, Any]:
    """Decode a size-prefixed response with kio directly (not with the module under test)."""
    size = struct.unpack_from(">i", frame)[0]
    assert size == len(frame) - 4
    schema = load_response_schema(P.api_key(api), version)
    header, n = entity_reader(schema.__header_schema__)(frame[4:], 0)
    body, m = entity_reader(schema)(frame[4:], n)
    assert n + m == size  # nothing left over
    return header.correlation_id, body


def commit_request(version: int, correlation_id: int = 7) -> bytes:
    schema = load_request_schema(8, version)
    mod = __import__(schema.__module__, fromlist=["x"])
    part = mod.OffsetCommitRequestPartition
    topic = mod.OffsetCommitRequestTopic
    topics = (topic(name="a", partitions=(part(partition_index=0, committed_offset=5,
                                                committed_metadata=None),
                                           part(partition_index=3, committed_offset=9,
                                                committed_metadata=None))),
              topic(name="b", partitions=(part(partition_index=1, committed_offset=1,
                                               committed_metadata=None),)))
    return request("OffsetCommit", version, correlation_id, group_id="g",
                   generation_id_or_member_epoch=4, member_id="m-1", topics=topics)


# -- names, headers ----------------------------------------------------------------------------
def test_names_and_error_codes():
    assert P.api_key("OffsetCommit") == P.api_key("offset_commit") == 8
    assert P.api_key("ConsumerGroupHeartbeat") == 68 and P.api_name(1) == "Fetch"
    assert P.error_code("REBALANCE_IN_PROGRESS") == 27 == P.error_code("rebalance_in_progress")
    assert P.error_code("FENCED_MEMBER_EPOCH") == 110 and P.error_name(74) == "FENCED_LEADER_EPOCH"
    with pytest.raises(ValueError, match="unknown Kafka API"):
        P.api_key("OffsetComit")
    with pytest.raises(ValueError, match="unknown Kafka error"):
        P.error_code("REBALANCING")


@pytest.mark.parametrize(("api", "version", "req", "resp"), [
    ("OffsetCommit", 7, 1, 0), ("OffsetCommit", 8, 2, 1), ("Fetch", 11, 1, 0),
    ("Fetch", 12, 2, 1), ("ApiVersions", 2, 1, 0), ("ApiVersions", 3, 2, 0),
    ("ConsumerGroupHeartbeat", 0, 2, 1)])
def test_header_versions_follow_the_schemas(api, version, req, resp):
    key = P.api_key(api)
    assert P.request_header_version(key, version) == req
    assert P.response_header_version(key, version) == resp  # ApiVersions: always 0


def test_parse_flexible_header_skips_tagged_fields():
    frame = commit_request(9, correlation_id=1234)[4:]
    header = P.parse_request_header(frame)
    assert header == P.RequestHeader(8, 9, 1234, "m1", 2 + 2 + 4 + 2 + 2 + 1)
    # a header v2 carrying one tagged field (tag 5, 3 bytes): the body starts after it
    start = frame[:10 + 2]  # api, version, corr, client id "m1"
    tagged = start + bytes([1, 5, 3]) + b"abc" + frame[header.size:]
    parsed = P.parse_request_header(tagged)
    assert parsed.size == header.size + 5 and parsed.correlation_id == 1234
    _, body = P.decode_request(tagged)
    assert body.member_id == "m-1"


def test_parse_non_flexible_header_and_null_client_id():
    frame = commit_request(7, correlation_id=-5)[4:]
    assert P.parse_request_header(frame) == P.RequestHeader(8, 7, -5, "m1", 12)
    frame = request("Heartbeat", 3, 9, client_id=None, group_id="g", member_id="m")[4:]
    assert P.parse_request_header(frame) == P.RequestHeader(12, 3, 9, None, 10)
    assert P.request_start(frame) == (12, 3, 9)


# -- error responses ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", [2, 7, 8, 9])
def test_offset_commit_error_response_decodes_with_kio(version):
    response = P.error_response(commit_request(version, 77)[4:], "REBALANCE_IN_PROGRESS")
    corr, body = response_of(response, "OffsetCommit", version)
    assert corr == 77
    got = [(t.name, p.partition_index, p.error_code) for t in body.topics for p in t.partitions]
    assert got == [("a", 0, ErrorCode.rebalance_in_progress),
                   ("a", 3, ErrorCode.rebalance_in_progress),
                   ("b", 1, ErrorCode.rebalance_in_progress)]


def test_fetch_partition_error_leaves_the_top_level_code_none():
    mod = __import__(load_request_schema(1, 12).__module__, fromlist=["x"])
    topic = mod.FetchTopic(topic="t", partitions=(
        mod.FetchPartition(partition=0, fetch_offset=3, partition_max_bytes=1000),
        mod.FetchPartition(partition=2, fetch_offset=0, partition_max_bytes=1000)))
    frame = request("Fetch", 12, 5, max_wait=datetime.timedelta(0), min_bytes=1, topics=(topic,),
                    forgotten_topics_data=())
    corr, body = response_of(P.error_response(frame[4:], "NOT_LEADER_OR_FOLLOWER"), "Fetch", 12)
    assert corr == 5 and body.error_code == ErrorCode.none
    parts = body.responses[0].partitions
    assert [(p.partition_index, p.error_code, p.high_watermark) for p in parts] == \
        [(0, ErrorCode.not_leader_or_follower, -1), (2, ErrorCode.not_leader_or_follower, -1)]
    # a request without partitions (an incremental fetch): the top level carries it
    frame = request("Fetch", 12, 6, max_wait=datetime.timedelta(0), min_bytes=1, topics=(),
                    forgotten_topics_data=())
    _, body = response_of(P.error_response(frame[4:], "OFFSET_OUT_OF_RANGE"), "Fetch", 12)
    assert body.error_code == ErrorCode.offset_out_of_range and body.responses == ()


@pytest.mark.parametrize("version", [5, 8])
def test_offset_fetch_error_in_every_entry_and_no_offset(version):
    mod = __import__(load_request_schema(9, version).__module__, fromlist=["x"])
    topic = mod.OffsetFetchRequestTopic if version < 8 else mod.OffsetFetchRequestTopics
    topics = (topic(name="t", partition_indexes=(0, 1)),)
    if version < 8:
        frame = request("OffsetFetch", version, 3, group_id="g", topics=topics)
    else:
        frame = request("OffsetFetch", version, 3, groups=(
            mod.OffsetFetchRequestGroup(group_id="g", topics=topics),))
    response = P.error_response(frame[4:], "COORDINATOR_LOAD_IN_PROGRESS")
    _, body = response_of(response, "OffsetFetch", version)
    code = ErrorCode.coordinator_load_in_progress
    if version < 8:
        assert body.error_code == code
        parts = body.topics[0].partitions
    else:
        assert body.groups[0].group_id == "g" and body.groups[0].error_code == code
        parts = body.groups[0].topics[0].partitions
    assert [(p.partition_index, p.committed_offset, p.error_code) for p in parts] == \
        [(0, -1, code), (1, -1, code)]


def test_list_offsets_and_find_coordinator_mirror_their_requests():
    mod = __import__(load_request_schema(2, 7).__module__, fromlist=["x"])
    topic = mod.ListOffsetsTopic(name="t", partitions=(
        mod.ListOffsetsPartition(partition_index=4, timestamp=-1),))
    frame = request("ListOffsets", 7, 1, replica_id=-1, topics=(topic,))
    _, body = response_of(P.error_response(frame[4:], "NOT_LEADER_OR_FOLLOWER"),
                          "ListOffsets", 7)
    [part] = body.topics[0].partitions
    assert (part.partition_index, part.error_code, part.offset) == \
        (4, ErrorCode.not_leader_or_follower, -1)
    frame = request("FindCoordinator", 4, 2, key_type=0, coordinator_keys=("g1", "g2"))
    _, body = response_of(P.error_response(frame[4:], "COORDINATOR_NOT_AVAILABLE"),
                          "FindCoordinator", 4)
    assert [(c.key, c.node_id, c.error_code) for c in body.coordinators] == \
        [("g1", -1, ErrorCode.coordinator_not_available),
         ("g2", -1, ErrorCode.coordinator_not_available)]


@pytest.mark.parametrize(("api", "errors"), [
    ("JoinGroup", ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID")),
    ("SyncGroup", ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID")),
    ("Heartbeat", ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID")),
    ("ConsumerGroupHeartbeat", ("FENCED_MEMBER_EPOCH", "UNKNOWN_MEMBER_ID",
                                "COORDINATOR_NOT_AVAILABLE")),
    ("FindCoordinator", ("COORDINATOR_NOT_AVAILABLE",)),
])
def test_top_level_errors_for_every_version_kio_knows(api, errors):
    key = P.api_key(api)
    from kio.schema.index import api_key_map, schema_name_map
    for version in sorted(schema_name_map[api_key_map[key]]):
        keys = {"coordinator_keys": ("g",)} if api == "FindCoordinator" and version >= 4 else {}
        frame = request(api, version, 1000 + version, **keys)
        for error in errors:
            corr, body = response_of(P.error_response(frame[4:], error), api, version)
            assert corr == 1000 + version
            codes = [body.error_code] if hasattr(body, "error_code") else \
                [c.error_code for c in body.coordinators]
            assert codes and all(c == P.error_code(error) for c in codes), (version, body)


def test_a_version_kio_does_not_know_is_unsupported():
    frame = struct.pack(">hhih", 8, 1, 3, 0)  # OffsetCommit v1: kio starts at v2
    with pytest.raises(P.Unsupported, match="OffsetCommit v1"):
        P.error_response(frame, "NOT_COORDINATOR")
    fault = P.ProtocolFault("OffsetCommit", "error", "NOT_COORDINATOR")
    assert "OffsetCommit v1" in (P.supports(fault, 8, 1) or "")
    frame = request("FindCoordinator", 4, 1, key_type=0, coordinator_keys=())
    with pytest.raises(P.Unsupported, match="no entry to carry the error"):
        P.error_response(frame[4:], "COORDINATOR_NOT_AVAILABLE")
    assert P.supports(fault, 8, 9) is None
    assert P.supports(P.ProtocolFault("OffsetCommit", "lose-response"), 8, 1) is None


def test_protocol_fault_validation():
    assert P.ProtocolFault("offset_commit", "error", "not_coordinator").error == \
        "NOT_COORDINATOR"
    with pytest.raises(ValueError, match="needs an error"):
        P.ProtocolFault("OffsetCommit", "error")
    with pytest.raises(ValueError, match="takes no error"):
        P.ProtocolFault("OffsetCommit", "lose-response", "NOT_COORDINATOR")
    with pytest.raises(ValueError, match="delay_ms"):
        P.ProtocolFault("Fetch", "delay-response")
    with pytest.raises(ValueError, match="count"):
        P.ProtocolFault("Fetch", "lose-response", count=0)
    with pytest.raises(ValueError, match="unknown protocol fault kind"):
        P.ProtocolFault("Fetch", "drop")


# -- framing -----------------------------------------------------------------------------------
def frames_of(pieces: list[P.Piece]) -> list[tuple[bytes, bytes]]:
    """(head, whole frame) per frame, checking that pieces never span frames."""
    out: list[tuple[bytes, bytes]] = []
    current: list[bytes] | None = None
    head = b""
    for piece in pieces:
        if piece.head is not None:
            assert current is None, "a head inside a frame"
            current, head = [], piece.head
            assert piece.data.startswith(piece.head)
        assert current is not None, "bytes outside a frame"
        current.append(piece.data)
        if piece.end:
            out.append((head, b"".join(current)))
            current = None
    assert current is None
    return out


def test_frame_splitting_across_any_chunk_boundaries():
    bodies = [b"\x00\x01\x00\x02\x00\x00\x00\x07rest", b"\x00\x03\x00\x00\x00\x00\x00\x08",
              b"\x00\x08\x00\x09\x00\x00\x01\x00" + bytes(range(256)) * 300]
    frames = [struct.pack(">i", len(b)) + b for b in bodies]
    stream = b"".join(frames)
    rng = random.Random(21)
    for _ in range(200):
        splitter = P.FrameSplitter(8, min_size=8)
        pieces: list[P.Piece] = []
        pos = 0
        while pos < len(stream):
            step = rng.choice([1, 2, 3, 5, 11, 4096, 70000])
            pieces += splitter.feed(stream[pos:pos + step])
            pos += step
        assert splitter.broken is None
        assert [f for _, f in frames_of(pieces)] == frames
        assert [h for h, _ in frames_of(pieces)] == [f[:12] for f in frames]
    whole = P.FrameSplitter(8, min_size=8).feed(stream)
    assert len(whole) == 3 and all(p.end for p in whole)


def test_a_frame_shorter_than_its_head_and_a_bad_size():
    splitter = P.FrameSplitter(4, min_size=0)
    pieces = splitter.feed(struct.pack(">i", 2) + b"ab" + struct.pack(">i", 4) + b"wxyz")
    assert [(p.head, p.end) for p in pieces] == [(b"\0\0\0\x02ab", True),
                                                 (b"\0\0\0\x04wxyz", True)]
    splitter = P.FrameSplitter(8, min_size=8)
    pieces = splitter.feed(struct.pack(">i", 3) + b"abc")
    assert splitter.broken is not None and "3 bytes" in splitter.broken
    assert b"".join(p.data for p in pieces) == struct.pack(">i", 3) + b"abc"
    assert splitter.feed(b"more") == [P.Piece(None, b"more", False)]


# -- one connection: order, kinds, counts, refusals --------------------------------------------
def answer(correlation_id: int, body: bytes = b"ok") -> bytes:
    return struct.pack(">ii", 4 + len(body), correlation_id) + body


def exchange(*armed: P.ArmedFault) -> P.Exchange:
    faults = {a.fault.api_key: a for a in armed}
    return P.Exchange("m1", lambda key: None if key not in faults or faults[key].spent
                      else faults[key])


def correlation_ids(frames: list[bytes]) -> list[int]:
    return [struct.unpack_from(">i", f, 4)[0] for f in frames]


def test_an_injected_response_waits_for_earlier_responses():
    armed = P.ArmedFault("m", P.ProtocolFault("OffsetCommit", "error", "ILLEGAL_GENERATION"))
    ex = exchange(armed)
    fetch = request("Fetch", 12, 1, max_wait=datetime.timedelta(0), min_bytes=1, topics=(),
                    forgotten_topics_data=())
    heartbeat = request("Heartbeat", 4, 3, group_id="g", generation_id=1, member_id="m")
    stream = fetch + commit_request(9, correlation_id=2) + heartbeat
    up: list[bytes] = []
    down: list[bytes] = []
    for i in range(len(stream)):  # byte by byte
        u, d = ex.from_client(stream[i:i + 1])
        up += u
        down += d
    assert b"".join(up) == fetch + heartbeat  # the commit never reaches the broker
    assert down == [] and ex.in_flight == [1, 2, 3]
    out = ex.from_broker(answer(1)[:5])
    out += ex.from_broker(answer(1)[5:])
    assert b"".join(d for d, _ in out[:-1]) == answer(1)
    injected = out[-1][0]
    corr, body = response_of(injected, "OffsetCommit", 9)
    assert corr == 2 and all(p.error_code == ErrorCode.illegal_generation
                             for t in body.topics for p in t.partitions)
    assert ex.from_broker(answer(3)) == [(answer(3), 0)] and ex.in_flight == []
    assert [t.correlation_id for t in armed.touches] == [2] and armed.spent


def test_an_injected_response_with_nothing_in_flight_goes_at_once_and_counts_run_out():
    armed = P.ArmedFault("m", P.ProtocolFault("OffsetCommit", "error", "NOT_COORDINATOR",
                                              count=2))
    ex = exchange(armed)
    for corr in (1, 2):
        up, down = ex.from_client(commit_request(8, corr))
        assert up == [] and correlation_ids(down) == [corr]
    up, down = ex.from_client(commit_request(8, 3))
    assert b"".join(up) == commit_request(8, 3) and down == []  # spent: forwarded
    assert [t.correlation_id for t in armed.touches] == [1, 2] and armed.remaining == 0


def test_a_lost_response_is_dropped_and_the_connection_closes_after_the_others():
    armed = P.ArmedFault("m", P.ProtocolFault("OffsetCommit", "lose-response"))
    ex = exchange(armed)
    hb = request("Heartbeat", 4, 1, group_id="g", generation_id=1, member_id="m")
    hb3 = request("Heartbeat", 4, 3, group_id="g", generation_id=1, member_id="m")
    up, _ = ex.from_client(hb + commit_request(9, 2) + hb3)
    assert b"".join(up) == hb + commit_request(9, 2) + hb3  # all forwarded
    out = ex.from_broker(answer(1) + answer(2, b"lost!") + answer(3))
    assert out == [(answer(1), 0)] and ex.closing
    assert ex.from_client(hb) == ([], []) and ex.from_broker(answer(4)) == []
    assert [t.kind for t in armed.touches] == ["lose-response"]


def test_a_delayed_response_is_marked_and_the_others_are_not():
    armed = P.ArmedFault("m", P.ProtocolFault("Fetch", "delay-response", delay_ms=250,
                                              count=None))
    ex = exchange(armed)
    fetch = request("Fetch", 12, 1, max_wait=datetime.timedelta(0), min_bytes=1, topics=(),
                    forgotten_topics_data=())
    hb = request("Heartbeat", 4, 2, group_id="g", generation_id=1, member_id="m")
    ex.from_client(fetch + hb)
    big = answer(1, b"x" * 5000)
    out = ex.from_broker(big[:100]) + ex.from_broker(big[100:] + answer(2))
    assert [d for _, d in out] == [250, 250, 0]
    assert b"".join(b for b, _ in out) == big + answer(2)
    assert armed.remaining is None and len(armed.touches) == 1


def test_an_unsupported_version_is_refused_with_a_reason_and_forwarded():
    seen: list[P.Touch] = []
    armed = P.ArmedFault("m", P.ProtocolFault("OffsetCommit", "error", "NOT_COORDINATOR"),
                         listener=seen.append)
    ex = exchange(armed)
    old = struct.pack(">ihhih", 10 + 2, 8, 1, 41, 2) + b"m1"  # OffsetCommit v1
    up, down = ex.from_client(old)
    assert b"".join(up) == old and down == []
    [refusal] = armed.refusals
    assert refusal.correlation_id == 41 and "OffsetCommit v1" in (refusal.refused or "")
    assert seen == [refusal] and armed.touches == [] and armed.remaining == 1
    # an undecodable body of a known version: refused at the end of the frame, forwarded
    bad = struct.pack(">ihhih", 10 + 2 + 3, 8, 7, 42, 2) + b"m1" + b"\xff\xff\xff"
    up, down = ex.from_client(bad)
    assert b"".join(up) == bad and down == [] and len(armed.refusals) == 2
    assert "cannot decode" in (armed.refusals[1].refused or "")
    assert ex.in_flight == [41, 42]


def test_a_response_nobody_asked_for_stops_the_protocol_reading():
    ex = exchange()
    ex.from_client(request("Heartbeat", 4, 1, group_id="g", generation_id=1, member_id="m"))
    assert ex.from_broker(answer(9)) == [(answer(9), 0)]
    assert ex.broken is not None and "9" in ex.broken
    assert ex.from_broker(b"anything") == [(b"anything", 0)]


# -- the proxy ---------------------------------------------------------------------------------
class _Responder(socketserver.ThreadingTCPServer):
    """Answers each request frame with [size][correlation id]["ok"], the first one late."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class _Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        first = True
        buf = b""
        try:
            while data := self.request.recv(65536):
                buf += data
                while len(buf) >= 4 and len(buf) >= 4 + struct.unpack_from(">i", buf)[0]:
                    size = struct.unpack_from(">i", buf)[0]
                    corr = struct.unpack_from(">i", buf, 8)[0]
                    buf = buf[4 + size:]
                    if first:
                        time.sleep(0.3)
                        first = False
                    self.request.sendall(answer(corr))
        except OSError:
            pass


@pytest.fixture
def responder() -> Iterator[tuple[str, int]]:
    with serving(_Responder(("127.0.0.1", 0), _Answer)) as address:
        yield address


def read_frames(sock: socket.socket, count: int) -> list[bytes]:
    sock.settimeout(TIMEOUT)
    buf = b""
    out: list[bytes] = []
    while len(out) < count:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
            data = sock.recv(65536)
            if not data:
                return out
            buf += data
        size = struct.unpack_from(">i", buf)[0]
        out.append(buf[:4 + size])
        buf = buf[4 + size:]
    return out


def test_the_proxy_keeps_order_and_loses_responses(responder):
    with FaultProxy(responder) as proxy:
        hb = request("Heartbeat", 4, 1, group_id="g", generation_id=1, member_id="m",
                     client_id="g-m1")
        armed = proxy.protocol_fault("g-", "OffsetCommit", "error", error="NOT_COORDINATOR")
        other = proxy.protocol_fault("g-m2", "OffsetCommit", "error", error="NOT_COORDINATOR")
        with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
            commit = request("OffsetCommit", 9, 2, body=P.decode_request(
                commit_request(9)[4:])[1], client_id="g-m1")
            sock.sendall(hb + commit)  # the first answer is 0.3 s late; order still kept
            first, second = read_frames(sock, 2)
            assert first == answer(1)
            corr, body = response_of(second, "OffsetCommit", 9)
            assert corr == 2 and body.topics[0].partitions[0].error_code == 16
        assert len(armed.touches) == 1 and other.touches == []  # g-m2 is not g-m1

        lost = proxy.protocol_fault("g-m1", "Heartbeat", "lose-response")
        with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
            commit3 = request("OffsetCommit", 9, 3, body=P.decode_request(
                commit_request(9)[4:])[1], client_id="g-m1")
            sock.sendall(commit3 + request("Heartbeat", 4, 4, group_id="g", generation_id=1,
                                           member_id="m", client_id="g-m1"))
            frames = read_frames(sock, 2)  # the commit's answer, then EOF
            assert correlation_ids(frames) == [3]
            assert sock.recv(10) == b""
        assert [t.correlation_id for t in lost.touches] == [4]
        assert {a.fault.api for a in proxy.heal_protocol("g-m1")} == {"Heartbeat"}
        assert [a.prefix for a in proxy.protocol_faults()] == ["g-", "g-m2"]


def test_a_proxy_set_shares_one_count_and_heals(responder):
    with ProxySet([FaultProxy(responder), FaultProxy(responder)]) as proxies:
        armed = proxies.protocol_fault("c-", "Heartbeat", "error", error="UNKNOWN_MEMBER_ID")
        got = []
        for i, proxy in enumerate(proxies):
            with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
                sock.sendall(request("Heartbeat", 4, 10 + i, group_id="g", generation_id=1,
                                     member_id="m", client_id="c-1"))
                got += read_frames(sock, 1)
        assert response_of(got[0], "Heartbeat", 4)[1].error_code == ErrorCode.unknown_member_id
        assert got[1] == answer(11)  # one count for both proxies: the responder answered
        assert [t.correlation_id for t in armed.touches] == [10]
        assert proxies.heal_protocol() == [armed] and proxies.protocol_faults() == []
    with pytest.raises(ValueError, match="protocol=False"):
        FaultProxy(responder, protocol=False).protocol_fault("c", "Fetch", "lose-response")
