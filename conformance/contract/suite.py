"""The adapter contract (adapters/base.py) against a real broker, for every built-in adapter and
every group protocol its capabilities claim; a protocol an adapter does not support must be
refused with Unsupported.

Besides the built-ins (in this process), the tests run against client specs (ini setting
``contract_clients``, default the oldest supported releases; ``--contract-client SPEC``), each
release in its own environment behind an adapter host (conformance.clients.remote); its
capabilities come from its own description. Test ids name the spec:
``kafka-python==2.0.2|classic``. Known deviations of a release are strict xfails (DEVIATIONS).
Our CI collects it through tests/integration/test_adapter_contract.py; a user's suite through
the pytest plugin (``--kafka-conformance-adapter``), against the user's own adapter only.

What the clients do where the contract leaves them room (measured here, Kafka 4.3):

- close(): every adapter calls on_revoked for the owned partitions, and a commit made inside
  on_revoked is effective (except kafka-python 2.0.2, see DEVIATIONS).
- A member removed for not polling within max_poll_interval_ms (another member took its
  partitions): a sync commit raises CommitFailed, an async one reports CommitFailed to its
  callback. When it polls again its listener hears: kafka-python on_lost (all partitions;
  2.0.2, without on_lost, on_revoked); confluent-kafka with the classic protocol on_revoked
  (librdkafka does not flag them lost); confluent-kafka with the consumer protocol a mix of
  on_revoked and on_lost; java (kafka-clients, the reference) with the classic protocol
  on_lost, with the consumer protocol on_lost (4.3.1, 3 runs) or on_revoked (4.1.0: 3 of 6
  runs); franz-go with the classic protocol on_revoked.
- Native clients (``--contract-client java``, ``franz-go``, ``kafkajs``) run through their
  workers (conformance.clients.worker_adapter): a call nested in a listener callback is
  Unsupported there (NESTED_CALL), spring-kafka cannot express poll() (NOT_EXPRESSIBLE).
- Auto commits reach set_auto_commit_callback's callback, the periodic ones and the one made on
  close(); confluent-kafka:stored commits only what store() stored (auto commits, and commit()
  without offsets: capability ``stores_processed``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from adapters.base import (
    Adapter,
    CommitFailed,
    ConsumerConfig,
    ConsumerError,
    IllegalState,
    NoOffsetForPartition,
    Record,
    TopicPartition,
    Unsupported,
)
from conformance.broker.admin import Admin
from conformance.clients.remote import RemoteAdapter
from conformance.clients.worker_adapter import WorkerAdapter
from conformance.contract.deviations import known
from conformance.contract.helpers import (
    CommitResults,
    Recorder,
    Target,
    assert_in_order,
    combos,
    next_offsets,
    poll_for,
    poll_records,
    produce,
    targets,
    unsupported_combos,
    wait_for,
)
from conformance.protocols import GroupProtocol

pytestmark = pytest.mark.broker

TIMEOUT = 30.0  # every wait below is a loop on a condition with this bound

Make = Callable[..., Adapter]
Combo = tuple[Target, GroupProtocol]

#: Known client bugs: the tests they break are strict xfails for the affected releases (the
#: built-ins in this process included: their release is what is installed). Listed in the
#: suite's one file of known deviations (conformance/known-deviations.toml, [[contract]]).
DEVIATIONS = known()


#: What a native worker (a WorkerAdapter target) cannot do in the contract tests.
NESTED_CALL = (
    "a commit inside on_revoked cannot be expressed in the worker protocol: the worker's "
    "callback has returned by the time its revoked event arrives, so the WorkerAdapter raises "
    "Unsupported (native workers commit in on_revoked through the commit_on_revoke strategy, "
    "which the S8 scenarios judge)")


#: Native clients whose worker cannot give poll() the contract's meaning: every test that makes
#: a consumer is skipped with the reason.
NOT_EXPRESSIBLE = {
    "spring-kafka": (
        "the listener container drives its own poll loop and commits under every AckMode; "
        "its worker's step-mode poll with process=false is a peek (measured with spring-kafka "
        "4.1.2: poll(max_records=3) returned offsets 0-9, the next polls [] and 0-9 again, "
        "position stayed 0), and with processing Spring commits by itself, so the contract's "
        "poll and commit cannot be expressed; the S5 and S6 scenarios judge it"),
}


#: The known bug any test that joins a group can run into, not only the one that pins it down.
STALL = next(d for d in DEVIATIONS
             if d.test == "test_assignment_arrives_when_polls_are_short_and_far_apart")


def _marks(test: str, target: Target, protocol: GroupProtocol
           ) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=d.reason) for d in DEVIATIONS
            if d.applies(test, target, protocol)][:1]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``combo``: (target, protocol) for every supported protocol of every target;
    ``unsupported``: the protocols a target must refuse; ``remote``: the client specs."""
    test = metafunc.function.__name__
    for argname, found in (("combo", combos), ("unsupported", unsupported_combos)):
        if argname in metafunc.fixturenames:
            metafunc.parametrize(argname, [
                pytest.param((t, p), id=f"{t.label}|{p}", marks=_marks(test, t, p))
                for t, p in found(metafunc.config)])
    if "remote" in metafunc.fixturenames:
        metafunc.parametrize("remote", [t for t in targets(metafunc.config) if t.remote],
                             ids=str)


