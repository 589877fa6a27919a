"""airhook: verify webhooks and turn them into Airflow DAG runs.

The package is framework-free except for :mod:`airhook.http`, the one module that speaks Flask.
"""

from __future__ import annotations

__version__ = "0.1.0"
