"""Grafana dashboards built in code (grafana-foundation-sdk); ``python -m dashboards.build`` writes JSON."""
