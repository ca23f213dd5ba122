"""The failover's wire calls without a broker: requests encoded with kio (the bytes the former
hand-written client sent), responses decoded, and one call through a tiny fake broker."""

from __future__ import annotations

import datetime
import io
import socket
import socketserver
import struct
import uuid
from typing import Any, ClassVar

import pytest
from kio.schema.alter_partition_reassignments.v0 import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from kio.schema.alter_partition_reassignments.v0.response import (
    ReassignablePartitionResponse,
    ReassignableTopicResponse,
)
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import MetadataRequest, MetadataResponse
from kio.schema.metadata.v12.response import (
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from kio.schema.request_header.v2 import RequestHeader
from kio.serial import entity_reader, entity_writer
from loopback import serving

from conformance.broker import wire
from conformance.broker.failover import offsets_partition_for
from conformance.errors import BrokerError

_NO_THROTTLE = datetime.timedelta(0)
_HEADER = bytes.fromhex("00116b61666b612d636f6e666f726d616e636500")  # "kafka-conformance", tags


def _decode_request(frame: bytes, schema: type) -> tuple[RequestHeader, Any]:
    """Read a size-prefixed request with kio directly (not with the module under test)."""
    assert struct.unpack_from(">i", frame)[0] == len(frame) - 4
    header, n = entity_reader(RequestHeader)(frame[4:], 0)
    body, m = entity_reader(schema)(frame[4:], n)
    assert n + m == len(frame) - 4  # nothing left over
    return header, body


def _response(correlation_id: int, body: Any) -> bytes:
    """A size-prefixed response frame encoded with kio."""
    out = io.BytesIO()
    schema = type(body).__header_schema__
    entity_writer(schema)(out, schema(correlation_id=correlation_id))
    entity_writer(type(body))(out, body)
    return struct.pack(">i", len(out.getvalue())) + out.getvalue()


def _reassigned(top: ErrorCode = ErrorCode.none,
                partition: ErrorCode = ErrorCode.none) -> AlterPartitionReassignmentsResponse:
    return AlterPartitionReassignmentsResponse(
        throttle_time=_NO_THROTTLE, error_code=top, error_message="top" if top else None,
        responses=(ReassignableTopicResponse(name="t", partitions=(ReassignablePartitionResponse(
            partition_index=0, error_code=partition,
            error_message="no such broker" if partition else None),)),))


def _metadata() -> MetadataResponse:
    def part(index: int, leader: int, replicas: tuple[int, ...], isr: tuple[int, ...]) -> Any:
        return MetadataResponsePartition(error_code=ErrorCode.none, partition_index=index,
                                         leader_id=leader, replica_nodes=replicas,
                                         isr_nodes=isr)
    brokers = tuple(MetadataResponseBroker(node_id=n, host="127.0.0.1", port=9000 + n)
                    for n in (1, 3))
    topics = (
        MetadataResponseTopic(error_code=ErrorCode.none, name="t", topic_id=uuid.uuid4(),
                              partitions=(part(0, 1, (1, 2, 3), (1, 3)),
                                          part(1, -1, (2, 3), ()))),
        MetadataResponseTopic(error_code=ErrorCode.unknown_topic_or_partition, name="gone",
                              topic_id=None, partitions=()))
    return MetadataResponse(throttle_time=_NO_THROTTLE, brokers=brokers, cluster_id="c",
                            controller_id=1, topics=topics)


def test_reassignment_request_is_the_former_bytes_and_kio_reads_it():
    frame = wire.encode_request(wire.reassignment_request("topic-x", 0, [2, 1, 3], 7.5))
    body_bytes = (struct.pack(">i", 7500) + b"\x02\x08topic-x\x02" + struct.pack(">i", 0)
                  + b"\x04" + struct.pack(">iii", 2, 1, 3) + b"\x00\x00\x00")
    assert frame == struct.pack(">ihhi", 8 + len(_HEADER) + len(body_bytes), 45, 0, 1) \
        + _HEADER + body_bytes
    header, body = _decode_request(frame, AlterPartitionReassignmentsRequest)
    assert (header.request_api_key, header.request_api_version, header.correlation_id,
            header.client_id) == (45, 0, 1, wire.CLIENT_ID)
    assert body.timeout.total_seconds() == 7.5
    (topic,) = body.topics
    assert topic.name == "topic-x"
    assert [(p.partition_index, p.replicas) for p in topic.partitions] == [(0, (2, 1, 3))]


@pytest.mark.parametrize("topic", ["abc", None])
def test_metadata_request_is_the_former_bytes_and_kio_reads_it(topic):
    frame = wire.encode_request(wire.metadata_request(topic))
    topics = b"\x02" + bytes(16) + b"\x04abc\x00" if topic else b"\x00"
    body_bytes = topics + b"\x00\x00\x00"  # no auto-creation, no authorized operations, tags
    assert frame == struct.pack(">ihhi", 8 + len(_HEADER) + len(body_bytes), 3, 12, 1) \
        + _HEADER + body_bytes
    header, body = _decode_request(frame, MetadataRequest)
    assert (header.request_api_key, header.request_api_version) == (3, 12)
    assert body.allow_auto_topic_creation is False
    assert body.include_topic_authorized_operations is False
    assert body.topics is None if topic is None else [t.name for t in body.topics] == [topic]


def test_metadata_response_becomes_a_broker_view_without_erroneous_topics():
    correlation, body = wire.decode_response(_response(1, _metadata())[4:], MetadataResponse)
    assert correlation == 1
    assert wire.broker_view(body) == wire.BrokerView(
        [1, 3], {"t": {0: wire.PartitionState(1, [1, 2, 3], [1, 3]),
                       1: wire.PartitionState(-1, [2, 3], [])}})


class _Broker(socketserver.BaseRequestHandler):
    """Reads one request frame, keeps it, and answers ``answer`` (or closes if None)."""

    answer: ClassVar[Any] = None
    got: ClassVar[list[bytes]] = []

    def handle(self) -> None:
        size = struct.unpack(">i", self.request.recv(4, socket.MSG_WAITALL))[0]
        frame = struct.pack(">i", size) + self.request.recv(size, socket.MSG_WAITALL)
        type(self).got.append(frame)
        if self.answer is not None:
            corr = struct.unpack_from(">i", frame, 8)[0]
            self.request.sendall(_response(corr, self.answer))


def _fake_broker(answer: Any) -> Any:
    _Broker.answer, _Broker.got = answer, []
    return serving(socketserver.TCPServer(("127.0.0.1", 0), _Broker))


def test_broker_metadata_through_a_fake_broker():
    with _fake_broker(_metadata()) as address:
        view = wire.broker_metadata(address, "t", timeout=5)
    assert view.brokers == [1, 3] and sorted(view.topics) == ["t"]
    assert _Broker.got == [wire.encode_request(wire.metadata_request("t"))]


def test_reassignment_through_a_fake_broker():
    with _fake_broker(_reassigned()) as address:
        wire.alter_partition_reassignment(address, "t", 0, [2, 1, 3], timeout=5)
    assert len(_Broker.got) == 1


@pytest.mark.parametrize(("top", "partition", "text"), [
    (ErrorCode.not_controller, ErrorCode.none, r"NOT_CONTROLLER \(top\)$"),
    (ErrorCode.none, ErrorCode.invalid_replica_assignment,
     r"INVALID_REPLICA_ASSIGNMENT \(no such broker\)$"),
])
def test_reassignment_error_names_the_broker_error_and_keeps_its_code(top, partition, text):
    where = r"reassign t-0 to \[2, 1, 3\] via 127.0.0.1:\d+: "
    with _fake_broker(_reassigned(top, partition)) as address, \
            pytest.raises(wire.BrokerRefused, match=where + text) as refused:
        wire.alter_partition_reassignment(address, "t", 0, [2, 1, 3], timeout=5)
    assert refused.value.code == int(top or partition)


def test_a_broker_that_hangs_up_is_an_oserror_or_a_broker_error():
    with _fake_broker(None) as address:
        with pytest.raises(OSError, match="closed"):
            wire.broker_metadata(address, timeout=5)
        with pytest.raises(BrokerError, match="closed") as error:
            wire.alter_partition_reassignment(address, "t", 0, [1], timeout=5)
    assert not isinstance(error.value, wire.BrokerRefused)  # gone: _reassign tries the next


def test_java_string_hash_picks_the_offsets_partition():
    assert offsets_partition_for("", 5) == 0
    assert offsets_partition_for("hello", 50) == 99162322 % 50  # "hello".hashCode()
    assert offsets_partition_for("polygenelubricants", 7) == 0  # hashCode() == MIN_VALUE
    assert offsets_partition_for("é", 1000) == 233  # UTF-16 code units, not UTF-8 bytes
