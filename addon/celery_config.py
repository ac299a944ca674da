"""Celery configuration of the add-on: Airflow's own, plus :mod:`addon.warm_start` imported by each Celery worker.

``[celery] celery_config_options = addon.celery_config.CELERY_CONFIG`` (``config/airflow.yml``). Celery imports
the modules of its ``imports`` setting in the worker's main process before it forks the pool, so every pool
process, and every task process a pool process forks, starts with the plugins, the listeners and Airflow's task
path loaded: what ``[core] mp_forkserver_preload`` does for LocalExecutor. Without it each Celery task built the
listener manager itself (the plugin cost 26% of the Celery throughput, ``bench/scheduler_throughput.py``).
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG,
                 "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), "addon.warm_start")}
