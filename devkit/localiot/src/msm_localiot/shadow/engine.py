"""Device Shadow rules as AWS IoT applies them: pure functions, no I/O, the clock passed in.

A shadow is `Shadow(state, metadata, version, deleted)`. `apply_update`, `apply_get` and
`apply_delete` take the stored shadow (or None) and the raw request payload, and return what AWS
answers: the new shadow with its /accepted, /update/documents and /update/delta documents, or a
`Rejected` error document. The MQTT and HTTP sides only carry these results.

Rules (AWS Device Shadow service documents):
- an update merges `state.desired` / `state.reported` into the stored sections; a `null` value
  deletes that key, `"desired": null` deletes the section, `"state": null` empties the shadow;
  objects that end up empty disappear; arrays are values (replaced whole, no `null` inside);
- every accepted update increments `version`; a request `version` other than the stored one is
  rejected with 409; deleting keeps the version, so a re-created shadow continues from it;
- metadata mirrors the state with `{"timestamp": epoch_s}` per leaf (one per array element);
- delta = the desired keys missing from, or different in, reported (nested objects recurse,
  arrays compare whole), with the desired metadata of those keys;
- `/update/delta` is published when the delta is non-empty and the request wrote `desired`, or a
  `reported` write changed the delta;
- limits: state 8 KB (metadata excluded), 6 levels of nesting in desired / reported, client
  token 64 bytes.
"""

from __future__ import annotations

import copy
import json

from .model import (
    MAX_STATE_BYTES,
    SECTIONS,
    TOO_LARGE,
    VERSION_CONFLICT,
    Deleted,
    Got,
    JsonObject,
    Rejected,
    Shadow,
    ShadowRequestError,
    Updated,
    no_shadow_message,
)
from .requests import optional_token, parse_update

# --- the three operations ----------------------------------------------------------------------


def apply_update(current: Shadow | None, payload: bytes, now: int) -> Updated | Rejected:
    """Merge an update request into the shadow, or say why AWS would reject it."""
    try:
        request = parse_update(payload)
    except ShadowRequestError as rejection:
        return rejection.at(now)
    token, patch = request.client_token, request.patch
    stored_version = current.version if current is not None else 0
    if request.version is not None and request.version != stored_version:
        return Rejected(409, VERSION_CONFLICT, now, token)
    previous = current if current is not None and current.exists else None
    state, metadata = _merged(previous, patch, now)
    if _json_size(state) > MAX_STATE_BYTES:
        return Rejected(413, TOO_LARGE, now, token)

    shadow = Shadow(state, metadata, stored_version + 1)
    accepted: JsonObject = {
        "state": copy.deepcopy(patch),
        "metadata": _request_metadata(patch, now),
        "version": shadow.version,
        "timestamp": now,
    }
    documents: JsonObject = {"current": shadow.snapshot(), "timestamp": now}
    if previous is not None:
        documents["previous"] = previous.snapshot()
    _with_token(accepted, token)
    _with_token(documents, token)
    return Updated(shadow, accepted, documents, _delta_message(previous, shadow, patch, now, token))


def _existing(
    current: Shadow | None, payload: bytes, now: int, shadow_name: str
) -> tuple[Shadow, str | None] | Rejected:
    """The stored shadow and the request's client token; a bad request, or 404 with no shadow."""
    try:
        token = optional_token(payload)
    except ShadowRequestError as rejection:
        return rejection.at(now)
    if current is None or not current.exists:
        return Rejected(404, no_shadow_message(shadow_name), now, token)
    return current, token


def apply_get(current: Shadow | None, payload: bytes, now: int, shadow_name: str) -> Got | Rejected:
    """The whole document with its delta, or 404 when there is no shadow."""
    found = _existing(current, payload, now, shadow_name)
    if isinstance(found, Rejected):
        return found
    shadow, token = found
    state = copy.deepcopy(shadow.state)
    delta, _ = delta_of(shadow)
    if delta:
        state["delta"] = delta
    document: JsonObject = {
        "state": state,
        "metadata": copy.deepcopy(shadow.metadata),
        "version": shadow.version,
        "timestamp": now,
    }
    return Got(_with_token(document, token))


