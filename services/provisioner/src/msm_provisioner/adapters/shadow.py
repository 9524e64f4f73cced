"""Tell a device through its shadow that it should rotate its certificate (AWS iot-data)."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)
ROTATION_KEY = "certificate_rotation"


class RotationSignal(Protocol):
    def request(self, thing: str, request: dict[str, Any] | None) -> bool:
        """Set (or with None, clear) `desired.certificate_rotation`; False if it failed."""
        ...


class ShadowRotationSignal:
    def __init__(self, endpoint_url: str | None, region: str) -> None:
        session = boto3.session.Session()
        local: dict[str, str] = {}
        if session.get_credentials() is None and endpoint_url:
            local = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self._client = session.client(
            "iot-data",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=5),
            **local,
        )

    def request(self, thing: str, request: dict[str, Any] | None) -> bool:
        payload = json.dumps({"state": {"desired": {ROTATION_KEY: request}}}).encode()
        try:
            self._client.update_thing_shadow(thingName=thing, payload=payload)
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not signal certificate rotation to %s: %s", thing, exc)
            return False
        return True
