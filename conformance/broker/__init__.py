"""Brokers the suite runs against: embedded KRaft (default), testcontainers, external."""

from conformance.broker.base import Broker
from conformance.broker.jars import DEFAULT_KAFKA_VERSION

__all__ = ["DEFAULT_KAFKA_VERSION", "Broker"]
