"""The thing and certificate registry: AWS IoT's control plane through boto3 (moto locally)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from .templates import ProvisioningPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredCertificate:
    certificate_id: str
    certificate_arn: str


@dataclass(frozen=True)
class RegisteredThing:
    thing_name: str
    thing_arn: str
    thing_id: str
    created: bool
    attributes: dict[str, str]
    thing_type: str | None


class Registry(Protocol):
    def register_certificate(self, certificate_pem: str) -> RegisteredCertificate:
        """Register a certificate we signed, PENDING_ACTIVATION as AWS leaves it."""
        ...

    def provision(
        self, plan: ProvisioningPlan, certificate: RegisteredCertificate
    ) -> RegisteredThing:
        """Create (or reuse) the thing, set the certificate status, attach thing and policy."""
        ...

    def certificate_statuses(self) -> dict[str, str]:
        """Every certificate id in the registry with its status (ACTIVE, INACTIVE, REVOKED...)."""
        ...


class Boto3Registry:
    def __init__(self, iot: Any) -> None:
        self._iot = iot  # a boto3 "iot" client

    def register_certificate(self, certificate_pem: str) -> RegisteredCertificate:
        answer = self._iot.register_certificate_without_ca(
            certificatePem=certificate_pem, status="PENDING_ACTIVATION"
        )
        return RegisteredCertificate(answer["certificateId"], answer["certificateArn"])

    def provision(
        self, plan: ProvisioningPlan, certificate: RegisteredCertificate
    ) -> RegisteredThing:
        thing, created = self._thing(plan)
        self._iot.update_certificate(
            certificateId=certificate.certificate_id, newStatus=plan.certificate_status
        )
        self._iot.attach_thing_principal(
            thingName=plan.thing_name, principal=certificate.certificate_arn
        )
        if plan.policy_name:
            self._policy(plan)
            self._iot.attach_policy(policyName=plan.policy_name, target=certificate.certificate_arn)
        for group in plan.thing_groups:
            self._add_to_group(plan.thing_name, group)
        return RegisteredThing(
            thing_name=plan.thing_name,
            thing_arn=thing["thingArn"],
            thing_id=thing.get("thingId", ""),
            created=created,
            attributes=dict(thing.get("attributes") or plan.attributes),
            thing_type=thing.get("thingTypeName") or plan.thing_type,
        )

    def certificate_statuses(self) -> dict[str, str]:
        statuses: dict[str, str] = {}
        paginator = self._iot.get_paginator("list_certificates")
        for page in paginator.paginate(PaginationConfig={"PageSize": 250}):
            for cert in page.get("certificates", []):
                statuses[cert["certificateId"]] = cert["status"]
        return statuses

    def _thing(self, plan: ProvisioningPlan) -> tuple[dict[str, Any], bool]:
        try:
            existing: dict[str, Any] = self._iot.describe_thing(thingName=plan.thing_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        else:
            if plan.attributes:  # OverrideSettings MERGE, the template's default
                self._iot.update_thing(
                    thingName=plan.thing_name,
                    attributePayload={"attributes": plan.attributes, "merge": True},
                )
            return existing, False
        kwargs: dict[str, Any] = {"thingName": plan.thing_name}
        if plan.attributes:
            kwargs["attributePayload"] = {"attributes": plan.attributes}
        if plan.thing_type and self._thing_type_exists(plan.thing_type):
            kwargs["thingTypeName"] = plan.thing_type
        created: dict[str, Any] = self._iot.create_thing(**kwargs)
        return {**created, "attributes": plan.attributes}, True

    def _thing_type_exists(self, name: str) -> bool:
        try:
            self._iot.describe_thing_type(thingTypeName=name)
        except ClientError:
            log.warning("thing type %s does not exist; creating the thing without it", name)
            return False
        return True

    def _policy(self, plan: ProvisioningPlan) -> None:
        try:
            self._iot.get_policy(policyName=plan.policy_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            if plan.policy_document is None:
                raise
            try:
                self._iot.create_policy(
                    policyName=plan.policy_name, policyDocument=plan.policy_document
                )
            except ClientError as race:  # another instance created it meanwhile
                if race.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise

    def _add_to_group(self, thing_name: str, group: str) -> None:
        try:
            self._iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing_name)
        except ClientError as exc:
            log.warning("thing %s not added to group %s: %s", thing_name, group, exc)
