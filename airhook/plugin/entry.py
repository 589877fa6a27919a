"""The plugin class Airflow loads: ``POST <Airflow>/airhook/<source>`` served by Airflow's own web
tier (Airflow 3's API server, Airflow 2's webserver), with the function's routes file, verifiers
and answers, and runs created in this Airflow. Registered through the ``airflow.plugins`` entry
point (pyproject.toml); see docs/airflow-plugin.md.

Only Airflow imports this module.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from .core import airflow_major

MAJOR = airflow_major()


def _fastapi_app() -> Any:
    from .fastapi_app import (
        app,  # Airflow 3 only: FastAPI is not in Airflow 2's environment
    )
    return app


def _flask_parts() -> tuple[Any, dict[str, Any]]:
    from .flask_app import blueprint  # Airflow 2 only
    from .page import appbuilder_view
    return blueprint, appbuilder_view()


class AirhookPlugin(AirflowPlugin):
    name = "airhook"

    if MAJOR >= 3:
        fastapi_apps: list[dict[str, Any]] = [{"app": _fastapi_app(), "url_prefix": "/airhook", "name": "airhook"}]
        # A link in the UI's navigation to the page the app serves (behind Airflow's login).
        external_views: list[dict[str, Any]] = [{
            "name": "airhook", "href": "/airhook/ui/", "destination": "nav", "category": "browse",
            "url_route": "airhook"}]
    else:
        _blueprint, _view = _flask_parts()
        flask_blueprints: list[Any] = [_blueprint]
        appbuilder_views: list[dict[str, Any]] = [_view]
        del _blueprint, _view


__all__ = ["AirhookPlugin"]
