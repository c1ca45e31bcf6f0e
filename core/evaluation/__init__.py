"""Scoring generators: which metrics apply, scoring with them, and their feature networks."""
