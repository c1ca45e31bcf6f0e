"""The built-in benchmark suites: each ``*.toml`` file here is one (``ganagerie bench list``)."""
