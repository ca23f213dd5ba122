"""Fixed scenarios, one named check per behaviour of docs/semantics.md (S1-S9)."""

from conformance.scenarios import assignment, commits, growth, offsets, processing  # noqa: F401
from conformance.scenarios.base import SEMANTICS_CHECKS, Context, SemanticsCheck

__all__ = ["SEMANTICS_CHECKS", "Context", "SemanticsCheck"]