@pytest.fixture
def make(kafka_broker, kafka_names, combo: Combo) -> Iterator[Make]:
    """Build adapters of the combo under test; all are closed after the test, before its topic
    is deleted (confluent-kafka 2.0.2's close() of a member that was removed from the group
    and rejoined never returns once its topic is gone)."""
    target, protocol = combo
    if target.error:
        pytest.fail(f"{target.label}: {target.error}", pytrace=False)
    if target.worker and target.adapter in NOT_EXPRESSIBLE:
        pytest.skip(f"{target}: {NOT_EXPRESSIBLE[target.adapter]}")
    cls = target.cls
    assert cls is not None
    created: list[Adapter] = []

    def factory(group: str | None, **kw: object) -> Adapter:
        kw.setdefault("group_protocol", protocol)
        config = ConsumerConfig(kafka_broker.bootstrap_servers, group_id=group, **kw)
        adapter = cls(config)
        created.append(adapter)
        return adapter

    yield factory
    for adapter in created:
        with contextlib.suppress(Exception):
            adapter.close()


def _tps(topic: str, partitions: int) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(partitions)]


def _offsets(records: list[Record]) -> list[tuple[int, int]]:
    return sorted((r.partition, r.offset) for r in records)


def _needs_manual_assignment(make: Make, combo: Combo, tp: TopicPartition) -> None:
    """A test of manual assignment: a client without it must refuse a group-less consumer or
    assign() with Unsupported, and the test is skipped with that reason."""
    target, _protocol = combo
    if target.capabilities.manual_assignment:
        return
    with pytest.raises(Unsupported) as refused:
        make(None)
    with pytest.raises(Unsupported):
        make("kc-unused").assign([tp])
    pytest.skip(f"{target}: no manual assignment (refused: {refused.value})")


def _join(adapter: Adapter, recorder: Recorder, partitions: set[TopicPartition]) -> None:
    """Poll until the listener reports ``partitions``. Each poll may block for half a second,
    as in ``poll_records``, so a join completes inside one poll."""
    try:
        wait_for(lambda: recorder.owned() == partitions, TIMEOUT, f"assignment of {partitions}",
                 lambda: adapter.poll(0.5))
    except AssertionError:
        _xfail_on_the_known_stall(adapter, recorder, partitions)
        raise


def _xfail_on_the_known_stall(adapter: Adapter, recorder: Recorder,
                              partitions: set[TopicPartition]) -> None:
    """A test about something else ran into kafka-python 3.x's rejoin stall (``STALL``): it
    xfails with that bug's reason when the stall's signature is there (the coordinator holds a
    stable group that owns ``partitions`` while the client never reported them), and fails
    otherwise."""
    if adapter.client != STALL.adapter or not STALL.affects(adapter.client_version()):
        return
    group = Admin(adapter.config.bootstrap_servers).group_state(adapter.config.group_id or "")
    wanted = {(tp.topic, tp.partition) for tp in partitions}
    if group.state == "STABLE" and wanted <= group.owned and not recorder.owned() & partitions:
        pytest.xfail(f"hit a known client bug: {STALL.reason}")


# -- capabilities --------------------------------------------------------------------------
def test_unsupported_group_protocol_is_refused(kafka_broker, unsupported: Combo) -> None:
    target, protocol = unsupported
    cls = target.cls
    assert cls is not None
    config = ConsumerConfig(kafka_broker.bootstrap_servers, group_id="kc-unused",
                            group_protocol=protocol)
    with pytest.raises(Unsupported):
        cls.check_config(config)
    with pytest.raises(Unsupported):
        cls(config)


def test_a_release_runs_in_its_own_environment(remote: Target) -> None:
    if remote.error:
        pytest.fail(f"{remote.label}: {remote.error}", pytrace=False)
    cls = remote.cls
    if remote.worker:  # a native worker: its own runtime, driven through the worker protocol
        assert cls is not None and issubclass(cls, WorkerAdapter)
        client = cls.worker_client
        assert client is not None and client.command
    else:
        assert cls is not None and issubclass(cls, RemoteAdapter)
        client = cls.remote_client
        assert client is not None and client.python != sys.executable
    if client.spec.version:
        assert cls.client_version() == client.spec.version
    described = cls.describe()  # asked of an adapter host, not of the worker
    assert described["client_version"] == cls.client_version()
    capabilities = cls.capabilities.to_json()  # keys it adds beyond the contract's: ignored
    # a capability a worker does not report is off (workers predate some of them)
    assert {k: described["capabilities"].get(k, False) for k in capabilities} == capabilities


