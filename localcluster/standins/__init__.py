"""Stand-in services for the local stack: local processes behind the simulated pods of the five workloads.

These are stand-ins for the real images, not the real services: they speak the interface the manifests
declare (/health, /metrics with the names of monitoring/metrics.py, the premium quote), simulate traffic
and faults keyed by image tag (faults.py), and do the chain work that can be done for real on localnet
(the pricing keeper signs oracle updates; chain figures come from getters). See README, "Stand-in services".
"""
