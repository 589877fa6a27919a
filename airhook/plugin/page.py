"""The plugin's page: sources, routes (with their DAG and whether it is paused) and recent airhook
deliveries, read from Airflow's own records. Behind Airflow's login."""

from __future__ import annotations

from typing import Any


def install_fastapi(app: Any) -> None:
    """Airflow 3: the page's routes on the plugin app (none yet)."""


def appbuilder_view() -> dict[str, Any]:
    """Airflow 2: the page as a Flask-AppBuilder view under Browse."""
    from flask_appbuilder import BaseView, expose

    class AirhookView(BaseView):
        route_base = "/airhook-ui"
        default_view = "index"

        @expose("/")
        def index(self) -> Any:
            return "airhook"

    return {"name": "airhook", "category": "Browse", "view": AirhookView()}
