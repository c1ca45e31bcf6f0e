"""The built-in techniques, each registered through the `ganagerie` entry-point group."""
