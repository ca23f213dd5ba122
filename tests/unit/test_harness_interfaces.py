"""The harness's parts and the machine's steps depend on small protocols, not on what builds
them: the Harness satisfies ``Session`` and ``Recorder`` (``conformance/harness/session.py``),
the Scenario satisfies ``Stage`` (``conformance/machines/steps.py``), and no module of the suite
imports itself round a circle (type-only and function-local imports included)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.harness import SCENARIO_CONFIG, Harness
from conformance.harness.session import Recorder, Session
from conformance.machines.scenario import Scenario
from conformance.machines.steps import Stage
from conformance.strategies import Strategy

ROOT = Path(__file__).resolve().parents[2]


def _members(protocol: type) -> tuple[set[str], dict[str, Any]]:
    """A protocol's attributes (annotated) and methods, its bases' included."""
    attributes: set[str] = set()
    methods: dict[str, Any] = {}
    for cls in reversed(protocol.__mro__):
        if cls is object or not getattr(cls, "_is_protocol", False):
            continue
        attributes |= set(inspect.get_annotations(cls))
        methods |= {n: f for n, f in vars(cls).items()
                    if inspect.isfunction(f) and not n.startswith("_")}
    return attributes, methods


def _shape(fn: Any) -> list[tuple[str, Any, str, bool]]:
    """Each parameter's name, kind, annotation text and whether it has a default."""
    return [(p.name, p.kind, str(p.annotation), p.default is not inspect.Parameter.empty)
            for p in inspect.signature(fn).parameters.values()]


def _assert_satisfies(obj: object, protocol: type) -> None:
    attributes, methods = _members(protocol)
    assert attributes and methods, protocol
    for name in attributes:
        assert hasattr(obj, name), f"{type(obj).__name__} has no {name} ({protocol.__name__})"
    for name, fn in methods.items():
        mine = getattr(type(obj), name, None)
        assert callable(mine), f"{type(obj).__name__} has no {name}() ({protocol.__name__})"
        assert _shape(mine) == _shape(fn), f"{type(obj).__name__}.{name}: {protocol.__name__}"
        assert (inspect.signature(mine).return_annotation
                == inspect.signature(fn).return_annotation), name


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    # the constructor only reads the broker's names and settings: nothing is started here
    broker = SimpleNamespace(prefix="kc-unit-", bootstrap_servers="127.0.0.1:9",
                             client_config={})
    return Harness(broker, "confluent-kafka", SCENARIO_CONFIG,  # type: ignore[arg-type]
                   Strategy.parse("BATCH"), workdir=tmp_path)


def test_the_harness_is_the_session_its_parts_act_on(harness: Harness) -> None:
    _assert_satisfies(harness, Recorder)
    _assert_satisfies(harness, Session)
    assert harness.faults.h is harness and harness.transactions.h is harness


def test_the_scenario_is_the_stage_every_step_acts_on(harness: Harness) -> None:
    _assert_satisfies(Scenario(harness), Stage)


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in ("conformance", "adapters"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the suite's modules it imports anywhere in its text."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    target = full if full in modules else node.module
                    if target in modules:
                        graph[module].add(target)
    return graph


def test_no_module_imports_itself_round_a_circle_and_the_parts_import_protocols() -> None:
    graph = _imports(_modules())
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join(
                [*path[path.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    builders = {"conformance.harness", "conformance.harness.core"}
    for part in ("drain", "faults", "transactions"):
        imported = graph[f"conformance.harness.{part}"]
        assert "conformance.harness.session" in imported and not imported & builders, part
    assert not graph["conformance.harness.session"] & builders
    assert "conformance.machines.steps" in graph["conformance.machines.scenario"]
    assert "conformance.machines.scenario" not in graph["conformance.machines.steps"]