# -- S2: auto.offset.reset for a group without offsets ---------------------------------------
def test_reset_policy_without_committed_offsets(make, combo, kafka_broker, kafka_names,
                                               capfd) -> None:
    target, _protocol = combo
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    produce(kafka_broker.bootstrap_servers, topic, 3)
    tp = TopicPartition(topic, 0)

    earliest = make(f"{group}-e", auto_offset_reset="earliest")
    earliest.subscribe([topic], Recorder())
    assert _offsets(poll_records(earliest, 3)) == [(0, 0), (0, 1), (0, 2)]
    earliest.close()

    latest = make(f"{group}-l", auto_offset_reset="latest")
    rec = Recorder()
    latest.subscribe([topic], rec)
    _join(latest, rec, {tp})
    assert latest.position(tp) == 3
    produce(kafka_broker.bootstrap_servers, topic, 2, start=3)
    assert _offsets(poll_records(latest, 2)) == [(0, 3), (0, 4)]
    latest.close()

    if not target.capabilities.offset_reset_none:  # the client cannot: it must refuse it
        with pytest.raises(Unsupported):
            make(f"{group}-n", auto_offset_reset="none")
        return
    none = make(f"{group}-n", auto_offset_reset="none")
    none_rec = Recorder()
    none.subscribe([topic], none_rec)
    raised: list[NoOffsetForPartition] = []

    def step() -> None:  # half-second polls, as in _join: short ones stall kafka-python 3.x
        try:
            assert none.poll(0.5) == [], "records returned without a committed offset"
        except NoOffsetForPartition as exc:
            raised.append(exc)

    try:
        wait_for(lambda: raised, TIMEOUT, "NoOffsetForPartition from poll()", step)
    except AssertionError:
        _xfail_on_the_known_stall(none, none_rec, {tp})
        raise
    assert tp in none.assignment()
    with pytest.raises(NoOffsetForPartition):
        none.position(tp)
    none.close()
    assert capfd.readouterr().out == "", "a client wrote to stdout"


def processed(consumer: Adapter, records: list[Record]) -> None:
    """The application processed ``records``: an adapter whose commit() without offsets commits
    stored offsets (capability ``stores_processed``) stores them first."""
    if consumer.capabilities.stores_processed:
        consumer.store(records)


# -- S1/S5: commit, committed, resume at the committed offset --------------------------------
def test_commit_then_committed_and_a_new_member_resumes(make, kafka_broker, kafka_names) -> None:
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    produce(kafka_broker.bootstrap_servers, topic, 10, partitions=2)
    tps = _tps(topic, 2)

    first = make(group)
    first.subscribe([topic], Recorder())
    records = poll_records(first, 4, max_records=4)
    assert_in_order(records)
    expected = next_offsets(records)
    processed(first, records)
    assert first.commit() == expected
    assert first.committed(tps) == {tp: expected.get(tp) for tp in tps}
    assert kafka_broker.admin.committed(group, topic) == {
        (tp.topic, tp.partition): o for tp, o in expected.items()}
    first.close()

    second = make(group)
    second.subscribe([topic], Recorder())
    rest = poll_records(second, 6)
    assert_in_order(rest)
    for tp in tps:
        offsets = [r.offset for r in rest if r.tp == tp]
        assert offsets and offsets[0] == expected.get(tp, 0), f"{tp} resumed at {offsets[:1]}"
    assert set(_offsets(records)) | set(_offsets(rest)) == {(p, o) for p in (0, 1)
                                                            for o in range(5)}
    assert not set(_offsets(records)) & set(_offsets(rest)), "committed records read again"


class _Polls:
    """One-record polls of a consumer, each kept with how many listener events had arrived
    when it returned, so that a test can look at the records read after a given event."""

    def __init__(self, consumer: Adapter, rec: Recorder, tp: TopicPartition) -> None:
        self.consumer, self.rec, self.tp = consumer, rec, tp
        self.done: list[tuple[int, list[int]]] = []

    def __call__(self) -> None:
        offsets = [r.offset for r in self.consumer.poll(0.2, 1) if r.tp == self.tp]
        self.done.append((len(self.rec.events), offsets))

    def assert_resumes_at(self, offset: int, after: int, what: str) -> None:
        """The first record read once listener event ``after`` had arrived is ``offset``."""
        resumed = wait_for(lambda: [o for n, offsets in self.done if n > after
                                    for o in offsets], TIMEOUT, what, self)
        assert resumed[0] == offset, (f"resumed at {resumed[0]} instead of the committed "
                                      f"offset {offset} (listener: {self.rec.events})")


