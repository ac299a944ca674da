"""Composition root of the observability and SLA add-on: the one Airflow plugin, built from the enabled parts.

The parts do not know each other: :mod:`listeners` (JSON events, StatsD metrics, error thresholds) and
:mod:`alerts` (SLA deadlines, outbox, SLA-misses view). Only this package imports both.
"""
