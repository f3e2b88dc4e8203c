"""The package's version (read by the command line and the servers without the facade)."""

__version__ = "0.1.0"