def test_a_partition_given_back_resumes_at_the_committed_offset(make, kafka_broker,
                                                                kafka_names) -> None:
    """A member whose partition is revoked in a rebalance (eager protocols revoke everything:
    here the topic grows) and assigned again resumes at the committed offset: its position and
    the records it fetched ahead belong to the old ownership (what another member committed
    meanwhile would be skipped or read again otherwise)."""
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    produce(kafka_broker.bootstrap_servers, topic, 40)
    tp = TopicPartition(topic, 0)
    consumer, rec = make(group, metadata_max_age_ms=500), Recorder()
    consumer.subscribe([topic], rec)
    assert [r.offset for r in poll_records(consumer, 4, max_records=4)] == [0, 1, 2, 3]
    consumer.commit({tp: 2})  # the application processed 0-1 only: 2-3 must come again
    poll = _Polls(consumer, rec, tp)
    kafka_broker.admin.add_partitions(topic, 2)
    wait_for(lambda: len(rec.owned()) == 2, TIMEOUT, "the grown assignment", poll)
    taken = [n for n, (kind, parts) in enumerate(rec.events)
             if kind in ("revoked", "lost") and tp in parts]
    if not taken:
        return  # an incremental rebalance kept the partition where it was: nothing to see
    back = max(n for n, (kind, parts) in enumerate(rec.events)
               if kind == "assigned" and tp in parts)
    assert back > taken[-1]
    poll.assert_resumes_at(2, back, "records after the partition came back")


def _one_partition(make, kafka_broker, kafka_names, count: int):
    """A one-partition topic holding ``count`` records, its partition, a consumer of the
    group and a listener recording its calls."""
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    produce(kafka_broker.bootstrap_servers, topic, count)
    return topic, TopicPartition(topic, 0), make(group), Recorder()


def test_unsubscribe_then_subscribe_resumes_at_the_committed_offset(make, combo, kafka_broker,
                                                                     kafka_names) -> None:
    """unsubscribe() (capability ``unsubscribe``) gives the partitions back: the listener
    hears revoked or lost before the partition is assigned again (inside the call, during the
    next poll or at the next join); subscribing again, the member resumes at the committed
    offset, not at its old position. Without the capability the call raises Unsupported."""
    target, _protocol = combo
    topic, tp, consumer, rec = _one_partition(make, kafka_broker, kafka_names, 10)
    if not target.capabilities.unsubscribe:
        with pytest.raises(Unsupported):
            consumer.unsubscribe()
        return
    consumer.subscribe([topic], rec)
    assert [r.offset for r in poll_records(consumer, 4, max_records=4)] == [0, 1, 2, 3]
    consumer.commit({tp: 2})  # the application processed 0-1 only: 2-3 must come again
    left = len(rec.events)  # the listener's events from here on follow unsubscribe()
    consumer.unsubscribe()
    consumer.subscribe([topic], rec)
    poll = _Polls(consumer, rec, tp)

    def given_back() -> int | None:
        return next((n for n, (kind, parts) in enumerate(rec.events)
                     if n >= left and kind == "assigned" and tp in parts), None)

    back = wait_for(given_back, TIMEOUT, "the partition assigned again", poll)
    poll.assert_resumes_at(2, back, "records after subscribing again")
    assert [kind for kind, parts in rec.events[left:back]
            if kind in ("revoked", "lost") and tp in parts], \
        f"the listener never heard the partition go before it came back: {rec.events}"


# -- S7: seek, manual assignment -------------------------------------------------------------
def test_seek_then_poll_returns_exactly_that_offset(make, combo, kafka_broker,
                                                    kafka_names) -> None:
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    _needs_manual_assignment(make, combo, TopicPartition(topic, 0))
    produce(kafka_broker.bootstrap_servers, topic, 8)
    tp = TopicPartition(topic, 0)

    fresh = make(group)
    fresh.assign([tp])
    fresh.seek(tp, 3)  # before the first poll
    assert fresh.position(tp) == 3
    assert [r.offset for r in poll_records(fresh, 1, max_records=1)] == [3]
    fresh.close()

    consumer = make(group)
    consumer.assign([tp])
    assert [r.offset for r in poll_records(consumer, 5, max_records=5)] == [0, 1, 2, 3, 4]
    assert consumer.position(tp) == 5
    consumer.seek(tp, 2)  # backwards
    assert consumer.position(tp) == 2
    assert [r.offset for r in poll_records(consumer, 1, max_records=1)] == [2]
    consumer.seek(tp, 6)  # forwards
    assert [r.offset for r in poll_records(consumer, 2)] == [6, 7]
    assert consumer.position(tp) == 8


