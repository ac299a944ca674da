"""The DAG runtime: what DAG files load at parse and run time (defaults, operators, tasks, task groups, sensor)."""
