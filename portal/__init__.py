"""Quantum Portal: a documentation-centric developer portal."""

__version__ = "0.1.0"