def test_seek_to_end_then_poll_returns_the_next_record_written(make, combo, kafka_broker,
                                                               kafka_names) -> None:
    """seek_to_end() (capability ``seek_to_end``) skips the backlog: the position is the end
    and the next record is the first one written after the call; called again when caught
    up it changes nothing. Without the capability the call raises Unsupported."""
    target, _protocol = combo
    topic, tp, consumer, rec = _one_partition(make, kafka_broker, kafka_names, 8)
    if not target.capabilities.seek_to_end:
        with pytest.raises(Unsupported):
            consumer.seek_to_end(tp)
        return
    consumer.subscribe([topic], rec)
    assert [r.offset for r in poll_records(consumer, 3, max_records=3)] == [0, 1, 2]
    consumer.seek_to_end(tp)  # 3-7 are skipped on purpose
    assert consumer.position(tp) == 8
    produce(kafka_broker.bootstrap_servers, topic, 2)
    assert [r.offset for r in poll_records(consumer, 2)] == [8, 9]
    consumer.seek_to_end(tp)  # caught up: a no-op
    assert consumer.position(tp) == 10
    produce(kafka_broker.bootstrap_servers, topic, 1)
    assert [r.offset for r in poll_records(consumer, 1)] == [10]


def test_assign_works_without_group_management(make, combo, kafka_broker,
                                               kafka_names) -> None:
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    _needs_manual_assignment(make, combo, TopicPartition(topic, 0))
    produce(kafka_broker.bootstrap_servers, topic, 6, partitions=2)
    tps = _tps(topic, 2)

    standalone = make(None)
    standalone.assign(tps)
    assert standalone.assignment() == tps
    records = poll_records(standalone, 6)
    assert_in_order(records)
    assert _offsets(records) == [(p, o) for p in (0, 1) for o in range(3)]
    with pytest.raises(IllegalState):
        standalone.commit()  # no group to commit to
    standalone.close()
    with pytest.raises(IllegalState):
        standalone.poll(0.1)

    with_group = make(group)  # manual assignment, commits to the group (S7)
    with_group.assign(tps[:1])
    records = poll_records(with_group, 3)
    assert _offsets(records) == [(0, 0), (0, 1), (0, 2)]
    processed(with_group, records)
    assert with_group.commit() == {tps[0]: 3}
    assert kafka_broker.admin.committed(group, topic) == {(topic, 0): 3}
    assert with_group.assignment() == tps[:1]


KAFKA_PYTHON_RESUME_STALL = (
    "kafka-python 3.0.12 (KAFKA-7548 port, dpkp/kafka-python#2981): records of a partition "
    "paused while a fetched batch of it was in hand are parked; on resume they are restored "
    "only if the fetcher's in-line slot is None, but it keeps the exhausted batch of another "
    "partition (falsy, not None), and a parked partition is never fetched again: the resumed "
    "partition stalls for good. The iterator API (kafka-python:records) is not affected: its "
    "poll() takes whole batches, so nothing is parked")


def _parks_paused_batches(target: Target) -> bool:
    """kafka-python 3.x has the fetcher's parking of paused batches (2.x has not)."""
    major = target.client_version.split(".", 1)[0]
    return target.adapter == "kafka-python" and major.isdigit() and int(major) >= 3


def test_transaction_markers_and_aborted_records_are_not_records(make, kafka_broker,
                                                                  kafka_names) -> None:
    """KIP-98: a transaction's control marker takes an offset but is no record, under either
    isolation level; read_committed hides an aborted transaction's records."""
    from confluent_kafka import Producer

    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers,
                         "transactional.id": f"{group}-tx"})
    producer.init_transactions(30)
    for commit, values in ((False, (b"a0", b"a1")), (True, (b"c0", b"c1"))):
        producer.begin_transaction()
        for value in values:
            producer.produce(topic, value=value, partition=0)
        producer.flush(30)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)
    # the coordinator writes the markers after EndTxn returns: a plain record produced at once
    # may land before the commit marker
    wait_for(lambda: kafka_broker.admin.watermarks(topic)[0][1] >= 6, TIMEOUT,
             "both transaction markers written")
    produce(kafka_broker.bootstrap_servers, topic, 1, partition=0)  # offset 6, after 2 markers
    # offsets: 0-1 aborted, 2 abort marker, 3-4 committed, 5 commit marker, 6 plain
    uncommitted = make(f"{group}-u", isolation_level="read_uncommitted")
    uncommitted.subscribe([topic], Recorder())
    assert [r.offset for r in poll_records(uncommitted, 5)] == [0, 1, 3, 4, 6]
    try:
        committed = make(f"{group}-c", isolation_level="read_committed")
    except Unsupported:
        return  # the release reads uncommitted only
    committed.subscribe([topic], Recorder())
    assert [r.offset for r in poll_records(committed, 3)] == [3, 4, 6]


