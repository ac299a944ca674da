"""Airflow listener plugin."""
