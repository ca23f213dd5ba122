"""Clients under test: specs (``NAME``, ``NAME==VERSION``, ``NAME@python``), their cached
environments, and the resolved :class:`Client` the harness starts workers with."""

from conformance.clients.client import Client, ClientStartError, resolve
from conformance.clients.envs import ClientEnvError
from conformance.clients.spec import ClientSpec

__all__ = ["Client", "ClientEnvError", "ClientSpec", "ClientStartError", "resolve"]