def apply_delete(
    current: Shadow | None, payload: bytes, now: int, shadow_name: str
) -> Deleted | Rejected:
    """Delete the shadow; its version survives in a tombstone. 404 when there is none."""
    found = _existing(current, payload, now, shadow_name)
    if isinstance(found, Rejected):
        return found
    shadow, token = found
    tombstone = Shadow(version=shadow.version, deleted=True)
    accepted = _with_token({"version": shadow.version, "timestamp": now}, token)
    return Deleted(tombstone, accepted)


def delta_of(shadow: Shadow) -> tuple[JsonObject, JsonObject]:
    """(delta state, delta metadata): desired keys missing from or different in reported."""
    desired = shadow.state.get("desired", {})
    reported = shadow.state.get("reported", {})
    return _delta(desired, reported, shadow.metadata.get("desired", {}))


# --- merge, metadata, delta --------------------------------------------------------------------


def _merged(
    previous: Shadow | None, patch: JsonObject | None, now: int
) -> tuple[JsonObject, JsonObject]:
    if patch is None:
        return {}, {}
    state = copy.deepcopy(previous.state) if previous is not None else {}
    metadata = copy.deepcopy(previous.metadata) if previous is not None else {}
    for section in SECTIONS:
        if section not in patch:
            continue
        if patch[section] is None:
            state.pop(section, None)
            metadata.pop(section, None)
            continue
        target = state.setdefault(section, {})
        target_meta = metadata.setdefault(section, {})
        _merge(target, target_meta, patch[section], now)
        if not target:
            del state[section]
            metadata.pop(section, None)
    return state, metadata


def _merge(target: JsonObject, meta: JsonObject, patch: JsonObject, now: int) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            if not _is_branch(meta.get(key)):
                meta[key] = {}
            _merge(target[key], meta[key], value, now)
            if not target[key]:
                del target[key]
                meta.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)
            meta[key] = _stamp(value, now)


def _is_branch(meta: object) -> bool:
    """Metadata of an object is a dict of its children's metadata, never a bare timestamp."""
    return isinstance(meta, dict) and not isinstance(meta.get("timestamp"), int)


def _stamp(value: object, now: int) -> object:
    if isinstance(value, dict):
        return {k: _stamp(v, now) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stamp(item, now) for item in value]
    return {"timestamp": now}


def _request_metadata(patch: JsonObject | None, now: int) -> JsonObject:
    """Metadata for what the request wrote, deletions (`null`) included."""
    if patch is None:
        return {}
    return {section: _stamp_request(value, now) for section, value in patch.items()}


def _stamp_request(value: object, now: int) -> object:
    if isinstance(value, dict):
        return {k: _stamp_request(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_stamp_request(item, now) for item in value]
    return {"timestamp": now}


def _delta(
    desired: JsonObject, reported: JsonObject, desired_meta: JsonObject
) -> tuple[JsonObject, JsonObject]:
    delta: JsonObject = {}
    meta: JsonObject = {}
    for key, want in desired.items():
        key_meta = desired_meta.get(key) if isinstance(desired_meta, dict) else None
        if key not in reported:
            delta[key] = copy.deepcopy(want)
            meta[key] = copy.deepcopy(key_meta)
        elif isinstance(want, dict) and isinstance(reported[key], dict):
            branch = key_meta if isinstance(key_meta, dict) and _is_branch(key_meta) else {}
            sub, sub_meta = _delta(want, reported[key], branch)
            if sub:
                delta[key] = sub
                meta[key] = sub_meta
        elif not json_equal(want, reported[key]):
            delta[key] = copy.deepcopy(want)
            meta[key] = copy.deepcopy(key_meta)
    return delta, meta


def json_equal(a: object, b: object) -> bool:
    """JSON value equality: booleans are not numbers; 1 and 1.0 are the same number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _delta_message(
    previous: Shadow | None,
    shadow: Shadow,
    patch: JsonObject | None,
    now: int,
    token: str | None,
) -> JsonObject | None:
    delta, meta = delta_of(shadow)
    if not delta:
        return None
    before = delta_of(previous)[0] if previous is not None else {}
    wrote_desired = patch is not None and "desired" in patch
    if not wrote_desired and json_equal(before, delta):
        return None
    message: JsonObject = {"version": shadow.version, "timestamp": now, "state": delta}
    message["metadata"] = meta
    return _with_token(message, token)


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _with_token(document: JsonObject, token: str | None) -> JsonObject:
    if token is not None:
        document["clientToken"] = token
    return document
