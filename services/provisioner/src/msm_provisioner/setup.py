"""`msm-provisioner setup`: create or update, idempotently, the AWS IoT side of provisioning.

Device policy (a device may use only `msm/{thing}/...` and its own shadow, via policy variables),
claim policy (provisioning topics only), the provisioning template with its pre-provisioning
hook, and the claim certificate. `plan()` only reads; `apply()` changes what the plan says.

Locally the endpoint is moto: it has no provisioning templates (it answers 500), so the template
step is skipped with that reason — localiot serves deploy/local/provisioning/ and calls the hook
at MSM_PROVISIONING_HOOK_URL. The claim certificate locally is the local CA's `claim.crt`
(moto's own certificates are not usable for TLS), registered in moto.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from msm_provisioner.domain import setup_plan as sp
from msm_provisioner.domain.setup_plan import Step
from msm_provisioner.settings import ProvisionerSettings

NOT_FOUND = "ResourceNotFoundException"
MAX_VERSIONS = 5  # AWS keeps at most five versions of a policy or template


@dataclass(frozen=True)
class SetupConfig:
    aws_dir: Path
    template_name: str
    hook_target: str
    role_arn: str
    claim_cert_file: Path | None
    claim_out_dir: Path
    local: bool

    @classmethod
    def from_settings(cls, s: ProvisionerSettings) -> SetupConfig:
        return cls(
            aws_dir=s.provisioner_aws_dir,
            template_name=s.provisioner_template_name,
            hook_target=s.provisioner_hook_target,
            role_arn=s.provisioner_role_arn,
            claim_cert_file=s.provisioner_claim_cert_file,
            claim_out_dir=s.provisioner_claim_out_dir,
            local=bool(s.aws_endpoint_url) and not s.is_production,
        )

    @property
    def device_policy(self) -> str:
        return f"{self.template_name}-device"

    @property
    def claim_policy(self) -> str:
        return f"{self.template_name}-claim"

    def document(self, file: str) -> Any:
        variables = {
            "template_name": self.template_name,
            "hook_target": self.hook_target,
            "role_arn": self.role_arn,
            "device_policy": self.device_policy,
        }
        return sp.render((self.aws_dir / file).read_text(encoding="utf-8"), variables)

    def claim_pem_file(self) -> Path | None:
        for path in (self.claim_cert_file, self.claim_out_dir / "claim.crt"):
            if path is not None and path.is_file():
                return path
        return None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def certificate_id_candidates(pem: str) -> list[str]:
    """AWS derives a certificate id from the DER; moto (by default) from the PEM text."""
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return [hashlib.sha256(der).hexdigest(), hashlib.sha256(pem.encode()).hexdigest()]


class Setup:
    def __init__(self, config: SetupConfig, iot: Any, templates_iot: Any | None = None) -> None:
        self.config = config
        self._iot = iot
        self._templates = templates_iot or iot  # tests stub only the template calls

    # -- reading ---------------------------------------------------------------------------------
    def plan(self) -> list[Step]:
        c = self.config
        if not c.local and not c.hook_target.startswith("arn:aws"):
            raise ValueError("AWS IoT calls a Lambda as the hook: set MSM_PROVISIONER_HOOK_TARGET")
        return [
            sp.policy_step(
                "device-policy",
                c.device_policy,
                c.document("device-policy.json"),
                self._policy(c.device_policy),
            ),
            sp.policy_step(
                "claim-policy",
                c.claim_policy,
                c.document("claim-policy.json"),
                self._policy(c.claim_policy),
            ),
            self._template_step(),
            self._claim_step(),
        ]

    def _policy(self, name: str) -> str | None:
        try:
            return str(self._iot.get_policy(policyName=name)["policyDocument"])
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                return None
            raise

    def _template_step(self) -> Step:
        name = self.config.template_name
        try:
            current: dict[str, Any] | None = self._templates.describe_provisioning_template(
                templateName=name
            )
        except ClientError as exc:
            if _code(exc) == NOT_FOUND:
                current = None
            elif self.config.local:
                return Step(
                    "template",
                    name,
                    "skip",
                    detail=(
                        "the local endpoint (moto) has no provisioning templates; localiot serves "
                        "deploy/local/provisioning/ and calls MSM_PROVISIONING_HOOK_URL"
                    ),
                )
            else:
                raise
        return sp.template_step(name, self.config.document("provisioning-template.json"), current)

    def _claim(self) -> tuple[str | None, dict[str, Any] | None]:
        pem_file = self.config.claim_pem_file()
        if pem_file is None:
            return None, None
        pem = pem_file.read_text()
        for cert_id in certificate_id_candidates(pem):
            try:
                desc = self._iot.describe_certificate(certificateId=cert_id)
            except ClientError as exc:
                if _code(exc) != NOT_FOUND:
                    raise
                continue
            return pem, dict(desc["certificateDescription"])
        return pem, None

    def _claim_step(self) -> Step:
        pem, desc = self._claim()
        pem_file = self.config.claim_pem_file()
        source = (
            f"register {pem_file}"
            if pem is not None
            else (f"new keys into {self.config.claim_out_dir}")
        )
        if desc is None:
            return sp.claim_step("claim", None, False, source)
        attached = self._iot.list_attached_policies(target=desc["certificateArn"])
        names = {p["policyName"] for p in attached.get("policies", [])}
        return sp.claim_step(
            str(desc["certificateId"]),
            str(desc["status"]),
            self.config.claim_policy in names,
            source,
        )

    # -- changing --------------------------------------------------------------------------------
    def apply(self, steps: list[Step]) -> list[Step]:
        for step in steps:
            if step.action not in ("create", "update"):
                continue
            if step.kind == "device-policy":
                self._apply_policy(step, "device-policy.json")
            elif step.kind == "claim-policy":
                self._apply_policy(step, "claim-policy.json")
            elif step.kind == "template":
                self._apply_template(step)
            else:
                self._apply_claim()
        return steps

    def _apply_policy(self, step: Step, file: str) -> None:
        document = json.dumps(self.config.document(file))
        if step.action == "create":
            self._iot.create_policy(policyName=step.name, policyDocument=document)
            return
        versions = self._iot.list_policy_versions(policyName=step.name)["policyVersions"]
        old = sorted(
            (v for v in versions if not v["isDefaultVersion"]), key=lambda v: int(v["versionId"])
        )
        if len(versions) >= MAX_VERSIONS and old:
            self._iot.delete_policy_version(
                policyName=step.name, policyVersionId=old[0]["versionId"]
            )
        self._iot.create_policy_version(
            policyName=step.name, policyDocument=document, setAsDefault=True
        )

    def _apply_template(self, step: Step) -> None:
        desired = self.config.document("provisioning-template.json")
        body = json.dumps(desired["templateBody"])
        settings = {k: desired[k] for k in sp.TEMPLATE_KEYS}
        if step.action == "create":
            self._templates.create_provisioning_template(
                templateName=step.name, templateBody=body, type=desired["type"], **settings
            )
            return
        if "templateBody" in step.changes:
            versions = self._templates.list_provisioning_template_versions(templateName=step.name)[
                "versions"
            ]
            old = sorted(
                (v for v in versions if not v["isDefaultVersion"]),
                key=lambda v: int(v["versionId"]),
            )
            if len(versions) >= MAX_VERSIONS and old:
                self._templates.delete_provisioning_template_version(
                    templateName=step.name, versionId=old[0]["versionId"]
                )
            self._templates.create_provisioning_template_version(
                templateName=step.name, templateBody=body, setAsDefault=True
            )
        if set(step.changes) - {"templateBody"}:
            self._templates.update_provisioning_template(templateName=step.name, **settings)

    def _apply_claim(self) -> None:
        pem, desc = self._claim()
        if desc is None and pem is not None:
            desc = self._register(pem)
        elif desc is None:
            desc = self._create_claim_keys()
        elif desc.get("status") != "ACTIVE":
            self._iot.update_certificate(certificateId=desc["certificateId"], newStatus="ACTIVE")
        self._iot.attach_policy(policyName=self.config.claim_policy, target=desc["certificateArn"])

    def _register(self, pem: str) -> dict[str, Any]:
        try:
            answer = self._iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")
        except ClientError as exc:
            if _code(exc) != "ResourceAlreadyExistsException" or "resourceArn" not in exc.response:
                raise
            answer = {
                "certificateId": exc.response["resourceId"],
                "certificateArn": exc.response["resourceArn"],
            }
        return {**answer, "status": "ACTIVE"}

    def _create_claim_keys(self) -> dict[str, Any]:
        made = self._iot.create_keys_and_certificate(setAsActive=True)
        out = self.config.claim_out_dir
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / "claim.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as key:
            key.write(made["keyPair"]["PrivateKey"])
        (out / "claim.crt").write_text(made["certificatePem"])
        return {**made, "status": "ACTIVE"}


def run(setup: Setup, *, dry_run: bool) -> tuple[list[Step], list[str]]:
    """Plan (and unless dry-run, apply); the steps and the lines to print."""
    steps = setup.plan()
    if not dry_run:
        setup.apply(steps)
    return steps, [s.line(dry_run) for s in steps]


SetupErrors = (ClientError, BotoCoreError, OSError, ValueError)
