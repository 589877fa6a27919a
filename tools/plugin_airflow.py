"""A real Airflow with airhook pip-installed into it as a plugin (docs/airflow-plugin.md).

Airflow's own virtualenv is built by :mod:`tools.local_airflow` in a cache of its own
(``<cache>/plugin``), never the shared one: installing airhook changes a venv, and other checkouts
use the shared venvs concurrently. airhook is then installed the way users do, ``pip install
"airhook[airflow]"`` (with uv), dependencies included, and :func:`install_plugin` checks that no
package Airflow ships was upgraded or downgraded.

CLI::

    python -m tools.plugin_airflow install 3.3.2      # build the venv, install airhook, check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tools.local_airflow import (
    AIRFLOW2_VERSION,
    AIRFLOW3_VERSION,
    RESOLVE_AS_OF,
    AirflowServer,
    InstallError,
    cache_dir,
    ensure_uv,
    ensure_venv,
    uv_env,
)

ROOT = Path(__file__).resolve().parent.parent


def plugin_cache() -> Path:
    path = cache_dir() / "plugin"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _env() -> dict[str, str]:
    env = uv_env(plugin_cache())
    # Share the download cache with the other venvs: the plugin's venv is hardlinked from it.
    env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or str(cache_dir() / "uv-cache")
    return env


def freeze(venv: Path) -> dict[str, str]:
    """``name -> version`` of every distribution installed in ``venv``."""
    out = subprocess.run([str(ensure_uv()), "pip", "freeze", "--python", str(venv / "bin" / "python")],
                         capture_output=True, text=True, check=True, env=_env()).stdout
    pins = {}
    for line in out.splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.lower().replace("_", "-")] = version
        elif " @ " in line:
            name, where = line.split(" @ ", 1)
            pins[name.lower().replace("_", "-")] = where
    return pins


def install_plugin(version: str, source: Path = ROOT) -> tuple[Path, dict[str, tuple[str, str]]]:
    """The Airflow ``version`` venv (plugin cache) with airhook freshly installed from ``source``
    as ``airhook[airflow]``, and what the install added (``name -> ("", version)``).

    Raises:
        InstallError: the install failed, or changed the version of a package Airflow ships.
    """
    venv = ensure_venv(version, cache=plugin_cache())
    before = {k: v for k, v in freeze(venv).items() if k != "airhook"}
    cmd = [str(ensure_uv()), "pip", "install", "--quiet", "--exclude-newer", RESOLVE_AS_OF,
           "--python", str(venv / "bin" / "python"), "--reinstall-package", "airhook",
           f"airhook[airflow] @ {source.resolve().as_uri()}"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600, check=False)
    if done.returncode != 0:
        raise InstallError(f"installing airhook into {venv} failed:\n{done.stderr[-3000:]}")
    after = freeze(venv)
    changed = {k: (before[k], after.get(k, "")) for k in before if after.get(k) != before[k]}
    if changed:
        raise InstallError(f"installing airhook changed packages Airflow ships: {changed}")
    added = {k: ("", v) for k, v in after.items() if k not in before}
    return venv, added


class PluginAirflow(AirflowServer):
    """:class:`AirflowServer` on the plugin's venv (airhook installed), ``$AIRHOOK_CONFIG`` set."""

    def __init__(self, version: str, config: Path, *, extra_env: Mapping[str, str] | None = None,
                 **kwargs: object) -> None:
        env = {"AIRHOOK_CONFIG": str(config), **(extra_env or {})}
        super().__init__(version, extra_env=env, cache=plugin_cache(), **kwargs)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plugin_airflow")
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help="build the plugin venv(s) and install airhook into them")
    install.add_argument("versions", nargs="*", default=[AIRFLOW2_VERSION, AIRFLOW3_VERSION])
    args = parser.parse_args(argv)
    for version in args.versions:
        venv, added = install_plugin(version)
        print(f"{version}: {venv}: airhook installed; added {sorted(added) or 'nothing'}; "
              "no package Airflow ships changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
