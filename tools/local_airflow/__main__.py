"""``python -m tools.local_airflow``: see :mod:`tools.local_airflow.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
