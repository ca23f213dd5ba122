"""Find adapters by name: built-ins, the ``kafka_conformance.adapters`` entry point group, or a
``module:Class`` / ``path/to/file.py:Class`` reference to an adapter in the user's own code."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import NamedTuple

from adapters.base import Adapter
from conformance.errors import AdapterError, UnknownAdapter

ENTRY_POINT_GROUP = "kafka_conformance.adapters"

class Builtin(NamedTuple):
    """A built-in adapter: its ``module:Class``, and for a base name the distribution (PyPI
    name) of the client library it drives (``NAME==VERSION`` installs that release; a variant,
    ``NAME:variant``, drives its base's)."""

    ref: str
    distribution: str | None = None


#: Adding a Python adapter: its module, one line here, its docs.
BUILTIN: dict[str, Builtin] = {
    "aiokafka": Builtin("adapters.aiokafka:AiokafkaAdapter", "aiokafka"),
    "aiokafka:getone": Builtin("adapters.aiokafka:AiokafkaGetoneAdapter"),
    "confluent-kafka": Builtin("adapters.confluent_kafka:ConfluentAdapter", "confluent-kafka"),
    "confluent-kafka:batch": Builtin("adapters.confluent_kafka:ConfluentBatchAdapter"),
    "confluent-kafka:stored": Builtin("adapters.confluent_kafka:ConfluentStoredOffsetsAdapter"),
    "confluent-kafka:stored-message": Builtin(
        "adapters.confluent_kafka:ConfluentStoredMessagesAdapter"),
    "kafka-python": Builtin("adapters.kafka_python:KafkaPythonAdapter", "kafka-python"),
    "kafka-python:records": Builtin("adapters.kafka_python:KafkaPythonIteratorAdapter"),
}

#: Adapter name -> the distribution of the client library it drives (the base names).
DISTRIBUTIONS: dict[str, str] = {name: b.distribution for name, b in BUILTIN.items()
                                 if b.distribution}


def available() -> dict[str, str]:
    """Every adapter name known without a reference: built-ins, then entry points."""
    names = {name: b.ref for name, b in BUILTIN.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(ep.name, ep.value)
    return names


def load(name: str) -> type[Adapter]:
    """The adapter class for a registered name or a ``module:Class``/``file.py:Class`` ref."""
    ref = available().get(name)
    if ref is None:
        if ":" not in name or name.count(":") != 1 or name.split(":")[1] == "":
            known = ", ".join(sorted(available()))
            raise UnknownAdapter(
                f"unknown client {name!r}: choose one of {known}, or give an adapter as "
                f"module:Class or path/to/file.py:Class"
            )
        ref = name
    cls = _import(ref)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterError(f"{ref} is not a subclass of adapters.base.Adapter")
    if not cls.name:
        cls.name = name
    return cls


def _import(ref: str) -> object:
    module_ref, _, attr = ref.partition(":")
    try:
        if module_ref.endswith(".py") or "/" in module_ref:
            path = Path(module_ref).resolve()
            if not path.is_file():
                raise UnknownAdapter(f"adapter file not found: {module_ref}")
            mod_name = f"kc_user_adapter_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise AdapterError(f"cannot load adapter file {module_ref}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_ref)
    except AdapterError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name == module_ref:
            raise UnknownAdapter(f"no adapter module {module_ref!r}") from None
        raise AdapterError(f"cannot import adapter module {module_ref!r}: {exc}") from None
    except ImportError as exc:
        raise AdapterError(f"cannot import adapter module {module_ref!r}: {exc}") from None
    except Exception as exc:
        raise AdapterError(f"adapter module {module_ref!r} failed to load: "
                           f"{type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UnknownAdapter(f"adapter module {module_ref!r} has no attribute {attr!r}") from None
