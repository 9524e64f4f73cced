"""The AsyncAPI document: valid AsyncAPI 3.0, and the events the code makes match it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from msm_common import asyncapi
from msm_common.contracts import CommandRequest
from msm_common.contracts.events import COMMAND_STATUS, EVENT_TYPES, make_event, routing_key

ROOT = Path(__file__).resolve().parents[3]
# The official AsyncAPI JSON Schemas (npm @asyncapi/specs), installed by `make asyncapi-specs`.
SPEC = ROOT / ".local/asyncapi/node_modules/@asyncapi/specs/schemas/3.0.0.json"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def spec_validator() -> jsonschema.Draft7Validator:
    assert SPEC.exists(), f"{SPEC} is missing: run `make asyncapi-specs` (make test does)"
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


def payload_validator(doc: dict[str, Any], message: str) -> jsonschema.Draft202012Validator:
    """A validator of one message's payload, its $refs resolved inside the document."""
    schema = {**doc["components"]["messages"][message]["payload"], "components": doc["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_the_document_is_valid_asyncapi_3(spec_validator) -> None:
    doc = asyncapi.build()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in spec_validator.iter_errors(doc)]
    assert not errors, "\n".join(errors[:20])
    # ... and the check has teeth: a document without its info is refused.
    broken = {k: v for k, v in doc.items() if k != "info"}
    assert not spec_validator.is_valid(broken)


def test_every_event_type_has_its_channel_with_the_real_routing_key() -> None:
    doc = asyncapi.build()
    addresses = {c["address"] for c in doc["channels"].values()}
    for event_type in EVENT_TYPES:
        key = routing_key(event_type, "dev-1")
        assert key.removesuffix("dev-1") + "{device_uuid}" in addresses
    assert "command.request" in addresses


def test_a_command_status_event_as_the_commander_makes_it_matches_its_message() -> None:
    doc = asyncapi.build()
    event = make_event(
        COMMAND_STATUS,
        "msm-commander",
        "dev-1",
        {
            "command_id": "c1",
            "device_uuid": "dev-1",
            "type": "reboot",
            "status": "sent",
            "previous": "queued",
            "reason": "sent",
            "at": "2025-03-01T12:00:00.000Z",
            "attempts": 1,
        },
        id="c1:1",
        time=NOW,
    )
    check = payload_validator(doc, "commandStatus")
    assert check.is_valid(json.loads(event.to_json()))
    wrong = json.loads(event.to_json())
    wrong["data"]["status"] = "teleported"
    assert not check.is_valid(wrong)


def test_a_command_request_matches_its_message() -> None:
    doc = asyncapi.build()
    request = CommandRequest(
        command_id="c1",
        device_uuid="dev-1",
        type="ntp",
        params={"server_1": "pool.ntp.org"},
        requested_by="op",
        requested_at=NOW,
        expires_at=datetime(2025, 3, 2, tzinfo=UTC),
    )
    assert payload_validator(doc, "commandRequest").is_valid(json.loads(request.to_json()))
