"""The AWS IoT registry (boto3 `iot`; moto locally): things, certificates, principals."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)
NOT_FOUND = "ResourceNotFoundException"


@dataclass(frozen=True)
class CertificateInfo:
    certificate_id: str
    arn: str
    status: str
    pem: str | None


class Registry(Protocol):
    def thing_principals(self, thing: str) -> list[str]:
        """Certificate ARNs attached to `thing`; empty if there is no such thing."""
        ...

    def certificate(self, certificate_id: str) -> CertificateInfo | None: ...

    def set_certificate_status(self, certificate_id: str, status: str) -> bool:
        """False if the certificate does not exist."""
        ...

    def detach(self, thing: str, principal_arn: str) -> None: ...

    def delete_thing(self, thing: str) -> bool:
        """False if there was no such thing."""
        ...


def iot_client(endpoint_url: str | None, region: str) -> Any:
    """A boto3 `iot` client; against a local endpoint (moto) any credentials will do."""
    session = boto3.session.Session()
    local: dict[str, str] = {}
    if session.get_credentials() is None and endpoint_url:
        local = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15
    )
    return session.client(
        "iot", endpoint_url=endpoint_url, region_name=region, config=config, **local
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Boto3Registry:
    def __init__(self, iot: Any) -> None:
        self._iot = iot

    def thing_principals(self, thing: str) -> list[str]:
        try:
            answer = self._iot.list_thing_principals(thingName=thing)
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return []
            raise
        return list(answer.get("principals", []))

    def certificate(self, certificate_id: str) -> CertificateInfo | None:
        try:
            found = self._iot.describe_certificate(certificateId=certificate_id)
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return None
            raise
        desc = found["certificateDescription"]
        return CertificateInfo(
            certificate_id=certificate_id,
            arn=str(desc["certificateArn"]),
            status=str(desc.get("status", "")),
            pem=desc.get("certificatePem"),
        )

    def set_certificate_status(self, certificate_id: str, status: str) -> bool:
        try:
            self._iot.update_certificate(certificateId=certificate_id, newStatus=status)
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return False
            raise
        return True

    def detach(self, thing: str, principal_arn: str) -> None:
        try:
            self._iot.detach_thing_principal(thingName=thing, principal=principal_arn)
        except ClientError as exc:
            if _code(exc) != NOT_FOUND:
                raise

    def delete_thing(self, thing: str) -> bool:
        try:
            self._iot.delete_thing(thingName=thing)
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return False
            raise
        return True
