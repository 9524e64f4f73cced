"""Fixtures for ingest unit tests (fakes live in ingest_fakes.py)."""

from __future__ import annotations

import pytest
from ingest_fakes import Acks, FakePublisher, FakeStore


@pytest.fixture
def acks() -> Acks:
    return Acks()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()
