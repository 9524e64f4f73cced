"""The ticker's queries against the real database: the stalled-queue walk and the outbox.

What the ticker finds decides which devices get woken and which events get republished, so a
page that skips a command (a device never served) or repeats one forever is what a user would
notice; these walk real documents through the store's paging.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msm_commander.adapters.store import MongoStore
from msm_commander.domain.documents import EVENT_PENDING

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(mongo_db: Any) -> MongoStore:
    s = MongoStore(mongo_db)
    s.ensure_indexes(30)
    return s


def command(cid: str, status: str, updated_at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "_id": cid,
        "device_uuid": f"dev-{cid}",
        "type": "ntp",
        "status": status,
        "created_at": updated_at,
        "updated_at": updated_at,
        "history": [],
        **extra,
    }


def walk(store: MongoStore, before: datetime, page: int) -> list[str]:
    """Every id the ticker's cursor visits from the start until a short page wraps it."""
    seen: list[str] = []
    after = None
    for _ in range(100):
        docs = store.queued_page(after, before, page)
        seen += [str(d["_id"]) for d in docs]
        if len(docs) < page:
            return seen
        after = (docs[-1]["updated_at"], str(docs[-1]["_id"]))
    raise AssertionError("the walk never wrapped")


def test_queued_walk_visits_each_old_queued_command_once_in_order(store: MongoStore) -> None:
    docs = [
        # Five share one instant: the page boundary falls inside the tie.
        *(command(f"tie-{i}", "queued", T0) for i in (3, 0, 4, 1, 2)),
        command("a-early", "queued", T0 - timedelta(seconds=30)),
        command("z-late", "queued", T0 + timedelta(seconds=10)),
        command("sent-1", "sent", T0 - timedelta(seconds=60)),
        command("done-1", "succeeded", T0 - timedelta(seconds=60)),
        command("too-new", "queued", T0 + timedelta(minutes=10)),
    ]
    store.commands.insert_many(docs)

    seen = walk(store, before=T0 + timedelta(minutes=1), page=2)

    expected = ["a-early", *(f"tie-{i}" for i in range(5)), "z-late"]
    assert seen == expected


def test_queued_walk_past_the_bound_returns_nothing(store: MongoStore) -> None:
    store.commands.insert_many([command("q1", "queued", T0), command("q2", "queued", T0)])
    # A position later than `before` (the clock moved back, or the bound shrank): no repeats.
    assert store.queued_page((T0 + timedelta(seconds=5), "q9"), T0, 10) == []
    assert [d["_id"] for d in store.queued_page((T0, "q1"), T0, 10)] == ["q2"]


def test_outbox_returns_finished_commands_with_an_unconfirmed_event(store: MongoStore) -> None:
    old, recent = T0 - timedelta(minutes=5), T0 + timedelta(minutes=5)
    store.commands.insert_many(
        [
            command("ok-1", "succeeded", old, **{EVENT_PENDING: True}),
            command("fail-1", "failed", old, **{EVENT_PENDING: True}),
            command("exp-1", "expired", old, **{EVENT_PENDING: True}),
            command("confirmed", "succeeded", old),
            command("active", "queued", old, **{EVENT_PENDING: True}),
            command("in-flight", "sent", old, **{EVENT_PENDING: True}),
            command("too-recent", "succeeded", recent, **{EVENT_PENDING: True}),
        ]
    )

    found = {d["_id"] for d in store.pending_events(T0, 10)}
    assert found == {"ok-1", "fail-1", "exp-1"}
    limited = store.pending_events(T0, 2)
    assert len(limited) == 2
    assert {d["_id"] for d in limited} <= found
