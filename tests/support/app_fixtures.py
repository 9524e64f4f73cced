"""Fixtures every service's integration tests share once their conftest defines `make_app`
(a factory of the service's real Flask app): `app` and its test `client`. A conftest imports them
(`from support.app_fixtures import app, client`) and builds its factory inside `closing_apps`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@contextlib.contextmanager
def closing_apps(close: Callable[[Any], None]) -> Iterator[list[Any]]:
    """A list to put each app a test builds in; every one is closed at the end."""
    built: list[Any] = []
    try:
        yield built
    finally:
        for app in built:
            close(app)


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
