"""What the Device Shadow service stores and answers: the shadow, its response documents, its
limits and AWS's error messages."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

JsonObject = dict[str, Any]

SECTIONS: Final = ("desired", "reported")
MAX_STATE_BYTES: Final = 8 * 1024
MAX_REQUEST_BYTES: Final = 128 * 1024
MAX_DEPTH: Final = 6
MAX_CLIENT_TOKEN_BYTES: Final = 64

# AWS's messages, word for word (Device Shadow error messages).
INVALID_JSON: Final = "Invalid JSON"
MISSING_STATE: Final = "Missing required node: state"
STATE_NOT_OBJECT: Final = "State node must be an object"
DESIRED_NOT_OBJECT: Final = "Desired node must be an object"
REPORTED_NOT_OBJECT: Final = "Reported node must be an object"
INVALID_VERSION: Final = "Invalid version"
INVALID_CLIENT_TOKEN: Final = "Invalid clientToken"  # noqa: S105 (a message, not a secret)
TOO_DEEP: Final = f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"
INVALID_NODE: Final = "State contains an invalid node"
VERSION_CONFLICT: Final = "Version conflict"
TOO_LARGE: Final = "The payload exceeds the maximum size allowed"
BAD_ENCODING: Final = "Unsupported documented encoding; supported encoding is UTF-8"


def no_shadow_message(shadow_name: str) -> str:
    return f"No shadow exists with name: '{shadow_name}'"


@dataclass(frozen=True)
class Shadow:
    """One stored shadow. Treat the dicts as immutable: every rule works on copies."""

    state: JsonObject = field(default_factory=dict)
    metadata: JsonObject = field(default_factory=dict)
    version: int = 0
    deleted: bool = False

    @property
    def exists(self) -> bool:
        return not self.deleted

    def snapshot(self) -> JsonObject:
        """`{state, metadata, version}` as /update/documents carries it."""
        return {
            "state": copy.deepcopy(self.state),
            "metadata": copy.deepcopy(self.metadata),
            "version": self.version,
        }


@dataclass(frozen=True)
class Rejected:
    """An error response document (`/rejected` topics, HTTP error bodies)."""

    code: int
    message: str
    timestamp: int
    client_token: str | None = None

    def payload(self) -> JsonObject:
        body: JsonObject = {"code": self.code, "message": self.message, "timestamp": self.timestamp}
        if self.client_token is not None:
            body["clientToken"] = self.client_token
        return body


@dataclass(frozen=True)
class Updated:
    shadow: Shadow
    accepted: JsonObject
    documents: JsonObject
    delta: JsonObject | None


@dataclass(frozen=True)
class Got:
    document: JsonObject


@dataclass(frozen=True)
class Deleted:
    shadow: Shadow
    accepted: JsonObject


class ShadowRequestError(Exception):
    """A request AWS would reject; `at()` turns it into the error document."""

    def __init__(self, code: int, message: str, client_token: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_token = client_token

    def at(self, now: int) -> Rejected:
        return Rejected(self.code, self.message, now, self.client_token)
