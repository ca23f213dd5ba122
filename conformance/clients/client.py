"""A resolved client: how its workers start, and what it said about itself.

:func:`resolve` turns a :class:`~conformance.clients.spec.ClientSpec` into a :class:`Client`:
it builds the release's environment if needed, then asks one worker in that environment to
``describe`` the adapter (client, version, capabilities). The harness only ever talks to the
client through worker processes; it never imports a client under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.clients import native
from conformance.clients.envs import ensure_env, worker_root
from conformance.clients.native import is_native
from conformance.clients.spec import ClientSpec, distribution
from conformance.errors import ConformanceError, UsageError

DESCRIBE_TIMEOUT = 120.0


class ClientStartError(ConformanceError):
    """A worker could not start or answer in the client's environment."""


@dataclass
class Client:
    """A client spec bound to an interpreter; ``info`` is the worker's ``describe`` reply."""

    spec: ClientSpec
    python: str
    env: dict[str, str] = field(default_factory=dict)
    #: a native worker's command (``--id MEMBER`` is appended); empty for a Python client
    command: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    _unsupported: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def beside(cls, adapter: str) -> Client:
        """The client installed beside the suite (no describe round trip yet)."""
        return cls(ClientSpec(adapter), sys.executable)

    # -- what a report shows -----------------------------------------------------------------
    @property
    def adapter(self) -> str:
        """The adapter reference the worker loads."""
        return self.spec.adapter

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def name(self) -> str:
        """The adapter's declared name (a file reference's class may declare a short one)."""
        return str(self.info.get("adapter") or self.spec.adapter)

    @property
    def client(self) -> str:
        return str(self.info.get("client", ""))

    @property
    def client_version(self) -> str:
        return str(self.info.get("client_version", ""))

    @property
    def capabilities(self) -> dict[str, bool]:
        return dict(self.info.get("capabilities", {}))

    # -- starting workers ----------------------------------------------------------------------
    def worker_command(self, member: str) -> list[str]:
        if self.command:
            return [*self.command, "--id", member]
        return [self.python, "-m", "conformance.worker", "--id", member]

    def process_env(self) -> dict[str, str] | None:
        """The environment of a worker process (None: inherit the suite's)."""
        return {**os.environ, **self.env} if self.env else None

    @property
    def variants(self) -> list[str]:
        """The adapter's other consume paths (``NAME:variant``) in this environment."""
        if not self.info:
            self.info = self.describe()
        return list(self.info.get("variants", []))

    def describe(self, configs: list[Mapping[str, Any]] = (),
                 adapter: str | None = None) -> dict[str, Any]:
        """One worker's ``describe`` reply: adapter, client, client_version, capabilities,
        variants and, per config, why it is unsupported (None where it runs); ``adapter``: a
        variant instead of the client's adapter."""
        cmd = {"type": "describe", "msg_id": 1, "adapter": adapter or self.adapter,
               "configs": [{"bootstrap_servers": "-", **c} for c in configs]}
        try:
            proc = subprocess.run(self.worker_command("describe"), input=json.dumps(cmd) + "\n",
                                  capture_output=True, text=True, timeout=DESCRIBE_TIMEOUT,
                                  env=self.process_env())
        except subprocess.TimeoutExpired:
            raise ClientStartError(f"{self.label}: the worker did not answer 'describe' within "
                                   f"{DESCRIBE_TIMEOUT:.0f} s") from None
        except OSError as exc:
            program = self.worker_command("describe")[0]
            raise ClientStartError(f"{self.label}: cannot start {program}: {exc}") from None
        reply = next((obj for obj in _objects(proc.stdout) if obj.get("in_reply_to") == 1), None)
        if reply is None:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise ClientStartError(f"{self.label}: the worker exited (code {proc.returncode}) "
                                   f"without answering 'describe'"
                                   + (f": {lines[-1].strip()}" if lines else ""))
        if reply["type"] == "error":
            message = f"{self.label}: {reply.get('message')}"
            if reply.get("code") == "unknown-adapter":
                raise UsageError(message)
            raise ClientStartError(message)
        return reply

    def unsupported(self, config: Mapping[str, Any], adapter: str | None = None) -> str | None:
        """Why this client (or its variant ``adapter``) cannot run ``config`` (a
        ConsumerConfig mapping), None if it can."""
        key = json.dumps([adapter, config], sort_keys=True, default=str)
        if key not in self._unsupported:
            self._unsupported[key] = self.describe([config], adapter)["unsupported"][0]
        return self._unsupported[key]


def _objects(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def resolve(spec: ClientSpec, progress: Callable[[str], None] | None = None) -> Client:
    """Bind ``spec`` to an interpreter (building a release's environment once) and describe it.

    UsageError: unknown adapter or no such release. ClientEnvError / ClientStartError: the
    environment could not be built or a worker could not start in it."""
    if is_native(spec.adapter):
        built = native.build(spec.adapter, spec.version, progress)
        client = Client(spec, "", command=built.command)
    elif spec.beside:
        client = Client(spec, sys.executable)
    else:
        if spec.version is not None:
            dist = distribution(spec.adapter)
            if dist is None:
                raise UsageError(f"--client {spec.label}: no known distribution for "
                                 f"{spec.adapter}")
            python = str(ensure_env(dist, spec.version, progress))
        else:
            python = str(spec.python)
        client = Client(spec, python, {"PYTHONPATH": str(worker_root()),
                                       "PYTHONNOUSERSITE": "1"})
    client.info = client.describe()
    return client
