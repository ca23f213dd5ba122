"""Client specs: which client a worker runs, and in which Python environment.

    NAME                  the client installed beside the suite (its own environment)
    NAME==VERSION         a virtual environment for that release, built once and cached
    NAME@/path/to/python  an interpreter the user prepared (with the client installed)

Native clients (``java``, ``spring-kafka``, ``franz-go``, ``kafkajs``; see
:mod:`conformance.clients.native`) take ``NAME`` (their default release) or ``NAME==VERSION``;
their workers are built once into the cache.

``NAME`` is an adapter name (``kafka-python``, ``confluent-kafka:batch``) or an adapter reference
(``module:Class``, ``path/to/file.py:Class``). Parsed once, in the CLI layer; everything below
works with :class:`ClientSpec` values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from adapters.registry import DISTRIBUTIONS
from conformance.clients.native import BUILDERS, is_native
from conformance.errors import UsageError

_VERSION_RE = re.compile(r"^v?[0-9][0-9A-Za-z.+!-]*$")  # Go modules write v1.22.3


@dataclass(frozen=True)
class ClientSpec:
    """One client under test: an adapter, and a release or an interpreter to run it with."""

    adapter: str
    version: str | None = None
    python: str | None = None

    @classmethod
    def parse(cls, text: str) -> ClientSpec:
        """``NAME``, ``NAME==VERSION`` or ``NAME@/path/to/python``; UsageError otherwise."""
        text = text.strip()
        if "==" in text:
            name, _, version = text.partition("==")
            if not name or not _VERSION_RE.match(version):
                raise UsageError(f"--client {text!r}: expected NAME==VERSION, e.g. "
                                 f"kafka-python==2.0.2")
            if distribution(name) is None and not is_native(name):
                known = sorted({*DISTRIBUTIONS, *BUILDERS})
                raise UsageError(f"--client {text!r}: a release can be chosen only for a built-in "
                                 f"client ({', '.join(known)}); give your own "
                                 f"interpreter with NAME@/path/to/python")
            return cls(name, version=version)
        if "@" in text:
            name, _, python = text.rpartition("@")
            if not name or not python:
                raise UsageError(f"--client {text!r}: expected NAME@/path/to/python")
            if is_native(name):
                raise UsageError(f"--client {text!r}: {name} is not a Python client; choose a "
                                 f"release with {name}==VERSION")
            path = Path(python).expanduser()
            if not path.is_file():
                raise UsageError(f"--client {text!r}: no interpreter at {python}")
            return cls(name, python=str(path.absolute()))
        if not text:
            raise UsageError("--client needs a name, e.g. kafka-python or kafka-python==2.0.2")
        return cls(text)

    @property
    def label(self) -> str:
        """How the spec is written (and shown as a column): ``kafka-python==2.0.2``."""
        if self.version:
            return f"{self.adapter}=={self.version}"
        if self.python:
            return f"{self.adapter}@{self.python}"
        return self.adapter

    @property
    def beside(self) -> bool:
        """True when the client is the one installed beside the suite (a Python client)."""
        return self.version is None and self.python is None and not is_native(self.adapter)

    def __str__(self) -> str:
        return self.label


def distribution(adapter: str) -> str | None:
    """The client distribution of a built-in adapter name (variants share their base's)."""
    return DISTRIBUTIONS.get(adapter.split(":", 1)[0]) if "/" not in adapter else None
