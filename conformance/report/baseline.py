"""Baseline files: known, documented deviations of a client, reported as ``expected``.

A baseline is a TOML file with one ``[[deviation]]`` table per known deviation::

    [[deviation]]
    client = "confluent-kafka*"      # glob on the adapter name, the client spec
                                     # (kafka-python==3.0.12) or the library name
    check = "commit-validity"        # glob on the check id
    reason = "librdkafka stores offsets before processing (S4); upstream issue #1234"
    anomalies = ["commit-ahead"]     # optional: only when every violation is one of these
    protocol = "consumer"            # optional: only configurations of this group protocol

The suite's own file, ``conformance/known-deviations.toml`` (``baselines/known-deviations.toml``
in a checkout), also holds the contract suite's ``[[contract]]`` tables
(:func:`conformance.contract.deviations.known`): a baseline skips them.

``Baseline.apply`` turns each matching ``fail`` verdict into ``expected`` with the reason in the
note, so a CI gate fails only on regressions. Other verdicts are never changed: a deviation that
no longer fails simply stops matching (``Baseline.unused`` lists such entries so they can be
pruned).
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from conformance.errors import UsageError
from conformance.protocols import ALL
from conformance.tables import check_table
from conformance.verdicts import CheckResult, ClientResult, RunResult, Verdict

REQUIRED = ("client", "check", "reason")
OPTIONAL = ("anomalies", "protocol")


class BaselineError(UsageError):
    """A baseline file that is missing, not TOML, or not in the format above."""


@dataclass(frozen=True)
class Deviation:
    """One known deviation: which client and check it covers, and why it is accepted."""

    client: str
    check: str
    reason: str
    anomalies: tuple[str, ...] = ()
    #: the group protocol it covers ("" for both); a result that does not record its
    #: protocol is not covered by an entry that names one
    protocol: str = ""

    def matches(self, client: ClientResult, check: CheckResult) -> bool:
        """Whether this entry covers ``check`` of ``client`` (verdict not considered)."""
        released = [f"{n}=={client.client_version}" for n in (client.name, client.client)
                    if n and client.client_version]
        names = tuple(n for n in (client.name, client.spec, client.client, *released) if n)
        if not any(fnmatchcase(n, self.client) for n in names):
            return False
        if not fnmatchcase(check.check, self.check):
            return False
        if self.protocol and client.protocol != self.protocol:
            return False
        if self.anomalies:
            return all(v.anomaly in self.anomalies for v in check.violations)
        return True


@dataclass
class Baseline:
    """The deviations of one baseline file, in file order (the first match wins)."""

    deviations: list[Deviation] = field(default_factory=list)
    source: str = "<baseline>"

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read a baseline file; any problem raises a one-line ``BaselineError``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BaselineError(f"baseline {path}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"baseline {path}: cannot read ({exc})") from None
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<baseline>") -> Baseline:
        """Parse baseline TOML text (``source`` names it in error messages)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BaselineError(f"baseline {source}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<baseline>") -> Baseline:
        """Build a baseline from parsed TOML (``{"deviation": [{...}, ...]}``)."""
        unknown = sorted(set(data) - {"deviation", "contract"})
        if unknown:
            raise BaselineError(f"baseline {source}: unknown top-level key {unknown[0]!r} "
                                f"(expected [[deviation]] tables, and [[contract]] tables "
                                f"for the contract suite)")
        entries = data.get("deviation", [])
        if not isinstance(entries, list):
            raise BaselineError(f"baseline {source}: 'deviation' must be an array of tables "
                                f"(write [[deviation]], not [deviation])")
        return cls([_deviation(e, n, source) for n, e in enumerate(entries, 1)], source)

    # -- applying --------------------------------------------------------------------------
    def match(self, client: ClientResult, check: CheckResult) -> Deviation | None:
        """The first deviation covering ``check`` of ``client``, if any."""
        return next((d for d in self.deviations if d.matches(client, check)), None)

    def apply(self, result: RunResult) -> RunResult:
        """A copy of ``result`` where every failure the baseline covers is ``expected``; its
        ``environment["baseline"]`` names this baseline's file (the report header shows it)."""
        out = copy.deepcopy(result)
        out.environment = {**out.environment, "baseline": self.source}
        for client in out.clients:
            for i, check in enumerate(client.checks):
                if check.verdict != Verdict.FAIL:
                    continue
                dev = self.match(client, check)
                if dev is not None:
                    note = f"baseline: {dev.reason}"
                    if check.note:
                        note += f"\n{check.note}"
                    client.checks[i] = replace(check, verdict=Verdict.EXPECTED, note=note)
        return out

    def unused(self, result: RunResult) -> list[Deviation]:
        """Deviations that matched no failing check of ``result`` (candidates for removal)."""
        used = {id(self.match(cl, c)) for cl in result.clients for c in cl.checks
                if c.verdict in (Verdict.FAIL, Verdict.EXPECTED)}
        return [d for d in self.deviations if id(d) not in used]


def _deviation(entry: Any, n: int, source: str) -> Deviation:
    where = f"baseline {source}: deviation #{n}"
    entry = check_table(entry, where, REQUIRED, OPTIONAL, BaselineError)
    anomalies = entry.get("anomalies", [])
    if not isinstance(anomalies, list) or not all(isinstance(a, str) for a in anomalies):
        raise BaselineError(f"{where}: 'anomalies' must be a list of strings")
    protocol = entry.get("protocol", "")
    if protocol not in ("", *ALL):
        raise BaselineError(f"{where}: 'protocol' must be one of {', '.join(ALL)}")
    return Deviation(entry["client"].strip(), entry["check"].strip(),
                     " ".join(entry["reason"].split()), tuple(anomalies), protocol)
