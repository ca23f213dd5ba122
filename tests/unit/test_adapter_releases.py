"""Release detection and error mapping helpers of the built-in adapters (no broker)."""

from __future__ import annotations

import pytest

from adapters.base import (
    CommitFailed,
    ConsumerConfig,
    IllegalState,
    NoOffsetForPartition,
    Unsupported,
)

ck = pytest.importorskip("adapters.confluent_kafka")
kp = pytest.importorskip("adapters.kafka_python")


@pytest.mark.parametrize(("raw", "expected"), [
    (("2.11.1", 34275839), (2, 11, 1)),  # libversion() of most releases
    ("2.12.0", (2, 12, 0)),  # confluent-kafka 2.12.0 returns the bare string
    ("2.4.0-RC3", (2, 4, 0)),
    ("2.16.0.post1", (2, 16, 0)),
    ("", ()),
    ((), ()),
])
def test_librdkafka_release_is_read_from_either_form(raw: object,
                                                      expected: tuple[int, ...]) -> None:
    assert ck.release(raw) == expected


def test_consumer_protocol_capability_follows_the_ga_release() -> None:
    caps = ck.ConfluentAdapter.capabilities
    assert caps.consumer_protocol == (ck.LIBRDKAFKA >= (2, 12))
    config = ConsumerConfig("127.0.0.1:9", group_id="g", group_protocol="consumer")
    if not caps.consumer_protocol:
        with pytest.raises(Unsupported, match="librdkafka"):
            ck.ConfluentAdapter.check_config(config)
    else:
        ck.ConfluentAdapter.check_config(config)


def test_kafka_python_capabilities_follow_detected_features() -> None:
    caps = kp.KafkaPythonAdapter.capabilities
    assert not caps.consumer_protocol
    assert caps.cooperative == (kp.CooperativeStickyAssignor is not None)
    assert caps.on_lost == kp._ON_LOST
    with pytest.raises(Unsupported, match="kafka-python"):
        kp.KafkaPythonAdapter.check_config(
            ConsumerConfig("127.0.0.1:9", group_id="g", group_protocol="consumer"))
    cooperative = ConsumerConfig("127.0.0.1:9", group_id="g",
                                 assignment_strategy="cooperative-sticky")
    if caps.cooperative:
        kp.KafkaPythonAdapter.check_config(cooperative)
    else:
        with pytest.raises(Unsupported, match=r"kafka-python 3\.0"):
            kp.KafkaPythonAdapter.check_config(cooperative)


def test_kafka_python_offsets_and_timeouts_match_the_release() -> None:
    om = kp._offset_and_metadata(7)
    assert om.offset == 7 and om.metadata == ""
    assert len(om) == len(kp.OffsetAndMetadata._fields)
    for method in ("commit", "position", "committed", "close"):
        assert kp._timeout(method) == ({"timeout_ms": kp._REQUEST_TIMEOUT_MS}
                                       if method in kp._TIMEOUT_MS else {})


def test_kafka_python_errors_are_normalized() -> None:
    import kafka.errors as errors

    assert isinstance(kp._error(AssertionError("Unassigned partition"), "seek"), IllegalState)
    assert isinstance(kp._error(kp._NoOffsetForPartitionError("tp"), "poll"),
                      NoOffsetForPartition)
    assert isinstance(kp._commit_error(errors.CommitFailedError("gone")), CommitFailed)
    assert isinstance(kp._commit_error(errors.IllegalStateError("no group")), IllegalState)