def test_resuming_what_was_never_paused_changes_nothing(make, kafka_broker,
                                                       kafka_names) -> None:
    """Applications resume their whole assignment, paused or not: resume() of a partition that
    is not paused leaves its position alone, nothing is delivered twice."""
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    produce(kafka_broker.bootstrap_servers, topic, 20, partitions=2)
    consumer = make(group)
    consumer.subscribe([topic], Recorder())
    first = poll_records(consumer, 20)
    p0, p1 = _tps(topic, 2)
    consumer.pause([p0])
    consumer.pause([p0])  # twice: a redundant call too
    consumer.resume([p0, p1])  # p1 was never paused
    produce(kafka_broker.bootstrap_servers, topic, 4, partitions=2, start=20)
    rest = poll_records(consumer, 4)
    again = sorted(set(_offsets(first)) & set(_offsets(rest)))
    assert not again, f"delivered again after resume(): {again}"
    assert _offsets(rest) == [(0, 10), (0, 11), (1, 10), (1, 11)]


def test_pause_stops_delivery_and_resume_continues(make, combo, kafka_broker,
                                                   kafka_names) -> None:
    target, _protocol = combo
    stalls = _parks_paused_batches(target)
    topic, _group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    _needs_manual_assignment(make, combo, TopicPartition(topic, 0))
    servers = kafka_broker.bootstrap_servers
    produce(servers, topic, 6, partition=0)
    produce(servers, topic, 3, partition=1)
    p0, p1 = _tps(topic, 2)

    consumer = make(None)
    consumer.assign([p0, p1])
    records: list[Record] = []
    wait_for(lambda: sum(r.tp == p0 for r in records) >= 3, TIMEOUT, "3 records of p0",
             lambda: records.extend(consumer.poll(0.1, 1)))
    consumer.pause([p0])
    produce(servers, topic, 3, start=6, partition=0)
    produce(servers, topic, 3, start=3, partition=1)

    def paused_step() -> None:
        got = consumer.poll(0.1)
        assert not [r for r in got if r.tp == p0], f"paused partition delivered {got}"
        records.extend(got)

    wait_for(lambda: sum(r.tp == p1 for r in records) >= 6, TIMEOUT, "6 records of p1",
             paused_step)
    assert not [r for r in poll_for((consumer,), 0.5) if r.tp == p0], "paused p0 delivered"
    consumer.resume([p0])
    try:
        wait_for(lambda: sum(r.tp == p0 for r in records) >= 9, 5.0, "9 records of p0",
                 lambda: records.extend(consumer.poll(0.1)))
    except AssertionError:
        if stalls:
            assert [r.offset for r in records if r.tp == p0] == [0, 1, 2]
            pytest.xfail(KAFKA_PYTHON_RESUME_STALL)
        raise
    assert not stalls, \
        f"{target} resumed the partition: the known stall is fixed, update this test"
    assert [r.offset for r in records if r.tp == p0] == list(range(9)), "gap or repeat"
    assert [r.offset for r in records if r.tp == p1] == list(range(6))


# -- S8: rebalance listener --------------------------------------------------------------------
def test_listener_on_join_and_on_close(make, combo, kafka_broker, kafka_names) -> None:
    target, _protocol = combo
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    produce(kafka_broker.bootstrap_servers, topic, 6, partitions=2)
    everything = set(_tps(topic, 2))

    consumer = make(group)
    rec = Recorder()
    rec.on_revoked_commit = consumer  # commit the processed offsets inside on_revoked
    consumer.subscribe([topic], rec)
    records = poll_records(consumer, 6)
    rec.processed(records)
    _join(consumer, rec, everything)
    assert set(rec.kinds()) == {"assigned"}, rec.events
    assert rec.partitions("assigned") == everything

    consumer.close()
    # every client revokes the owned partitions on close; nothing is "lost"
    assert rec.kinds()[-1] == "revoked", rec.events
    assert rec.partitions("revoked") == everything
    assert "lost" not in rec.kinds()
    if target.worker:  # the commit inside on_revoked raised Unsupported: see NESTED_CALL
        with pytest.raises(IllegalState):
            consumer.poll(0.1)
        assert rec.revoke_commits and all(isinstance(c, Unsupported)
                                          for c in rec.revoke_commits), rec.revoke_commits
        pytest.skip(f"{target}: the listener part passed; {NESTED_CALL}")
    assert rec.revoke_commits and all(isinstance(c, dict) for c in rec.revoke_commits), \
        rec.revoke_commits
    assert kafka_broker.admin.committed(group, topic) == {(topic, 0): 3, (topic, 1): 3}
    with pytest.raises(IllegalState):
        consumer.poll(0.1)


