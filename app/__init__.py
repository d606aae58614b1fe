"""The Anchor table-booking service."""

__version__ = "0.1.0"
