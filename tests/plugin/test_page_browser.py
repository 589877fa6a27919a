"""The plugin's page in a real browser (headless Chromium from Debian's packages, selenium): log in
through Airflow's own login page, open the page, see the delivery just sent. The screenshot is kept
as a test artifact (tests/artifacts/airhook-plugin-page-airflow{2,3}.png)."""

from __future__ import annotations

import uuid

import pytest

from tests.plugin.conftest import Started
from tests.plugin.test_plugin import deliver

browser_module = pytest.importorskip("tests.browser", reason="tests/browser.py (the browser harness) is not here")
browser = browser_module.browser  # the fixture


def test_the_page_shows_a_delivery_just_sent(plugin_airflow: Started, browser: object) -> None:
    server = plugin_airflow.server
    delivery_id = str(uuid.uuid4())
    assert deliver(plugin_airflow, delivery_id=delivery_id).status_code == 200
    path = "/airhook/ui/" if server.major >= 3 else "/airhook-ui/"
    browser.login(server, next_path=path)  # type: ignore[attr-defined]
    browser.open(f"{server.url}{path}?source=github")  # type: ignore[attr-defined]
    browser.wait_for_text(delivery_id)  # type: ignore[attr-defined]
    assert "deploy-main" in browser.text()  # type: ignore[attr-defined]
    browser.screenshot(f"airhook-plugin-page-airflow{server.major}")  # type: ignore[attr-defined]
