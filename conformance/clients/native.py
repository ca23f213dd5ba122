"""Workers written in other languages (Java, Go, JavaScript): built once per release into the
cache folder and started as a command that speaks the worker protocol (docs/worker-protocol.md).

Each native client has a builder module with one function::

    def build(version: str | None, progress: Callable[[str], None] | None) -> NativeBuild

``version`` None means the builder's default release. A build failure raises
:class:`~conformance.clients.envs.ClientEnvError` (one line, e.g. "mvn not found"); an unknown
release raises :class:`~conformance.errors.UsageError`. The builders are imported lazily, so a
machine without Java can still judge the Python clients.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

#: Client name -> "module:function" of its builder.
BUILDERS: dict[str, str] = {
    "java": "conformance.clients.java:build",
    "spring-kafka": "conformance.clients.spring:build",
    "franz-go": "conformance.clients.go:build",
    "kafkajs": "conformance.clients.node:build",
}


@dataclass(frozen=True)
class NativeBuild:
    """A built worker: the command that starts one (``--id MEMBER`` is appended), the release
    it was built for and what runs it (e.g. ``java 17.0.9``, ``go1.22.4``, ``node v20.11``)."""

    command: tuple[str, ...]
    version: str
    runtime: str = ""


def is_native(adapter: str) -> bool:
    """Whether ``adapter`` names a native client (variants ``NAME:variant`` included)."""
    return adapter.split(":", 1)[0] in BUILDERS


def build(adapter: str, version: str | None,
          progress: Callable[[str], None] | None = None) -> NativeBuild:
    """Build (or find in the cache) the worker of native client ``adapter``."""
    module, _, function = BUILDERS[adapter.split(":", 1)[0]].partition(":")
    builder = getattr(importlib.import_module(module), function)
    return builder(version, progress)
