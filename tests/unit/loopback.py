"""A socketserver on 127.0.0.1 served from a daemon thread for the length of a test."""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[tuple[str, int]]:
    """Serve ``server`` until the block ends; yields its (host, port)."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]  # type: ignore[return-value]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
