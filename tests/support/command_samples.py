"""Parameters of each command type as an operator would send them (secrets in plaintext)."""

from __future__ import annotations

from typing import Any

MQTT: dict[str, Any] = {
    "broker_ip": "10.1.2.3",
    "broker_port": 8883,
    "broker_user": "meter",
    "broker_password": "mqtt-secret",
    "data_interval": 60,
}
SFTP: dict[str, Any] = {
    "server_ip": "sftp.example.com",
    "server_port": 22,
    "username": "meter",
    "password": "sftp-secret",
    "data_interval": 300,
}
NTP: dict[str, Any] = {"server_1": "pool.ntp.org", "server_2": "time.example.com"}
PARAMS: dict[str, dict[str, Any]] = {"reboot": {}, "ntp": NTP, "mqtt": MQTT, "sftp": SFTP}
