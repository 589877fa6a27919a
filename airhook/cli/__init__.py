"""The ``airhook`` command: send signed test deliveries, explain routing, check the config,
redeliver GitHub's failed deliveries.

Never imported by the function (``main.py``): nothing here adds to its cold start.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
