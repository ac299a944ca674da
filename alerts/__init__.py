"""SLAs and incident routing: Deadline Alerts, data freshness SLAs, router, durable outbox, SLA-misses view.

Keep this package import-light: DAG files import :mod:`alerts.deadlines` at parse time.
"""
