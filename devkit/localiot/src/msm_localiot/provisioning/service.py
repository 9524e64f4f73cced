"""The fleet-provisioning MQTT API: CreateKeysAndCertificate, CreateCertificateFromCsr and
RegisterThing, answered in AWS's shapes.

Accepted: `{certificateId, certificatePem, privateKey, certificateOwnershipToken}` (the CSR path
without `privateKey`) and `{deviceConfiguration, thingName}`. Rejected:
`{statusCode, errorCode, errorMessage}`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from msm_common import topics
from msm_common.identifiers import is_thing_name

from ..publishing import Publisher, to_json
from .broker import BrokerAccess, BrokerError
from .ca import CsrError, IssuedCertificate, LocalCA
from .certificates import CertificateRecord, CertificateStore, new_ownership_token, token_digest
from .hook import Hook, HookError
from .registry import RegisteredCertificate, RegisteredThing, Registry
from .templates import (
    ProvisioningPlan,
    ProvisioningTemplate,
    TemplateError,
    TemplateSource,
    plan,
)

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Reply:
    accepted: bool
    body: JsonObject


class ProvisioningFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = Reply(
            False, {"statusCode": status, "errorCode": code, "errorMessage": message}
        )


@dataclass(frozen=True)
class ProvisioningConfig:
    default_template: str
    default_hook_url: str = ""
    token_ttl: timedelta = timedelta(hours=1)
    claim_certificate_id: str = ""
    region: str = "us-east-1"
    account_id: str = "123456789012"


class ProvisioningService:
    def __init__(
        self,
        config: ProvisioningConfig,
        *,
        ca: LocalCA,
        certificates: CertificateStore,
        registry: Registry,
        broker: BrokerAccess,
        templates: TemplateSource,
        hook: Hook,
        publisher: Publisher,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._ca = ca
        self._certificates = certificates
        self._registry = registry
        self._broker = broker
        self._templates = templates
        self._hook = hook
        self._publisher = publisher
        self._clock = clock

    # -- the three operations --------------------------------------------------------------------
    def create_keys_and_certificate(self, payload: bytes) -> Reply:
        try:
            _request(payload)
            return self._certificate(self._ca.issue_with_new_key(self._clock()))
        except ProvisioningFailure as failure:
            return failure.reply

    def create_certificate_from_csr(self, payload: bytes) -> Reply:
        try:
            csr = _request(payload).get("certificateSigningRequest")
            if not isinstance(csr, str) or not csr:
                raise ProvisioningFailure(
                    400, "InvalidPayload", "certificateSigningRequest is required"
                )
            try:
                issued = self._ca.issue_from_csr(csr, self._clock())
            except CsrError as exc:
                raise ProvisioningFailure(400, "InvalidCsr", str(exc)) from None
            return self._certificate(issued)
        except ProvisioningFailure as failure:
            return failure.reply

    def register_thing(self, template_name: str, payload: bytes, client_id: str = "") -> Reply:
        """`client_id`: the requesting claim client (known from its per-client topic)."""
        try:
            return self._register(template_name, _request(payload), client_id)
        except ProvisioningFailure as failure:
            log.info("RegisterThing %s rejected: %s", template_name, failure.reply.body)
            return failure.reply

    # -- steps -----------------------------------------------------------------------------------
    def _certificate(self, issued: IssuedCertificate) -> Reply:
        registered = _registry_call(self._registry.register_certificate, issued.certificate_pem)
        token = new_ownership_token()
        now = self._clock()
        self._certificates.add(
            CertificateRecord(
                certificate_id=registered.certificate_id,
                certificate_arn=registered.certificate_arn,
                common_name=issued.common_name,
                certificate_pem=issued.certificate_pem,
                token_digest=token_digest(token),
                token_expires_at=now + self._config.token_ttl,
                created_at=now,
            )
        )
        body: JsonObject = {
            "certificateId": registered.certificate_id,
            "certificatePem": issued.certificate_pem,
            "certificateOwnershipToken": token,
        }
        if issued.private_key_pem is not None:
            body["privateKey"] = issued.private_key_pem
        return Reply(True, body)

    def _register(self, template_name: str, request: JsonObject, client_id: str) -> Reply:
        template = self._templates.find(template_name)
        if template is None:
            raise ProvisioningFailure(
                404, "ResourceNotFound", f"Template {template_name} not found"
            )
        if not template.enabled:
            raise ProvisioningFailure(
                400, "TemplateDisabled", f"Template {template_name} is disabled"
            )
        record = self._owned_certificate(request.get("certificateOwnershipToken"))
        parameters = request.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ProvisioningFailure(400, "InvalidPayload", "parameters must be an object")
        parameters = {**parameters, **self._vet(template, record, parameters, client_id)}
        steps = self._plan(template, record, parameters)
        if record.thing_name not in (None, steps.thing_name):
            raise ProvisioningFailure(
                400, "InvalidRequest", f"certificate already provisioned as {record.thing_name}"
            )
        cert = RegisteredCertificate(record.certificate_id, record.certificate_arn)
        thing = _registry_call(self._registry.provision, steps, cert)
        if steps.certificate_status == "ACTIVE":
            try:
                self._broker.grant(record.certificate_id, record.common_name, steps.thing_name)
            except BrokerError as exc:
                log.error("ACL grant for %s failed: %s", steps.thing_name, exc)
                raise ProvisioningFailure(
                    500, "InternalFailure", "Internal service failure"
                ) from None
        self._certificates.mark_registered(record.certificate_id, steps.thing_name)
        if thing.created:
            self._publish_thing_created(thing)
        log.info("provisioned thing %s (certificate %s)", steps.thing_name, record.certificate_id)
        return Reply(
            True, {"deviceConfiguration": steps.device_configuration, "thingName": steps.thing_name}
        )

    def _owned_certificate(self, token: object) -> CertificateRecord:
        if not isinstance(token, str) or not token:
            raise ProvisioningFailure(
                400,
                "InvalidCertificateOwnershipToken",
                "Certificate ownership token cannot be empty.",
            )
        record = self._certificates.by_token(token)
        if (
            record is None
            or record.revoked_at is not None
            or record.token_expires_at < self._clock()
        ):
            raise ProvisioningFailure(
                400, "InvalidCertificateOwnershipToken", "Certificate ownership token is invalid."
            )
        return record

    def _vet(
        self,
        template: ProvisioningTemplate,
        record: CertificateRecord,
        parameters: JsonObject,
        client_id: str,
    ) -> JsonObject:
        """Ask the pre-provisioning hook, if the template has one; its parameter overrides."""
        url = self._hook_url(template)
        if url is None:
            return {}
        event = {
            "claimCertificateId": self._config.claim_certificate_id,
            "certificateId": record.certificate_id,
            "certificatePem": record.certificate_pem,
            "templateArn": self._template_arn(template.name),
            "clientId": client_id,
            "parameters": parameters,
        }
        try:
            answer = self._hook(url, event)
        except HookError as exc:
            log.warning("template %s: %s", template.name, exc)
            raise ProvisioningFailure(
                500, "InternalFailure", "Pre-provisioning hook failed"
            ) from None
        if not answer.allow:
            raise ProvisioningFailure(
                403, "AccessDenied", "Pre-provisioning hook denied provisioning"
            )
        return answer.overrides

    def _hook_url(self, template: ProvisioningTemplate) -> str | None:
        if template.name == self._config.default_template and self._config.default_hook_url:
            return self._config.default_hook_url
        target = template.hook_target or ""
        return target if target.startswith(("http://", "https://")) else None

    def _plan(
        self, template: ProvisioningTemplate, record: CertificateRecord, parameters: JsonObject
    ) -> ProvisioningPlan:
        try:
            steps = plan(
                template,
                parameters,
                {"Id": record.certificate_id, "CommonName": record.common_name},
            )
        except TemplateError as exc:
            raise ProvisioningFailure(400, "InvalidParameters", str(exc)) from None
        if not is_thing_name(steps.thing_name):
            raise ProvisioningFailure(
                400, "InvalidParameters", f"{steps.thing_name!r} is not a valid thing name"
            )
        return steps

    def _publish_thing_created(self, thing: RegisteredThing) -> None:
        arn_parts = thing.thing_arn.split(":")
        event = {
            "eventType": "THING_EVENT",
            "eventId": uuid.uuid4().hex,
            "timestamp": int(self._clock().timestamp() * 1000),
            "operation": "CREATED",
            "accountId": arn_parts[4] if len(arn_parts) > 5 else self._config.account_id,
            "thingId": thing.thing_id,
            "thingName": thing.thing_name,
            "versionNumber": 1,
            "thingTypeName": thing.thing_type,
            "attributes": thing.attributes,
        }
        self._publisher.publish(topics.thing_event(thing.thing_name, "created"), to_json(event))

    def _template_arn(self, name: str) -> str:
        cfg = self._config
        return f"arn:aws:iot:{cfg.region}:{cfg.account_id}:provisioningtemplate/{name}"


def _request(payload: bytes) -> JsonObject:
    try:
        request = json.loads(payload or b"{}")
    except ValueError:
        raise ProvisioningFailure(400, "InvalidPayload", "The payload is not valid JSON") from None
    if not isinstance(request, dict):
        raise ProvisioningFailure(400, "InvalidPayload", "The payload must be a JSON object")
    return request


def _registry_call(call: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    try:
        return call(*args, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        log.error("registry call %s failed: %s", getattr(call, "__name__", call), exc)
        raise ProvisioningFailure(500, "InternalFailure", "Internal service failure") from None
