"""The shell that wires Omnitrail's parts: CLI, settings, logging, the embedded local stack."""

from __future__ import annotations

__version__ = "0.1.0"
