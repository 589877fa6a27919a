"""Headless Chromium for tests of Airflow's UI: Debian's ``chromium`` and ``chromium-driver``
(installed by tools/system_deps.sh, which ``make test`` runs) driven by selenium.

Use the ``browser`` fixture (import it into the test module: ``from tests.browser import
browser``)::

    def test_page(airflow3, browser):
        browser.login(airflow3)                      # Airflow 3's or Airflow 2's login page
        browser.open(f"{airflow3.url}/airhook")
        browser.wait_for_text("airhook__github__")
        browser.screenshot("airhook-page")           # tests/artifacts/airhook-page.png

Each test gets a fresh browser profile (no cookies from another test). A test that fails
leaves ``tests/artifacts/<test>-failed.png`` behind. Without chromium, chromedriver or selenium
the tests skip, saying which is missing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from tools.local_airflow import AirflowServer

ROOT = Path(__file__).resolve().parents[1]
#: Screenshots (gitignored); CI keeps the folder as the run's artifacts.
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: As root in a container: no sandbox (it needs user namespaces), no GPU, and nothing that
#: reaches out to the internet on its own (QUIC, component updates, sync, field trials).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
)
WAIT = 60.0  # seconds: a loaded CI machine renders Airflow 3's React UI slowly


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why a browser cannot be started here, or None when it can."""
    needs = []
    if chromium_binary() is None:
        needs.append("chromium")
    if not CHROMEDRIVER.exists():
        needs.append(f"chromium-driver ({CHROMEDRIVER})")
    try:
        import selenium  # noqa: F401
    except ImportError:
        needs.append("selenium (requirements-dev.txt)")
    if not needs:
        return None
    return (f"no headless browser: {', '.join(needs)} missing; `make system-deps` installs Debian's "
            "chromium and chromium-driver, `make venv` selenium")


def artifact_name(name: str) -> str:
    """A file name from a test id (``test_x[airflow3]`` -> ``test_x-airflow3``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "screenshot"


class LoginRefused(AssertionError):
    """Airflow's login page refused the credentials (said so, rather than timing out)."""


class Browser:
    """One headless Chromium session (selenium's ``driver`` is there for anything not wrapped)."""

    def __init__(self, artifacts: Path = ARTIFACTS, label: str = "browser") -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.artifacts = artifacts
        self.label = label  # names the screenshot a timed-out wait leaves (the fixture: the test's id)
        self.profile = Path(tempfile.mkdtemp(prefix="airhook-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_binary() or "chromium"
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        # A fixed driver path: selenium's own manager would try to download one.
        service = Service(executable_path=str(CHROMEDRIVER))
        try:
            self.driver = webdriver.Chrome(options=options, service=service)
        except BaseException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(WAIT)

    # ---- pages

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def text(self) -> str:
        """The page's visible text."""
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def wait_for_text(self, text: str, timeout: float = WAIT) -> None:
        """Until ``text`` is visible on the page (single-page apps render after the load).

        Raises:
            AssertionError: not within ``timeout`` seconds (with a screenshot and the page's text).
        """
        self._wait(lambda: text in self.text(), f"text {text!r}", timeout)

    def wait_for_url(self, pattern: str, timeout: float = WAIT) -> None:
        """Until the address matches the regular expression ``pattern``."""
        self._wait(lambda: re.search(pattern, self.url) is not None, f"an address matching {pattern!r}", timeout)

    def _wait(self, condition: Any, what: str, timeout: float) -> None:
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except WebDriverException:
                pass  # the page is being replaced: ask again
            if time.monotonic() > deadline:
                shot = self.screenshot(f"{self.label}-timeout")
                raise AssertionError(f"waited {timeout:.0f}s for {what} at {self.url} (screenshot {shot}); "
                                     f"page text: {self._safe_text()[:500]!r}")
            time.sleep(0.25)

    def _safe_text(self) -> str:
        try:
            return self.text()
        except Exception:  # noqa: BLE001 - only for an error message
            return ""

    def screenshot(self, name: str) -> Path:
        """Save the window as ``tests/artifacts/<name>.png`` and return the path."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{artifact_name(name)}.png"
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"chromium could not save a screenshot to {path}")
        return path

    # ---- Airflow's login pages

    def login(self, airflow: AirflowServer, *, next_path: str = "/") -> None:
        """Sign in to ``airflow``'s UI as its admin, through its own login page: Airflow 3's
        simple auth manager or Airflow 2's Flask-AppBuilder form."""
        if airflow.major >= 3:
            self.login_airflow3(airflow.url, airflow.username, airflow.password, next_path=next_path)
        else:
            self.login_airflow2(airflow.url, airflow.username, airflow.password, next_path=next_path)

    def login_airflow3(self, url: str, username: str, password: str, *, next_path: str = "/",
                       timeout: float = WAIT) -> None:
        """The simple auth manager's page (``/auth/login``, a React form: Username, Password,
        Sign in); it stores a JWT cookie (``_token``) and goes on to ``next``.

        Raises:
            LoginRefused: the page said "Invalid credentials".
        """
        from selenium.webdriver.common.by import By

        self.open(f"{url}/auth/login/?next={quote(url + next_path, safe='')}")
        self._wait(lambda: self.driver.find_elements(By.NAME, "password"), "the login form", WAIT)
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self._signed_in(lambda: "/auth/login" not in self.url and self.driver.get_cookie("_token") is not None,
                        "Invalid credentials", username, timeout)

    def login_airflow2(self, url: str, username: str, password: str, *, next_path: str = "/",
                       timeout: float = WAIT) -> None:
        """Flask-AppBuilder's ``/login/`` form (``#username``, ``#password``, Sign In).

        Raises:
            LoginRefused: the page said "Invalid login".
        """
        from selenium.webdriver.common.by import By

        self.open(f"{url}/login/?next={quote(url + next_path, safe='')}")
        self._wait(lambda: self.driver.find_elements(By.ID, "password"), "the login form", WAIT)
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
        self._signed_in(lambda: "/login" not in self.url, "Invalid login", username, timeout)

    def _signed_in(self, signed_in: Any, refusal: str, username: str, timeout: float) -> None:
        """Wait until signed in, or fail at once when the page shows Airflow's ``refusal``."""
        self._wait(lambda: signed_in() or refusal in self.text(), "a signed-in page", timeout)
        if not signed_in():
            shot = self.screenshot(f"{self.label}-login-refused")
            raise LoginRefused(f"Airflow refused the login of {username!r}: {refusal!r} at {self.url} "
                               f"(screenshot {shot})")

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A fresh headless Chromium for one test; skipped, saying what is missing, without one."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    session = Browser(label=request.node.name)
    failed_before = request.session.testsfailed
    try:
        yield session
        # The test's own report is counted before its fixtures are torn down.
        if request.session.testsfailed > failed_before:
            session.screenshot(f"{request.node.name}-failed")
    finally:
        session.close()


__all__ = ["ARTIFACTS", "Browser", "LoginRefused", "artifact_name", "browser", "missing"]
