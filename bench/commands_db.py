"""bench_commands' database figures: the ceiling of its MongoDB work per command, and the floor
any design of commands would pay (straight through pymongo, no HTTP, no broker)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import threaded


def db_ceiling(
    db: Any, devices: list[str], ntp_params: dict[str, Any], seconds: float = 5.0
) -> float:
    """Per command, the API's and the commander's MongoDB round trips, 8 threads, no I/O else."""
    now = datetime.now(UTC)

    def one_command(thread: int, _n: int) -> None:
        device = devices[thread % len(devices)]
        cid = uuid.uuid4().hex
        db["devices"].find_one({"_id": device}, {"_id": 1})  # API: device exists
        db["commands"].insert_one(
            {
                "_id": cid,
                "device_uuid": device,
                "type": "ntp",
                "status": "queued",
                "created_at": now,
                "history": [],
                "params": ntp_params,
                "attempts": 0,
            }
        )
        list(db["commands"].find({"device_uuid": device, "status": {"$in": ["queued"]}}))
        db["devices"].find_one({"_id": device}, {"connectivity": 1, "status": 1})
        db["commands"].update_one(
            {"_id": cid, "status": "queued"},
            {"$set": {"status": "sent"}, "$inc": {"attempts": 1}},
        )
        db["commands"].find_one({"_id": cid})
        db["ntp_ceiling"].replace_one(
            {"device_uuid": device}, {"device_uuid": device, **ntp_params}, upsert=True
        )
        db["commands"].update_one({"_id": cid, "status": "sent"}, {"$set": {"status": "succeeded"}})
        list(db["commands"].find({"device_uuid": device, "status": {"$in": ["queued"]}}))

    return threaded.rate(one_command, 8, seconds)


def db_minimum(db: Any, seconds: float = 3.0, threads: int = 8) -> tuple[float, float, float]:
    """insert_one/s and guarded update_one/s (8 threads), and the commands/s they allow at most.

    Whatever the design, a command costs at least one insert (stored before the 202) and two
    guarded state changes (queued -> sent -> succeeded); every other read or write only lowers
    the figure.
    """
    coll = db["ops_floor"]

    def insert(thread: int, n: int) -> None:
        coll.insert_one({"_id": f"{thread}-{n}", "status": "queued", "attempts": 0})

    def claim(thread: int, n: int) -> None:
        coll.update_one(
            {"_id": f"{thread}-{n}", "status": "queued"},
            {"$set": {"status": "sent"}, "$inc": {"attempts": 1}},
        )

    inserts = threaded.rate(insert, threads, seconds)
    updates = threaded.rate(claim, threads, seconds)
    coll.drop()
    return inserts, updates, 1 / (1 / inserts + 2 / updates)
