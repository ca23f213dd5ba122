"""Network faults: loopback TCP proxies in front of the broker's listeners that delay,
black-hole or cut one Kafka client's connections (``proxy.py``)."""

from conformance.faults.proxy import KINDS, Fault, FaultProxy, ProxySet

__all__ = ["KINDS", "Fault", "FaultProxy", "ProxySet"]
