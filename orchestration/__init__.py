"""Orchestration: Airflow settings, the local stack, bootstrap, operators and sensors."""
