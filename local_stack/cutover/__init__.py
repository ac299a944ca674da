"""Moving the cron jobs of ``bash/production_cron.sh`` to their Airflow DAGs: crontab parsing, schedule parity, and
migrate / parallel / rollback with a per-job status (``python -m local_stack.cutover``, docs/migration.md)."""
