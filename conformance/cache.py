"""The cache folder for broker jars, broker runs, client environments and worker builds."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path


def cache_root() -> Path:
    """``$KAFKA_CONFORMANCE_CACHE`` or ``~/.cache/kafka-conformance`` (outside any repository)."""
    env = os.environ.get("KAFKA_CONFORMANCE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kafka-conformance"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its folder): one build of a client
    environment or worker at a time, also across processes (pytest-xdist workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def finished_build(folder: Path, build_format: int) -> dict[str, object] | None:
    """The ``ready.json`` a worker build writes into ``folder`` last, when it is of
    ``build_format``; None for an unfinished build or one of another format (rebuilt)."""
    try:
        info = json.loads((folder / "ready.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == build_format else None
