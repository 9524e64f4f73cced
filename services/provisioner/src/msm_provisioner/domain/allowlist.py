"""Factory manifests: a CSV of `serial, imei[, labels]` read into allowlist entries.

A header row is optional (`serial,imei,labels`, any case); further named columns become labels.
The labels cell holds `key=value` pairs separated by `;` (values: letters, digits and
`_.@/:#-`, as AWS thing attributes allow). A serial becomes the thing name, so it
follows AWS's thing-name rules; an IMEI is 15 digits with a valid Luhn check digit. A manifest
with any bad row is refused as a whole, with every problem listed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Final

from msm_provisioner.domain.hook import SERIAL_RE, AllowlistEntry

_IMEI_RE: Final = re.compile(r"\d{15}")
_LABEL_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Label values end up in an AWS thing attribute (DeviceLabels), whose alphabet is narrow.
_LABEL_VALUE_RE: Final = re.compile(r"[A-Za-z0-9_.@/:#-]{0,128}")
MAX_ROWS: Final = 200_000
MAX_ERRORS: Final = 50
BASE_COLUMNS: Final = ("serial", "imei", "labels")


@dataclass(frozen=True)
class ManifestError:
    line: int
    detail: str


@dataclass(frozen=True)
class Manifest:
    entries: list[AllowlistEntry] = field(default_factory=list)
    errors: list[ManifestError] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line of each entry

    def line_of(self, imei: str) -> int:
        return next((n for n, e in zip(self.lines, self.entries, strict=True) if e.imei == imei), 0)

    @property
    def ok(self) -> bool:
        return not self.errors


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def imei_with_check_digit(body14: str) -> str:
    """Complete a 14-digit IMEI body with its Luhn check digit."""
    return next(body14 + d for d in "0123456789" if luhn_ok(body14 + d))


def parse_labels(cell: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for raw in cell.split(";"):
        part = raw.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or _LABEL_KEY_RE.fullmatch(key) is None:
            raise ValueError(f"label {part!r} is not key=value")
        labels[key] = _label_value(key, value)
    return labels


def _label_value(key: str, value: str) -> str:
    if _LABEL_VALUE_RE.fullmatch(value) is None:
        raise ValueError(f"label {key}: value {value!r} has characters AWS attributes refuse")
    return value


def parse_manifest(text: str) -> Manifest:
    """Read a manifest; `errors` lists bad rows (line numbers are 1-based)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    named = header[:1] == ["serial"]
    columns = header if named else list(BASE_COLUMNS)
    entries: list[AllowlistEntry] = []
    lines: list[int] = []
    errors: list[ManifestError] = []
    seen: dict[str, int] = {}
    imeis: dict[str, int] = {}
    first = 2 if named else 1
    body = rows[1:] if named else rows
    if named and ("imei" not in columns or len(set(columns)) != len(columns)):
        return Manifest([], [ManifestError(1, "the header needs serial and imei, once each")])
    if len(body) > MAX_ROWS:
        return Manifest([], [ManifestError(0, f"more than {MAX_ROWS} rows")])
    for line, row in enumerate(body, start=first):
        if not any(cell.strip() for cell in row):
            continue
        try:
            entry = _entry(columns, row)
        except ValueError as exc:
            errors.append(ManifestError(line, str(exc)))
            continue
        for key, index in ((entry.serial, seen), (entry.imei, imeis)):
            if key in index:
                errors.append(ManifestError(line, f"{key} repeats line {index[key]}"))
            index.setdefault(key, line)
        entries.append(entry)
        lines.append(line)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        return Manifest([], errors[:MAX_ERRORS])
    return Manifest(entries, [], lines)


def _entry(columns: list[str], row: list[str]) -> AllowlistEntry:
    if len(row) > len(columns):
        raise ValueError(f"{len(row)} cells, but {len(columns)} columns")
    cells = {name: value.strip() for name, value in zip(columns, row, strict=False)}
    serial = cells.get("serial", "")
    imei = cells.get("imei", "")
    if SERIAL_RE.fullmatch(serial) is None:
        raise ValueError(f"serial {serial!r} is not a valid thing name")
    if _IMEI_RE.fullmatch(imei) is None or not luhn_ok(imei):
        raise ValueError(f"imei {imei!r} is not 15 digits with a valid check digit")
    labels = parse_labels(cells.get("labels", ""))
    for name in columns:
        if name in BASE_COLUMNS or not cells.get(name):
            continue
        if _LABEL_KEY_RE.fullmatch(name) is None:
            raise ValueError(f"column {name!r} is not a valid label name")
        labels[name] = _label_value(name, cells[name])
    return AllowlistEntry(serial=serial, imei=imei, labels=labels)


def render_manifest(entries: list[AllowlistEntry]) -> str:
    """The CSV form of `entries` (header included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BASE_COLUMNS)
    for e in entries:
        labels = ";".join(f"{k}={v}" for k, v in sorted(e.labels.items()))
        writer.writerow([e.serial, e.imei, labels])
    return out.getvalue()
