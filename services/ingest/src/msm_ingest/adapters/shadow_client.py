"""Device shadows through the AWS IoT data plane (boto3 `iot-data`; localiot or moto locally)."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from msm_ingest.ports import ShadowError


class IotDataShadowClient:
    def __init__(self, endpoint_url: str | None, region: str) -> None:
        self._client = boto3.client(
            "iot-data",
            endpoint_url=endpoint_url or None,
            region_name=region,
            config=Config(
                connect_timeout=2,
                read_timeout=5,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=4,
            ),
        )

    def update_reported(self, thing: str, reported: dict[str, Any]) -> None:
        payload = orjson.dumps({"state": {"reported": reported}})
        try:
            self._client.update_thing_shadow(thingName=thing, payload=payload)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise ShadowError(f"{code}: {thing}") from exc
        except BotoCoreError as exc:
            raise ShadowError(str(exc)) from exc
