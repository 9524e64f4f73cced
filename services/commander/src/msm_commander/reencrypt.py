"""`msm-commander reencrypt-secrets`: every stored device secret under the current key.

Run after a key rotation (a new first key in the local key file, or a new KMS key id), and once
after upgrading from a version that stored secrets in plaintext. Each value is opened with
whichever key sealed it and sealed again with the current one; a value that changed meanwhile
(the guard on the old value) is left to the writer that changed it. Idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from msm_common.contracts.commands import SECRET_FIELDS
from msm_common.secrets import SecretBox, SecretError
from pymongo.database import Database


@dataclass
class Resealed:
    values: int = 0
    failed: int = 0  # sealed under a key that is no longer configured


def _holders(db: Database[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(collection, field path, filter, current value) of every stored secret."""
    for kind, names in SECRET_FIELDS.items():
        for name in names:
            path = f"params.{name}"
            for doc in db["commands"].find({"type": kind, path: {"$type": "string"}}):
                yield "commands", path, {"_id": doc["_id"]}, doc["params"][name]
            for doc in db[kind].find({name: {"$type": "string"}}):
                yield kind, name, {"_id": doc["_id"]}, doc[name]


def reencrypt(db: Database[dict[str, Any]], box: SecretBox) -> Resealed:
    done = Resealed()
    for collection, path, filt, value in _holders(db):
        try:
            new = box.reseal(value)
        except SecretError:
            done.failed += 1
            continue
        result = db[collection].update_one({**filt, path: value}, {"$set": {path: new}})
        done.values += result.modified_count
    return done
