"""The training library: building a run's components, the step and the loop, the run directory."""