def test_assignment_arrives_when_polls_are_short_and_far_apart(make, kafka_broker,
                                                               kafka_names) -> None:
    """An application that polls briefly and works in between (well within
    max.poll.interval.ms) still gets its partitions: a join completes across poll() calls."""
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    produce(kafka_broker.bootstrap_servers, topic, 4, partitions=2)
    everything = set(_tps(topic, 2))

    consumer = make(group)
    rec = Recorder()
    consumer.subscribe([topic], rec)
    records: list[Record] = []

    def sparse_step() -> None:
        records.extend(consumer.poll(0.001))
        time.sleep(0.3)  # the application's work between polls

    wait_for(lambda: rec.owned() == everything, 6.0,
             "the assignment with 1 ms polls 300 ms apart", sparse_step)
    wait_for(lambda: len(records) >= 4, TIMEOUT, "4 records",
             lambda: records.extend(consumer.poll(0.1)))
    assert_in_order(records)


def test_cooperative_rebalance_revokes_only_moving_partitions(make, combo, kafka_broker,
                                                              kafka_names) -> None:
    target, protocol = combo
    topic, group = kafka_names
    if protocol == GroupProtocol.CLASSIC and not target.capabilities.cooperative:
        config = ConsumerConfig(kafka_broker.bootstrap_servers, group_id=group,
                                assignment_strategy="cooperative-sticky")
        assert target.cls is not None
        with pytest.raises(Unsupported):
            target.cls.check_config(config)
        return
    kafka_broker.admin.create_topic(topic, 4)
    everything = set(_tps(topic, 4))

    first = make(group, assignment_strategy="cooperative-sticky")
    r1 = Recorder()
    first.subscribe([topic], r1)
    _join(first, r1, everything)
    second = make(group, assignment_strategy="cooperative-sticky")
    r2 = Recorder()
    second.subscribe([topic], r2)

    def settled() -> bool:
        a, b = r1.owned(), r2.owned()
        return bool(a) and bool(b) and not a & b and a | b == everything

    wait_for(settled, TIMEOUT, "both members owning partitions",
             lambda: (first.poll(0.05), second.poll(0.05)))
    moved = r1.partitions("revoked")
    assert moved == r2.owned(), (r1.events, r2.events)
    assert "lost" not in r1.kinds() + r2.kinds()
    assert r1.owned() == everything - moved  # the kept partitions were never revoked
    assert r1.kinds().count("assigned") == 1, r1.events


# -- S5: commits, callbacks and failures -----------------------------------------------------
def test_async_commit_reports_success_and_failure(make, kafka_broker, kafka_names) -> None:
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    produce(kafka_broker.bootstrap_servers, topic, 4)
    tp = TopicPartition(topic, 0)

    consumer = make(group)
    consumer.subscribe([topic], Recorder())
    processed(consumer, poll_records(consumer, 4))
    ok = CommitResults()
    assert consumer.commit(asynchronous=True, callback=ok) is None
    wait_for(lambda: ok.results, TIMEOUT, "the async commit callback",
             lambda: consumer.poll(0.1))
    assert ok.results == [({tp: 4}, None)]
    assert consumer.committed([tp]) == {tp: 4}

    missing = TopicPartition(f"{topic}-missing", 0)
    bad = CommitResults()
    consumer.commit({missing: 1}, asynchronous=True, callback=bad)
    wait_for(lambda: bad.results, TIMEOUT, "the failed async commit callback",
             lambda: consumer.poll(0.1))
    (offsets, error), = bad.results
    assert offsets == {missing: 1}
    assert isinstance(error, CommitFailed), error
    assert consumer.committed([tp]) == {tp: 4}

    last = CommitResults()  # still in flight when close() starts: reported inside close()
    consumer.commit({tp: 2}, asynchronous=True, callback=last)
    consumer.close()
    assert last.results == [({tp: 2}, None)]
    assert kafka_broker.admin.committed(group, topic) == {(topic, 0): 2}


