"""A fake of the API's command publisher (msm.commands), for its unit and integration tests."""

from __future__ import annotations


class FakePublisher:
    """Records what the API publishes; `ok=False` is a broker that refuses (no confirm)."""

    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.sent: list[tuple[bytes, str]] = []

    def publish(self, body: bytes, message_id: str) -> bool:
        self.sent.append((body, message_id))
        return self.ok

    def ready(self) -> bool:
        return self.ok

    def close(self) -> None:
        pass
