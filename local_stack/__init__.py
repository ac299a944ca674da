"""Local-stack tooling for ``make run``/``up``/``replay``, the tests and the benchmarks.

It starts and drives an Airflow stack on this machine; DAGs and tasks never import it.
"""
