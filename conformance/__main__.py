"""``python -m conformance``: the same as the ``kafka-conformance`` command."""

from conformance.cli import main

main()
