"""The figures each suite reports: printed at the end of the pytest run (one section per suite) and
written as JSON to ``.airhook/reliability/figures-<profile>.json`` (git-ignored) for
docs/reliability.md.

Profiles: ``fast`` (default, part of ``make test``) and ``long`` (``AIRHOOK_RELIABILITY=long``,
``make test-long``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "long" if os.environ.get("AIRHOOK_RELIABILITY", "fast").lower() == "long" else "fast"
LONG = PROFILE == "long"
OUT_DIR = Path(os.environ.get("AIRHOOK_RELIABILITY_OUT") or ROOT / ".airhook" / "reliability")

_lock = threading.Lock()
FIGURES: dict[str, dict[str, Any]] = {}
#: every log file a suite produced, for the final secrets scan: (suite, label, path)
LOG_FILES: list[tuple[str, str, Path]] = []
#: lines each suite scanned in process (the in-process harness scans every request's lines)
SCANNED: dict[str, int] = {}


def pick(fast: Any, long: Any) -> Any:
    """The value for the running profile."""
    return long if LONG else fast


def record(suite: str, **values: Any) -> None:
    with _lock:
        FIGURES.setdefault(suite, {}).update(values)


def add(suite: str, key: str, amount: float) -> None:
    with _lock:
        section = FIGURES.setdefault(suite, {})
        section[key] = section.get(key, 0) + amount


def register_log(suite: str, label: str, path: Path) -> None:
    with _lock:
        LOG_FILES.append((suite, label, Path(path)))


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "loadavg_1_5_15": [round(x, 2) for x in load],
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write() -> Path | None:
    if not FIGURES:
        return None
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"figures-{PROFILE}.json"
    path.write_text(json.dumps({"profile": PROFILE, "machine": machine(), "suites": FIGURES},
                               indent=2, sort_keys=True, default=str))
    return path


def format_section(suite: str, values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.2f}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        parts.append(f"    {key}: {value}")
    return f"  [{suite}]\n" + "\n".join(parts)
