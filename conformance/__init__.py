"""kafka-conformance: property-based conformance suite for Apache Kafka consumer clients."""

__version__ = "0.1.0"
