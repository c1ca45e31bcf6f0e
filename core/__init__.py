"""ganagerie: a plugin-based zoo of GAN variants."""

__version__ = "0.3.0"

from .hookspecs import hookimpl  # noqa: E402  (plugin authors: `from ganagerie import hookimpl`)

__all__ = ["__version__", "hookimpl"]
