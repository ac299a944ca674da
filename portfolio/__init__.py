"""Portfolio Maximizer domain core (no Airflow imports)."""
