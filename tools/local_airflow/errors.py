"""What the local Airflow harness raises: one base class, one subclass per thing that failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import ApiResponse


class LocalAirflowError(RuntimeError):
    """Base class: anything the harness could not do."""


class InstallError(LocalAirflowError):
    """The Airflow virtualenv (or the uv bootstrap) could not be built."""


class StartError(LocalAirflowError):
    """Airflow or PostgreSQL did not come up; the message carries the tail of the logs."""


class ApiError(LocalAirflowError):
    """The Airflow REST API answered with an unexpected status."""

    def __init__(self, message: str, response: ApiResponse | None = None) -> None:
        super().__init__(message if response is None else f"{message}: {response}")
        self.response = response