def test_commit_after_removal_from_the_group_fails(make, combo, kafka_broker,
                                                   kafka_names) -> None:
    target, protocol = combo
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 2)
    produce(kafka_broker.bootstrap_servers, topic, 6, partitions=2)
    everything = set(_tps(topic, 2))
    quick = {"max_poll_interval_ms": 2000, "session_timeout_ms": 2000,
             "heartbeat_interval_ms": 300}

    stalled = make(group, **quick)
    r1 = Recorder()
    stalled.subscribe([topic], r1)
    records = poll_records(stalled, 2, max_records=2)
    _join(stalled, r1, everything)
    processed = next_offsets(records)
    # `stalled` stops polling: it exceeds max_poll_interval_ms and the group gives its
    # partitions to `taker`.
    taker = make(group, **quick)
    r2 = Recorder()
    taker.subscribe([topic], r2)
    _join(taker, r2, everything)

    with pytest.raises(CommitFailed):
        stalled.commit(processed)
    assert kafka_broker.admin.committed(group, topic) == {}

    failed = CommitResults()
    stalled.commit(processed, asynchronous=True, callback=failed)
    wait_for(lambda: failed.results, TIMEOUT, "the async commit callback",
             lambda: (stalled.poll(0.1), taker.poll(0.05)))
    assert isinstance(failed.results[0][1], CommitFailed), failed.results
    assert kafka_broker.admin.committed(group, topic) == {}

    # Polling again, the removed member learns that its partitions are gone.
    wait_for(lambda: r1.partitions("lost") | r1.partitions("revoked") >= everything, TIMEOUT,
             "the listener to give up the old partitions",
             lambda: (stalled.poll(0.1), taker.poll(0.05)))
    first_gone = r1.events[1:]
    gone = {kind for kind, _ in first_gone[:2]}
    if not target.capabilities.on_lost:  # the client cannot tell lost from revoked
        assert first_gone[0] == ("revoked", sorted(everything)), r1.events
    elif target.adapter.startswith("kafka-python") or (target.adapter == "java"
                                                      and protocol == GroupProtocol.CLASSIC):
        assert first_gone[0] == ("lost", sorted(everything)), r1.events
    elif protocol == GroupProtocol.CLASSIC:
        # librdkafka does not flag them lost after max.poll.interval
        assert first_gone[0] == ("revoked", sorted(everything)), r1.events
    else:
        assert gone <= {"revoked", "lost"}, r1.events


def test_auto_commits_reach_the_auto_commit_callback(make, combo, kafka_broker,
                                                     kafka_names) -> None:
    target, _protocol = combo
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    produce(kafka_broker.bootstrap_servers, topic, 6)
    tp = TopicPartition(topic, 0)
    stores = target.stores()  # overrides the no-op default

    periodic = make(group, enable_auto_commit=True, auto_commit_interval_ms=200)
    auto = CommitResults()
    periodic.set_auto_commit_callback(auto)
    recorder = Recorder()
    periodic.subscribe([topic], recorder)
    try:
        records = poll_records(periodic, 6)
    except AssertionError:  # nothing read: kafka-python's first-join stall, or a failure
        _xfail_on_the_known_stall(periodic, recorder, {tp})
        raise
    expected = 6
    if stores:  # only what was stored (processed) is committed
        assert periodic.store(records[:4]) == {tp: 4}
        expected = 4
    wait_for(lambda: ({tp: expected}, None) in auto.results, TIMEOUT,
             f"an auto commit of {expected}", lambda: periodic.poll(0.1))
    assert kafka_broker.admin.committed(group, topic) == {(topic, 0): expected}
    assert all(o.get(tp, 0) <= expected for o, _ in auto.results), auto.results
    periodic.close()

    on_close = make(f"{group}-c", enable_auto_commit=True, auto_commit_interval_ms=600000)
    at_close = CommitResults()
    on_close.set_auto_commit_callback(at_close)
    on_close.subscribe([topic], Recorder())
    records = poll_records(on_close, 6)
    if stores:
        on_close.store(records)
    on_close.close()
    assert ({tp: 6}, None) in at_close.results, at_close.results
    assert kafka_broker.admin.committed(f"{group}-c", topic) == {(topic, 0): 6}


def test_errors_are_normalized(make, combo, kafka_broker, kafka_names) -> None:
    topic, group = kafka_names
    kafka_broker.admin.create_topic(topic, 1)
    _needs_manual_assignment(make, combo, TopicPartition(topic, 0))
    consumer = make(group)
    consumer.assign([TopicPartition(topic, 0)])
    with pytest.raises(IllegalState):
        consumer.seek(TopicPartition(topic, 5), 0)  # not assigned
    with pytest.raises(ConsumerError):
        consumer.position(TopicPartition(f"{topic}-other", 0))
    consumer.close()
    consumer.close()  # closing twice is harmless
    with pytest.raises(IllegalState):
        make(None).subscribe([topic], Recorder())  # group management needs a group id
    with pytest.raises(IllegalState):
        consumer.commit({TopicPartition(topic, 0): 0})


#: What a test module re-exports to collect the suite (tests/integration/test_adapter_contract.py)
__all__ = ["DEVIATIONS", "make", "pytest_generate_tests", "pytestmark",
           *sorted(name for name in dir() if name.startswith("test_"))]
