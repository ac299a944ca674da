"""SLAs and incident routing: SLA spec -> Deadline Alerts, router, durable outbox, SLA-misses view.

Keep this package import-light: DAG files import :mod:`alerts.deadlines` at parse time.
"""
