"""The Device Shadow rules, one table per rule (AWS IoT Device Shadow service documents).

Rejections (malformed or oversized updates) are in test_localiot_shadow_rejections.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from msm_localiot.shadow.engine import apply_delete, apply_get, delta_of
from msm_localiot.shadow.model import Deleted, Got, Rejected, Shadow
from shadow_helpers import T0, body, build, rejected, state, update

# --- merge -------------------------------------------------------------------------------------

MERGE_CASES = [
    pytest.param(
        [state({"a": 1, "b": 2})],
        state({"c": 3}),
        {"desired": {"a": 1, "b": 2, "c": 3}},
        id="partial merge keeps other keys",
    ),
    pytest.param(
        [state({"a": 1, "b": 2})],
        state({"a": None}),
        {"desired": {"b": 2}},
        id="null deletes a key",
    ),
    pytest.param(
        [state({"a": 1})],
        state({"a": None}),
        {},
        id="deleting the last key removes the section",
    ),
    pytest.param(
        [state({"l": {"c": {"r": 1, "g": 2}}})],
        state({"l": {"c": {"g": 9}}}),
        {"desired": {"l": {"c": {"r": 1, "g": 9}}}},
        id="nested objects merge",
    ),
    pytest.param(
        [state({"l": {"c": {"r": 1}}, "x": 1})],
        state({"l": {"c": {"r": None}}}),
        {"desired": {"x": 1}},
        id="objects emptied by a delete disappear",
    ),
    pytest.param(
        [state({"a": 1}, {"a": 2})],
        {"state": {"desired": None}},
        {"reported": {"a": 2}},
        id="desired null deletes the section",
    ),
    pytest.param(
        [state({"a": 1}, {"a": 2})],
        {"state": None},
        {},
        id="state null empties the shadow",
    ),
    pytest.param(
        [state({"c": ["R", "G", "B"]})],
        state({"c": ["R"]}),
        {"desired": {"c": ["R"]}},
        id="arrays are replaced whole",
    ),
    pytest.param(
        [state({"a": 1})],
        state({"a": {"b": 2}}),
        {"desired": {"a": {"b": 2}}},
        id="a value becomes an object",
    ),
    pytest.param(
        [state({"a": {"b": 2}})],
        state({"a": 5}),
        {"desired": {"a": 5}},
        id="an object becomes a value",
    ),
    pytest.param(
        [],
        state(reported={"t": 21.5, "on": True, "s": "x"}),
        {"reported": {"t": 21.5, "on": True, "s": "x"}},
        id="first update creates the shadow",
    ),
]


@pytest.mark.parametrize(("history", "request_doc", "expected_state"), MERGE_CASES)
def test_update_merges_the_request_into_the_stored_state(
    history: list[dict[str, Any]], request_doc: dict[str, Any], expected_state: dict[str, Any]
) -> None:
    current = build(*history) if history else None
    result = update(current, request_doc)
    assert result.shadow.state == expected_state
    got = apply_get(result.shadow, b"", T0, "t")
    assert isinstance(got, Got)
    assert {k: v for k, v in got.document["state"].items() if k != "delta"} == expected_state


# --- delta -------------------------------------------------------------------------------------

DELTA_CASES = [
    pytest.param({"a": 1}, None, {"a": 1}, id="missing from reported"),
    pytest.param({"a": 1, "b": 2}, {"a": 1, "b": 3}, {"b": 2}, id="different in reported"),
    pytest.param({"a": 1}, {"a": 1, "z": 0}, {}, id="reported-only keys are not in the delta"),
    pytest.param(
        {"l": {"c": {"r": 255, "g": 255}}},
        {"l": {"c": {"r": 255, "g": 0}}},
        {"l": {"c": {"g": 255}}},
        id="nested difference keeps the path to the root",
    ),
    pytest.param({"c": ["R", "G"]}, {"c": ["R"]}, {"c": ["R", "G"]}, id="arrays compare whole"),
    pytest.param({"c": ["R"]}, {"c": ["R"]}, {}, id="equal arrays"),
    pytest.param({"on": True}, {"on": 1}, {"on": True}, id="a boolean is not a number"),
    pytest.param({"t": 20}, {"t": 20.0}, {}, id="1 and 1.0 are the same number"),
    pytest.param({"a": {"b": 1}}, {"a": 5}, {"a": {"b": 1}}, id="object against a value"),
]


@pytest.mark.parametrize(("desired", "reported", "expected"), DELTA_CASES)
def test_delta_is_the_desired_keys_missing_or_different_in_reported(
    desired: dict[str, Any], reported: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    docs = [state(desired)] + ([state(reported=reported)] if reported else [])
    shadow = build(*docs)
    delta, metadata = delta_of(shadow)
    assert delta == expected
    got = apply_get(shadow, b"", T0 + 10, "t")
    assert isinstance(got, Got)
    assert got.document["state"].get("delta", {}) == expected
    # The delta's metadata is the desired metadata of those keys.
    assert metadata.keys() == expected.keys()


DELTA_MESSAGE_CASES = [
    pytest.param([], state({"a": 1}), {"a": 1}, id="desired write with a difference"),
    pytest.param([state({"a": 1})], state({"a": 1}), {"a": 1}, id="same desired again"),
    pytest.param([], state({"a": 1}, {"a": 1}), None, id="desired matches reported"),
    pytest.param([state({"a": 1})], state(reported={"a": 1}), None, id="device caught up"),
    pytest.param(
        [state({"a": 1}, {"a": 2})],
        state(reported={"b": 1}),
        None,
        id="reported write that leaves the delta as it was",
    ),
    pytest.param(
        [state({"a": 1}, {"a": 1})],
        state(reported={"a": None}),
        {"a": 1},
        id="deleted from reported, still desired",
    ),
    pytest.param(
        [state({"a": 1}, {"a": 1})],
        state(reported={"a": 3}),
        {"a": 1},
        id="reported drifts away from desired",
    ),
    pytest.param([state({"a": 1})], {"state": None}, None, id="state emptied"),
]


@pytest.mark.parametrize(("history", "request_doc", "expected"), DELTA_MESSAGE_CASES)
def test_update_delta_message_is_sent_when_aws_sends_it(
    history: list[dict[str, Any]], request_doc: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    current = build(*history) if history else None
    result = update(current, request_doc, T0 + 50)
    if expected is None:
        assert result.delta is None
    else:
        assert result.delta is not None
        assert result.delta["state"] == expected
        assert result.delta["version"] == result.shadow.version
        assert result.delta["timestamp"] == T0 + 50
        assert set(result.delta["metadata"]) == set(expected)


def test_delta_message_carries_the_whole_delta_and_desired_timestamps() -> None:
    shadow = build(state({"a": 1}), state({"b": 2}))
    result = update(shadow, {**state({"c": 3}), "clientToken": "tok-1"}, T0 + 9)
    assert result.delta == {
        "state": {"a": 1, "b": 2, "c": 3},
        "metadata": {
            "a": {"timestamp": T0},
            "b": {"timestamp": T0 + 1},
            "c": {"timestamp": T0 + 9},
        },
        "version": 3,
        "timestamp": T0 + 9,
        "clientToken": "tok-1",
    }


# --- version -----------------------------------------------------------------------------------

VERSION_CASES = [
    pytest.param(None, None, 1, id="a new shadow starts at version 1"),
    pytest.param(None, 0, 1, id="version 0 matches a shadow that never existed"),
    pytest.param(3, None, 4, id="every write increments"),
    pytest.param(3, 3, 4, id="the current version is accepted"),
]


@pytest.mark.parametrize(("writes", "request_version", "expected"), VERSION_CASES)
def test_version_increments_on_every_write(
    writes: int | None, request_version: int | None, expected: int
) -> None:
    current = build(*[state({"a": 1})] * writes) if writes else None
    doc: dict[str, Any] = state({"a": 1})
    if request_version is not None:
        doc["version"] = request_version
    result = update(current, doc)
    assert result.shadow.version == expected
    assert result.accepted["version"] == expected
    assert result.documents["current"]["version"] == expected


CONFLICT_CASES = [
    pytest.param(3, 2, id="stale version"),
    pytest.param(3, 4, id="version from the future"),
    pytest.param(None, 1, id="version on a shadow that does not exist"),
]


@pytest.mark.parametrize(("writes", "request_version"), CONFLICT_CASES)
def test_a_version_other_than_the_stored_one_is_a_conflict(
    writes: int | None, request_version: int
) -> None:
    current = build(*[state({"a": 1})] * writes) if writes else None
    doc = {**state({"a": 2}), "version": request_version, "clientToken": "c-9"}
    result = rejected(current, body(doc), T0 + 7)
    assert result.payload() == {
        "code": 409,
        "message": "Version conflict",
        "timestamp": T0 + 7,
        "clientToken": "c-9",
    }


def test_delete_keeps_the_version_and_the_next_update_continues_from_it() -> None:
    shadow = build(state({"a": 1}), state({"a": 2}))
    deleted = apply_delete(shadow, b"", T0 + 5, "thing-1")
    assert isinstance(deleted, Deleted)
    assert deleted.accepted == {"version": 2, "timestamp": T0 + 5}
    gone = apply_get(deleted.shadow, b"", T0 + 6, "thing-1")
    assert isinstance(gone, Rejected)
    assert (gone.code, gone.message) == (404, "No shadow exists with name: 'thing-1'")
    again = update(deleted.shadow, state(reported={"b": 1}), T0 + 7)
    assert again.shadow.version == 3
    assert again.shadow.state == {"reported": {"b": 1}}
    assert "previous" not in again.documents


@pytest.mark.parametrize(
    ("shadow", "name"),
    [
        pytest.param(None, "meter-1", id="never existed"),
        pytest.param(Shadow(version=4, deleted=True), "config", id="already deleted"),
    ],
)
def test_get_and_delete_of_a_missing_shadow_are_404(shadow: Shadow | None, name: str) -> None:
    for op in (apply_get, apply_delete):
        result = op(shadow, body({"clientToken": "t"}), T0, name)
        assert isinstance(result, Rejected)
        assert result.payload() == {
            "code": 404,
            "message": f"No shadow exists with name: '{name}'",
            "timestamp": T0,
            "clientToken": "t",
        }


# --- documents and metadata --------------------------------------------------------------------


def test_accepted_echoes_the_request_state_with_its_metadata() -> None:
    shadow = build(state({"a": 1, "b": 2}))
    doc = {"state": {"desired": {"a": None, "c": [1, 2]}, "reported": {"x": {"y": 1}}}}
    result = update(shadow, {**doc, "clientToken": "abc"}, T0 + 3)
    assert result.accepted == {
        "state": doc["state"],
        "metadata": {
            "desired": {"a": {"timestamp": T0 + 3}, "c": [{"timestamp": T0 + 3}] * 2},
            "reported": {"x": {"y": {"timestamp": T0 + 3}}},
        },
        "version": 2,
        "timestamp": T0 + 3,
        "clientToken": "abc",
    }


def test_metadata_keeps_per_key_timestamps() -> None:
    shadow = build(
        state({"a": 1, "n": {"x": 1, "y": 1}}),
        state({"n": {"y": 2}}),
        state({"c": ["R", "G"]}),
    )
    assert shadow.metadata == {
        "desired": {
            "a": {"timestamp": T0},
            "n": {"x": {"timestamp": T0}, "y": {"timestamp": T0 + 1}},
            "c": [{"timestamp": T0 + 2}, {"timestamp": T0 + 2}],
        }
    }


def test_documents_carry_the_previous_and_current_snapshots() -> None:
    shadow = build(state({"a": 1}))
    result = update(shadow, {**state(reported={"a": 1}), "clientToken": "k"}, T0 + 4)
    assert result.documents == {
        "previous": {
            "state": {"desired": {"a": 1}},
            "metadata": {"desired": {"a": {"timestamp": T0}}},
            "version": 1,
        },
        "current": {
            "state": {"desired": {"a": 1}, "reported": {"a": 1}},
            "metadata": {
                "desired": {"a": {"timestamp": T0}},
                "reported": {"a": {"timestamp": T0 + 4}},
            },
            "version": 2,
        },
        "timestamp": T0 + 4,
        "clientToken": "k",
    }


def test_get_returns_state_delta_metadata_version_and_token() -> None:
    shadow = build(state({"a": 1}, {"a": 0, "b": 1}))
    got = apply_get(shadow, body({"clientToken": "g-1"}), T0 + 8, "t")
    assert isinstance(got, Got)
    assert got.document == {
        "state": {"desired": {"a": 1}, "reported": {"a": 0, "b": 1}, "delta": {"a": 1}},
        "metadata": {
            "desired": {"a": {"timestamp": T0}},
            "reported": {"a": {"timestamp": T0}, "b": {"timestamp": T0}},
        },
        "version": 1,
        "timestamp": T0 + 8,
        "clientToken": "g-1",
    }


@pytest.mark.parametrize("payload", [b"", b"{}", b"not json", b"[1]"])
def test_get_and_delete_ignore_their_payload(payload: bytes) -> None:
    shadow = build(state({"a": 1}))
    assert isinstance(apply_get(shadow, payload, T0, "t"), Got)
    assert isinstance(apply_delete(shadow, payload, T0, "t"), Deleted)
