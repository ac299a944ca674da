"""Monitoring: the StatsD-to-Prometheus bridge (add-on); the performance report and health checks (domain)."""
