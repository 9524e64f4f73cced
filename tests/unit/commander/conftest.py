"""Unit fixtures for the commander: the service built on in-memory fakes."""

from __future__ import annotations

import pytest
from commander_world import DEVICE, World


@pytest.fixture
def world() -> World:
    """A commander whose one registered device is online."""
    w = World()
    w.store.add_device(DEVICE, connected=True)
    return w
