"""Monitoring: the StatsD-to-Prometheus bridge and its mapping file, PromQL probes, reports and health checks."""
