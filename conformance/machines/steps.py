"""The step vocabulary of generated scenarios: every step defined once, here.

A :class:`Step` holds what Hypothesis draws for it (one or more rule variants), its
precondition, how drawn values become the recorded arguments (a member index becomes a member
id, a partition index one of its partitions), what it does to the scenario, and its label on the
timeline. The state machine's rules (:mod:`conformance.machines.group`), the replay of a saved
example, the printed program and :class:`conformance.program.Program` are all made from
:data:`STEPS`. A step acts on a :class:`Stage` (the harness and the scenario's state), which
:class:`~conformance.machines.scenario.Scenario` satisfies. To add a fault: write its harness
operation (``conformance/harness/faults.py``), then one ``@step`` function below;
docs/faults.md says which checks judge it.

Families (``ScenarioSpec.faults`` chooses which are drawn): ``core`` (produce, members, pause,
rewind, growth, waiting), ``zombie`` (frozen members), ``network`` (slow, cut and black-holed
connections, needs a proxied broker), ``broker`` (node restarts, leader and coordinator moves,
needs 3 nodes), ``protocol`` (one member's next requests of one Kafka API answered with an
error, their responses lost or delayed, through the same proxies; the (API, error) pairs are
:data:`conformance.faults.catalog.ERRORS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st

from conformance.errors import UsageError
from conformance.faults import catalog
from conformance.harness import Harness

MAX_MEMBERS = 3
MAX_PARTITIONS = 6
FAMILIES = ("core", "zombie", "network", "broker", "protocol")

Args = dict[str, Any]
MEMBER = st.integers(0, MAX_MEMBERS - 1)
PARTITION = st.integers(0, MAX_PARTITIONS - 1)


class Stage(Protocol):
    """What a step needs of the scenario it runs in: the harness and the scenario's state.

    :class:`conformance.machines.scenario.Scenario` satisfies it without naming it (so steps
    never import the scenario that imports them); a default written ``...`` is the
    Scenario's own (``tests/unit/test_harness_interfaces.py`` holds the two together)."""

    h: Harness
    #: the fault families drawn beside ``core``, ``core`` first
    families: tuple[str, ...]
    #: whether partitions may be added
    growth: bool
    #: the consume paths members are started with (the default adapter first)
    paths: list[str]
    #: (member, partition) pairs paused by a step and not resumed since
    paused: set[tuple[str, int]]

    def owned_request(self, member: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """A command about a partition the member owned a moment ago (None: moved away)."""
        ...

    def rewind(self, member: str, partition: int, back: int, wait: float = ...) -> None:
        """Seek ``member`` back ``back`` records on ``partition`` and watch it re-read."""
        ...

    def catch_up(self, member: str, wait: float = ...) -> bool:
        """Wait until ``member`` has polled what its unpaused partitions hold."""
        ...

    def seek_to_end(self, member: str, partition: int, wait: float = ...) -> None:
        """The client's own seek to the end, once the member has caught up."""
        ...

    def settle(self, timeout: float = ...) -> bool:
        """Wait until the group settles (the example ends if it does not)."""
        ...

    def consume(self, timeout: float = ..., quiet: float = ...) -> None:
        """Let the members work until what was produced is processed, or quiet."""
        ...


@dataclass(frozen=True)
class Step:
    """One step: ``run(scenario, **args)`` with the recorded ``args``.

    ``draws``: one dict of Hypothesis strategies per rule variant (a step drawn more often gets
    several); ``i`` draws a live member (recorded as ``member``), ``j`` one of its partitions
    (recorded as ``partition``; no partition, no step). ``when``: the precondition beyond the
    family being enabled and a usable example. ``label``: ``str.format`` over the args."""

    name: str
    run: Callable[..., Any]
    label: str | Callable[[Args], str]
    family: str = "core"
    draws: tuple[dict[str, st.SearchStrategy[Any]], ...] = ({},)
    when: Callable[[Stage], bool] = field(default=lambda sc: True)
    needs_member: bool = False
    resolver: Callable[[Stage, Args], Args | None] | None = None

    def enabled(self, sc: Stage) -> bool:
        """Whether the machine may draw this step now."""
        if self.family not in sc.families:
            return False
        if self.needs_member and not sc.h.live():
            return False
        return bool(self.when(sc))

    def resolve(self, sc: Stage, drawn: Args) -> Args | None:
        """The recorded arguments of drawn values; None when the step has no target now."""
        if self.resolver is not None:
            return self.resolver(sc, drawn)
        args = {k: v for k, v in drawn.items() if k not in ("i", "j")}
        if "i" in drawn:
            live = sc.h.live()
            if not live:
                return None
            member = live[drawn["i"] % len(live)]
            args = {"member": member, **args}
            if "j" in drawn:
                owned = sorted(sc.h.owned(member))
                if not owned:
                    return None
                args = {"member": member,
                        "partition": owned[drawn["j"] % len(owned)][1],
                        **{k: v for k, v in args.items() if k != "member"}}
        return args

    def describe(self, args: Args) -> str:
        """The step's label for ``args`` (the timeline and the console show it)."""
        try:
            return self.label(args) if callable(self.label) else self.label.format(**args)
        except (KeyError, IndexError, ValueError):
            return self.name


STEPS: dict[str, Step] = {}


def step(label: str | Callable[[Args], str], *, family: str = "core",
         draws: tuple[dict[str, st.SearchStrategy[Any]], ...] = ({},),
         when: Callable[[Stage], bool] | None = None,
         resolver: Callable[[Stage, Args], Args | None] | None = None,
         ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated ``fn(scenario, **args)`` as the step named after it."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        assert family in FAMILIES, family
        needs_member = any("i" in d for d in draws)
        STEPS[fn.__name__] = Step(fn.__name__, fn, label, family, draws,
                                  when or (lambda sc: True), needs_member, resolver)
        return fn

    return register


def get(name: str) -> Step:
    try:
        return STEPS[name]
    except KeyError:
        raise UsageError(f"unknown step {name!r} (known: {', '.join(STEPS)})") from None


def _keys(count: int) -> list[str]:
    return [f"k{i}" for i in range(count)]


# -- core ------------------------------------------------------------------------------------
@step("produce {count} records over {keys} keys",
      draws=({"count": st.integers(1, 40), "keys": st.integers(1, 4)},))
def produce(sc: Stage, count: int, keys: int = 3) -> None:
    sc.h.produce(count, _keys(keys))


@step(lambda a: f"produce {a['count']} records over {a['keys']} keys in a transaction that "
      + ("commits" if a.get("commit") else "aborts"),
      draws=({"count": st.integers(1, 20), "keys": st.integers(1, 4),
              "commit": st.booleans()},))
def produce_transaction(sc: Stage, count: int, keys: int = 3, commit: bool = True) -> None:
    """Records in a transaction (KIP-98): the topic gains control markers and, for an abort,
    records a read_committed consumer must never see (``isolation``)."""
    sc.h.transactions.produce(count, _keys(keys), commit)


def _consume_path(sc: Stage, drawn: Args) -> Args:
    """A member's consume path: the client's default adapter or one of its variants (e.g.
    ``confluent-kafka:batch``); recorded only when it is not the default."""
    paths = sc.paths
    adapter = paths[drawn.get("path", 0) % len(paths)] if paths else sc.h.adapter
    return {} if adapter == sc.h.adapter else {"adapter": adapter}


@step(lambda a: "start a member" + (f" consuming through {a['adapter']}"
                                    if a.get("adapter") else ""),
      draws=({"path": st.integers(0, 5)},), when=lambda sc: len(sc.h.live()) < MAX_MEMBERS,
      resolver=_consume_path)
def start_member(sc: Stage, adapter: str | None = None) -> str:
    """Start a member (of the client's default consume path, or ``adapter``: one of the
    client's variants, so every path is judged in the default run)."""
    return sc.h.start_member(adapter=adapter).member


@step("SIGKILL {member}", draws=({"i": MEMBER, "mid_batch": st.booleans()},
                                 {"i": MEMBER, "mid_batch": st.just(True)}))
def kill_member(sc: Stage, member: str, mid_batch: bool = False) -> None:
    """SIGKILL a member; ``mid_batch``: produce a batch and kill it while it processes (the
    fault that matters most, so a second rule variant draws only that)."""
    if mid_batch:
        sc.h.kill_member(member, mid_batch=True, trigger=lambda: sc.h.produce(20, _keys(3)))
    else:
        sc.h.kill_member(member)


@step("stop {member} (close)", draws=({"i": MEMBER},))
def stop_member(sc: Stage, member: str) -> None:
    sc.h.stop_member(member)


@step("add {count} partition(s)", draws=({"count": st.integers(1, 2)},),
      when=lambda sc: sc.growth and sc.h.partitions < MAX_PARTITIONS)
def add_partitions(sc: Stage, count: int) -> None:
    sc.h.add_partitions(count)


@step("{member} pauses partition {partition}", draws=({"i": MEMBER, "j": PARTITION},))
def pause(sc: Stage, member: str, partition: int) -> None:
    if sc.owned_request(member, {"type": "pause",
                                 "partitions": [[sc.h.topic, partition]]}) is not None:
        sc.paused.add((member, partition))


def _paused_member(sc: Stage, drawn: Args) -> Args | None:
    paused = sorted((m, p) for m, p in sc.paused if m in sc.h.live())
    if not paused:
        return None
    member, partition = paused[drawn["k"] % len(paused)]
    return {"member": member, "partition": partition}


@step("{member} resumes partition {partition}", draws=({"k": st.integers(0, 20)},),
      when=lambda sc: any(m in sc.h.live() for m, _p in sc.paused), resolver=_paused_member)
def resume(sc: Stage, member: str, partition: int) -> None:
    sc.paused.discard((member, partition))
    sc.owned_request(member, {"type": "resume", "partitions": [[sc.h.topic, partition]]})


@step("{member} seeks partition {partition} back {back}",
      draws=({"i": MEMBER, "j": PARTITION, "back": st.integers(1, 10)},))
def rewind(sc: Stage, member: str, partition: int, back: int) -> None:
    sc.rewind(member, partition, back)


@step("wait until the group settles", draws=({},), when=lambda sc: bool(sc.h.live()))
def settle(sc: Stage) -> None:
    sc.settle()


@step("let the members consume", draws=({},), when=lambda sc: bool(sc.h.live()))
def consume(sc: Stage) -> None:
    sc.consume()


def _able(sc: Stage, member: str, capability: str) -> bool:
    """Whether the member's adapter has ``capability`` (its worker's ``capabilities``)."""
    handle = sc.h.workers.get(member)
    caps = handle.info.get("capabilities") if handle is not None else None
    return bool(isinstance(caps, dict) and caps.get(capability))


def _able_member(capability: str) -> Callable[[Stage, Args], Args | None]:
    """A resolver: a live member with ``capability`` (with a drawn ``j``: one that owns
    partitions, and the ``j``-th of them)."""
    def resolve(sc: Stage, drawn: Args) -> Args | None:
        able = [m for m in sc.h.live() if _able(sc, m, capability)
                and ("j" not in drawn or sc.h.owned(m))]
        if not able:
            return None
        member = able[drawn["i"] % len(able)]
        if "j" not in drawn:
            return {"member": member}
        owned = sorted(sc.h.owned(member))
        return {"member": member, "partition": owned[drawn["j"] % len(owned)][1]}
    return resolve


def _anyone_able(capability: str) -> Callable[[Stage], bool]:
    return lambda sc: any(_able(sc, m, capability) for m in sc.h.live())


# -- redundant and boundary calls (each must leave no loss, no extra duplicate, no reorder) ---
@step("{member} resumes its whole assignment, paused or not", draws=({"i": MEMBER},))
def resume_all(sc: Stage, member: str) -> None:
    reply = sc.owned_request(member, {"type": "assignment"})
    if reply is None or not reply.get("partitions"):
        return
    sc.owned_request(member, {"type": "resume", "partitions": reply["partitions"]})
    sc.paused = {(m, p) for m, p in sc.paused if m != member}


@step("{member} pauses partition {partition} twice", draws=({"i": MEMBER, "j": PARTITION},))
def pause_twice(sc: Stage, member: str, partition: int) -> None:
    for _ in range(2):
        if sc.owned_request(member, {"type": "pause",
                                     "partitions": [[sc.h.topic, partition]]}) is None:
            return
    sc.paused.add((member, partition))


@step("{member} seeks partition {partition} to its current position",
      draws=({"i": MEMBER, "j": PARTITION},))
def seek_to_position(sc: Stage, member: str, partition: int) -> None:
    pos = sc.owned_request(member, {"type": "position", "topic": sc.h.topic,
                                    "partition": partition})
    if pos is not None and int(pos["offset"]) >= 0:
        sc.owned_request(member, {"type": "seek", "topic": sc.h.topic, "partition": partition,
                                  "offset": int(pos["offset"])})


@step("{member} seeks partition {partition} to its end (caught up)",
      draws=({"i": MEMBER, "j": PARTITION},), when=_anyone_able("seek_to_end"),
      resolver=_able_member("seek_to_end"))
def seek_to_end(sc: Stage, member: str, partition: int) -> None:
    """The client's own seek to the end once the member has read everything written (as an
    application skipping its backlog would, with none): it must resume with the next record
    written, without a gap or a re-read."""
    sc.seek_to_end(member, partition)


@step(lambda a: f"{a['member']} commits again with nothing new ("
      + ("its processed offsets" if a.get("explicit") else "no offsets: its positions")
      + (", async)" if a.get("asynchronous") else ")"),
      draws=({"i": MEMBER, "explicit": st.booleans(), "asynchronous": st.booleans()},))
def commit_again(sc: Stage, member: str, explicit: bool = True,
                 asynchronous: bool = False) -> None:
    sc.owned_request(member, {"type": "commit", "processed": explicit,
                              "asynchronous": asynchronous})


@step("{member} polls once with a {timeout} s timeout",
      draws=({"i": MEMBER, "timeout": st.sampled_from([0.0, 0.001])},))
def poll_now(sc: Stage, member: str, timeout: float) -> None:
    """Once the member has polled what was written (so that whatever it holds is what it
    handed over already, not a race with the fetch), one poll that does not wait: nothing
    new may come, and nothing it delivered before."""
    sc.catch_up(member)
    sc.owned_request(member, {"type": "poll", "timeout": timeout})


@step("{member} unsubscribes, then subscribes again", draws=({"i": MEMBER},),
      when=_anyone_able("unsubscribe"), resolver=_able_member("unsubscribe"))
def resubscribe(sc: Stage, member: str) -> None:
    """Leave the group and join again at once (an application switching topics back and
    forth): the member must resume at the committed offsets."""
    if sc.owned_request(member, {"type": "unsubscribe"}) is not None:
        sc.h.request(member, {"type": "subscribe", "topics": [sc.h.topic]})


def _owning(sc: Stage, drawn: Args) -> Args | None:
    """A live member that owns partitions (one that owns none has nothing to commit)."""
    owners = [m for m in sc.h.live() if sc.h.owned(m)]
    return {"member": owners[drawn["i"] % len(owners)]} if owners else None


@step("stop {member} (close) while an async commit is in flight", draws=({"i": MEMBER},),
      when=lambda sc: any(sc.h.owned(m) for m in sc.h.live()), resolver=_owning)
def close_during_async_commit(sc: Stage, member: str) -> None:
    """The group's committed offsets are observed as soon as the member is closed: what the
    close left is judged before a successor's first commit can move it on."""
    sc.owned_request(member, {"type": "commit", "processed": True, "asynchronous": True})
    sc.h.stop_member(member)
    sc.h.observe_group()


# -- zombie ----------------------------------------------------------------------------------
@step(lambda a: f"freeze {a['member']} (SIGSTOP) past its session timeout"
      + (" and max.poll.interval.ms" if a.get("past_poll_interval") else "") + ", then thaw",
      family="zombie", draws=({"i": MEMBER, "past_poll_interval": st.booleans()},))
def freeze_member(sc: Stage, member: str, past_poll_interval: bool = False) -> None:
    """Freeze a member halfway through a batch (a GC pause, a stopped container) while the
    group moves on without it, then let it go on: its late commits must fail and it must not
    read partitions it lost before it hears so (``zombie-fencing``)."""
    sc.h.faults.zombie(member, past_poll_interval, trigger=lambda: sc.h.produce(20, _keys(3)),
                       meanwhile=lambda: sc.h.produce(20, _keys(3)))


# -- network ---------------------------------------------------------------------------------
def _proxied(sc: Stage) -> bool:
    return sc.h.faults.network_available


@step("delay {member}'s traffic by {delay_ms} ms for {seconds} s", family="network",
      draws=({"i": MEMBER, "delay_ms": st.sampled_from([50, 400, 2500]),
              "seconds": st.integers(1, 4)},), when=_proxied)
def slow_member(sc: Stage, member: str, delay_ms: int, seconds: int) -> None:
    sc.h.faults.network(member, "delay", seconds, delay_ms=delay_ms)


@step(lambda a: f"cut {a['member']}'s connections for {a['seconds']} s"
      + (" (black hole)" if a.get("silent") else ""), family="network",
      draws=({"i": MEMBER, "seconds": st.integers(1, 5), "silent": st.booleans()},),
      when=_proxied)
def cut_member(sc: Stage, member: str, seconds: int, silent: bool = False) -> None:
    sc.h.faults.network(member, "drop" if silent else "cut", seconds)


# -- Kafka protocol --------------------------------------------------------------------------
def _protocol(sc: Stage) -> bool:
    return sc.h.faults.protocol_available


def _provoke(sc: Stage, member: str, api: str) -> Callable[[], object] | None:
    """What makes ``member`` send ``api`` within the fault's window (see
    :data:`conformance.faults.catalog.PROVOKE`): records to process and commit, or a rejoin
    (unsubscribe, subscribe; members whose adapter can); None: it sends it on its own."""
    how = catalog.PROVOKE.get(api, "")
    if how == "commit":
        return lambda: sc.h.produce(10, _keys(3))
    if how == "rejoin" and _able(sc, member, "unsubscribe"):
        def rejoin() -> None:
            if sc.owned_request(member, {"type": "unsubscribe"}) is not None:
                sc.h.request(member, {"type": "subscribe", "topics": [sc.h.topic]})
        return rejoin
    return None


def _pick_member(sc: Stage, drawn: Args) -> str | None:
    live = sc.h.live()
    return live[drawn["i"] % len(live)] if live else None


def _error_pair(sc: Stage, drawn: Args) -> Args | None:
    """A member and one of the (API, error) pairs its group protocol meets (pairs that need a
    rejoin only for members that can unsubscribe)."""
    member = _pick_member(sc, drawn)
    if member is None:
        return None
    pairs = [e for e in catalog.errors_for(sc.h.faults.group_protocol)
             if e.provoke != "rejoin" or _able(sc, member, "unsubscribe")]
    pair = pairs[drawn["pair"] % len(pairs)]
    return {"member": member, "api": pair.api, "error": pair.error, "count": drawn["count"]}


def _api_of(table: dict[str, tuple[str, ...]], *keep: str) -> Callable[[Stage, Args],
                                                                         Args | None]:
    """A resolver: a member and one of ``table``'s APIs for its group protocol, with the
    drawn values named in ``keep``."""
    def resolve(sc: Stage, drawn: Args) -> Args | None:
        member = _pick_member(sc, drawn)
        if member is None:
            return None
        apis = table[sc.h.faults.group_protocol]
        return {"member": member, "api": apis[drawn["api"] % len(apis)],
                **{k: drawn[k] for k in keep}}
    return resolve


@step(lambda a: f"fail {a['member']}'s next "
      + (f"{a['count']} {a['api']} requests" if a.get("count", 1) > 1 else a["api"])
      + f" with {a['error']}", family="protocol",
      draws=({"i": MEMBER, "pair": st.integers(0, 63), "count": st.integers(1, 3)},),
      when=_protocol, resolver=_error_pair)
def fail_next(sc: Stage, member: str, api: str, error: str, count: int = 1) -> None:
    """The member's next ``count`` ``api`` requests never reach the broker: the proxy answers
    them with ``error`` (docs/faults.md says what a correct client does). A commit or a rejoin
    is provoked when the api needs one; healed once touched or after a few seconds."""
    sc.h.faults.protocol(member, api, "error", error=error, count=count,
                         trigger=_provoke(sc, member, api))


@step("lose the response to {member}'s next {api}", family="protocol",
      draws=({"i": MEMBER, "api": st.integers(0, 2)},), when=_protocol,
      resolver=_api_of(catalog.LOSE_APIS))
def lose_next_response(sc: Stage, member: str, api: str) -> None:
    """The member's next ``api`` request reaches the broker (and is applied) but its response
    is dropped and the connection closed: an OffsetCommit whose outcome the client cannot
    know."""
    sc.h.faults.protocol(member, api, "lose-response", trigger=_provoke(sc, member, api))


@step("delay {member}'s {api} responses by {delay_ms} ms for {seconds} s", family="protocol",
      draws=({"i": MEMBER, "api": st.integers(0, 2),
              "delay_ms": st.sampled_from([200, 500, 1000, 2000]),
              "seconds": st.integers(1, 5)},), when=_protocol,
      resolver=_api_of(catalog.SLOW_APIS, "delay_ms", "seconds"))
def slow_api(sc: Stage, member: str, api: str, delay_ms: int, seconds: int) -> None:
    """One api's responses to the member held ``delay_ms`` (a slow coordinator, a slow fetch)
    for ``seconds``, the member's other requests untouched; then healed."""
    sc.h.faults.protocol(member, api, "delay-response", count=None, delay_ms=delay_ms,
                         seconds=seconds, trigger=_provoke(sc, member, api))


# -- broker ----------------------------------------------------------------------------------
def _three_nodes(sc: Stage) -> bool:
    return sc.h.faults.failover_available


@step("restart broker node {node} (SIGKILL, then start)", family="broker",
      draws=({"node": st.integers(0, 2)},), when=_three_nodes)
def restart_broker(sc: Stage, node: int) -> None:
    sc.h.faults.restart_node(node)


@step("move the leader of partition {partition} to node {node}", family="broker",
      draws=({"p": PARTITION, "node": st.integers(0, 2)},), when=_three_nodes,
      resolver=lambda sc, d: {"partition": d["p"] % sc.h.partitions, "node": d["node"]})
def move_leader(sc: Stage, partition: int, node: int) -> None:
    sc.h.faults.move_leader(partition, node)


@step("move the group coordinator", family="broker", draws=({},), when=_three_nodes)
def move_coordinator(sc: Stage) -> None:
    sc.h.faults.move_coordinator()
