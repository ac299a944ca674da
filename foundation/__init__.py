"""The shared core of the trading domain and the observability add-on.

Paths, the typed YAML loader, redaction, atomic writes, the JSON event log, StatsD and failure reporting.
It imports neither the domain (``portfolio``) nor Airflow.
"""
