"""Single Kafka requests to one chosen broker on a plain TCP connection, encoded with kio.

The two requests the admin client (librdkafka) cannot make: AlterPartitionReassignments, which
confluent-kafka does not offer, and Metadata from one broker of our choosing (librdkafka asks
whichever it likes). Bodies and headers are kio's classes, generated from Kafka's own JSON schemas
(as in :mod:`conformance.faults.protocol`); only the 4-byte size prefix is framed by hand.
"""

from __future__ import annotations

import datetime
import io
import os
import socket
import struct
from typing import Any, NamedTuple, TypeVar

from conformance.cache import cache_root
from conformance.errors import BrokerError

# kio writes Hypothesis's tables into the working directory when imported beside Hypothesis
# (see conformance.faults.protocol): keep them in the cache folder.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_root() / "hypothesis"))

from kio.schema.alter_partition_reassignments.v0 import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from kio.schema.alter_partition_reassignments.v0.request import (
    ReassignablePartition,
    ReassignableTopic,
)
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import MetadataRequest, MetadataResponse
from kio.schema.metadata.v12.request import MetadataRequestTopic
from kio.schema.types import BrokerId, TopicName
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32, i32Timedelta

CLIENT_ID = "kafka-conformance"
_SIZE = struct.Struct(">i")
_R = TypeVar("_R")


class PartitionState(NamedTuple):
    """One partition in the cluster metadata."""

    leader: int
    replicas: list[int]
    isr: list[int]


class BrokerView(NamedTuple):
    """One broker's metadata cache: the brokers it lists, and per topic its partitions."""

    brokers: list[int]
    topics: dict[str, dict[int, PartitionState]]


class BrokerRefused(BrokerError):
    """A broker answered a request with an error code (``code``, Kafka's number)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def encode_request(request: Any, correlation_id: int = 1) -> bytes:
    """A size-prefixed request frame: ``request`` (a kio request) after its header."""
    header = request.__header_schema__
    out = io.BytesIO()
    out.write(bytes(_SIZE.size))
    entity_writer(header)(out, header(request_api_key=request.__api_key__,
                                      request_api_version=request.__version__,
                                      correlation_id=i32(correlation_id), client_id=CLIENT_ID))
    entity_writer(type(request))(out, request)
    frame = bytearray(out.getvalue())
    _SIZE.pack_into(frame, 0, len(frame) - _SIZE.size)
    return bytes(frame)


def decode_response(frame: bytes, response: type[_R]) -> tuple[int, _R]:
    """(correlation id, body) of a response frame (after the size prefix)."""
    header, size = entity_reader(response.__header_schema__)(frame, 0)  # type: ignore[attr-defined]
    body, _ = entity_reader(response)(frame, size)  # type: ignore[arg-type]
    return int(header.correlation_id), body


def call(address: tuple[str, int], request: Any, response: type[_R], timeout: float) -> _R:
    """Send ``request`` on a connection of its own and return the broker's ``response``.
    OSError when the broker cannot be reached or closes the connection."""
    with socket.create_connection(address, timeout=timeout + 5) as sock:
        sock.sendall(encode_request(request))
        (size,) = _SIZE.unpack(_recv(sock, _SIZE.size))
        frame = _recv(sock, size)
    return decode_response(frame, response)[1]


def _recv(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


def reassignment_request(topic: str, partition: int, replicas: list[int],
                         timeout: float) -> AlterPartitionReassignmentsRequest:
    """AlterPartitionReassignments v0 setting one partition's replica list."""
    return AlterPartitionReassignmentsRequest(
        timeout=i32Timedelta.parse(datetime.timedelta(milliseconds=int(timeout * 1000))),
        topics=(ReassignableTopic(name=TopicName(topic), partitions=(ReassignablePartition(
            partition_index=i32(partition), replicas=tuple(BrokerId(r) for r in replicas)),)),))


def alter_partition_reassignment(address: tuple[str, int], topic: str, partition: int,
                                 replicas: list[int], timeout: float = 30.0) -> None:
    """Set the replica list of ``topic``/``partition`` to ``replicas`` (same set in a new order:
    only the preferred leader changes) with AlterPartitionReassignments v0 (KIP-455) to the
    broker at ``address``; KRaft brokers forward it to the active controller.

    BrokerError when the broker cannot be reached; BrokerRefused with the broker's error name
    and message when it answers with an error.
    """
    where = f"reassign {topic}-{partition} to {replicas} via {address[0]}:{address[1]}"
    try:
        res = call(address, reassignment_request(topic, partition, replicas, timeout),
                   AlterPartitionReassignmentsResponse, timeout)
    except OSError as exc:
        raise BrokerError(f"{where}: {exc}") from None
    code, message = res.error_code, res.error_message
    if code == ErrorCode.none:
        code, message = next(((p.error_code, p.error_message) for t in res.responses
                              for p in t.partitions if p.error_code != ErrorCode.none),
                             (code, message))
    if code != ErrorCode.none:
        raise BrokerRefused(f"{where}: {code.name.upper()}" + (f" ({message})" if message else ""),
                            int(code))


def metadata_request(topic: str | None) -> MetadataRequest:
    """Metadata v12 of ``topic`` (of every topic if None), creating none."""
    topics = None if topic is None else (MetadataRequestTopic(topic_id=None,
                                                              name=TopicName(topic)),)
    return MetadataRequest(topics=topics, allow_auto_topic_creation=False,
                           include_topic_authorized_operations=False)


def broker_view(res: MetadataResponse) -> BrokerView:
    """The brokers and the topics without error of a Metadata response."""
    return BrokerView(
        [int(b.node_id) for b in res.brokers],
        {str(t.name): {int(p.partition_index): PartitionState(
            int(p.leader_id), [int(r) for r in p.replica_nodes], [int(r) for r in p.isr_nodes])
            for p in t.partitions} for t in res.topics if t.error_code == ErrorCode.none})


def broker_metadata(address: tuple[str, int], topic: str | None = None,
                    timeout: float = 10.0) -> BrokerView:
    """What the broker at ``address`` itself reports (Metadata v12): right after a change the
    brokers' caches may briefly disagree. OSError when the broker cannot be reached."""
    return broker_view(call(address, metadata_request(topic), MetadataResponse, timeout))

