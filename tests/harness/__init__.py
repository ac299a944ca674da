"""Test harnesses: HTTP receivers, a PromQL probe and StatsD traffic generators."""
