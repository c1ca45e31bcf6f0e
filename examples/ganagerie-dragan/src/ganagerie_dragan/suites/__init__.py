"""The plugin's benchmark suites: each ``*.toml`` file here is one (``ganagerie bench list``)."""
