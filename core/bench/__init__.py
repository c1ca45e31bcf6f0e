"""The benchmark application: suites of runs, executors, statistics over seeds, reports."""
