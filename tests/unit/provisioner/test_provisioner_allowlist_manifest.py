"""Factory manifests (CSV) into allowlist entries; the simulator's manifest is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from msm_provisioner.domain.allowlist import (
    imei_with_check_digit,
    luhn_ok,
    parse_manifest,
    render_manifest,
)

ROOT = Path(__file__).resolve().parents[3]
IMEI_1 = imei_with_check_digit("35699000000001")
IMEI_2 = imei_with_check_digit("35699000000002")


def test_luhn_check_digit() -> None:
    assert luhn_ok("490154203237518")  # a published example IMEI
    assert not luhn_ok("490154203237519")
    assert luhn_ok(IMEI_1)


def test_header_labels_and_extra_columns() -> None:
    text = f"Serial,IMEI,labels,site\nM-1,{IMEI_1},batch=7;hw=rev-b,north\nM-2,{IMEI_2},,\n"
    manifest = parse_manifest(text)
    assert manifest.ok, manifest.errors
    first, second = manifest.entries
    assert (first.serial, first.imei) == ("M-1", IMEI_1)
    assert first.labels == {"batch": "7", "hw": "rev-b", "site": "north"}
    assert second.labels == {}
    assert manifest.lines == [2, 3]


def test_without_header_columns_are_serial_imei_labels() -> None:
    manifest = parse_manifest(f"M-1,{IMEI_1}\n\nM-2,{IMEI_2},fleet=a\n")
    assert [e.serial for e in manifest.entries] == ["M-1", "M-2"]
    assert manifest.entries[1].labels == {"fleet": "a"}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (f"serial,imei\nbad/serial,{IMEI_1}\n", 2, "not a valid thing name"),
        ("serial,imei\nM-1,12345\n", 2, "15 digits"),
        ("serial,imei\nM-1,490154203237519\n", 2, "check digit"),
        (f"serial,imei\nM-1,{IMEI_1}\nM-1,{IMEI_2}\n", 3, "repeats line 2"),
        (f"serial,imei\nM-1,{IMEI_1}\nM-2,{IMEI_1}\n", 3, "repeats line 2"),
        (f"serial,imei,labels\nM-1,{IMEI_1},novalue\n", 2, "key=value"),
        (f"serial,imei,labels\nM-1,{IMEI_1},a=b c\n", 2, "AWS attributes refuse"),
        (f"serial,imei\nM-1,{IMEI_1},extra\n", 2, "3 cells"),
        ("serial,serial,imei\n", 1, "once each"),
        ("serial,labels\n", 1, "serial and imei"),
    ],
)
def test_bad_rows_refuse_the_whole_manifest(text: str, line: int, fragment: str) -> None:
    manifest = parse_manifest(text)
    assert not manifest.ok and manifest.entries == []
    assert any(e.line == line and fragment in e.detail for e in manifest.errors), manifest.errors


def test_render_then_parse_round_trips() -> None:
    manifest = parse_manifest(f"serial,imei,labels\nM-1,{IMEI_1},b=2;a=1\n")
    assert parse_manifest(render_manifest(manifest.entries)).entries == manifest.entries


def test_the_simulator_manifest_lists_sim_000001_to_001000() -> None:
    manifest = parse_manifest((ROOT / "deploy/local/allowlist-sim.csv").read_text())
    assert manifest.ok, manifest.errors[:3]
    serials = [e.serial for e in manifest.entries]
    assert serials == [f"SIM-{n:06d}" for n in range(1, 1001)]
    assert len({e.imei for e in manifest.entries}) == 1000
