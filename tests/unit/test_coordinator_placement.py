"""Which __consumer_offsets partition coordinates a group (Kafka's own placement)."""

from conformance.broker.admin import coordinator_group, coordinator_partition, java_string_hash


def test_java_string_hash_matches_java() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(1 << 31)  # Integer.MIN_VALUE
    assert java_string_hash("kafka-conformance-group") == -958207136  # printed by Java 17


def test_placement_takes_utils_abs_then_the_modulus() -> None:
    assert coordinator_partition("hello", 5) == 99162322 % 5
    assert coordinator_partition("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) is 0
    assert coordinator_partition("kafka-conformance-group", 50) == 958207136 % 50


def test_a_group_is_found_for_every_partition() -> None:
    groups = [coordinator_group(p, 5) for p in range(5)]
    assert [coordinator_partition(g, 5) for g in groups] == [0, 1, 2, 3, 4]
    assert len(set(groups)) == 5
