"""The cache folder for broker jars, broker runs, client environments and worker builds."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$KAFKA_CONFORMANCE_CACHE`` or ``~/.cache/kafka-conformance`` (outside any repository)."""
    env = os.environ.get("KAFKA_CONFORMANCE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kafka-conformance"
