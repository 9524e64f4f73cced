"""Deactivated or revoked in the registry means locked out of the broker.

`sync_certificate_status` compares the certificates localiot provisioned with their status in
the registry (boto3 `iot`, moto locally: whoever deactivates them, the provisioner or a person
with the AWS CLI). One that is INACTIVE, REVOKED or any other status but ACTIVE loses its ACL
fragment, goes into the CRL, and its open connections are dropped. The CRL entry is permanent:
re-activating the certificate later does not let it back in (issue a new one). A certificate the
registry does not list is left alone: AWS deletes only inactive certificates, and locally an
empty registry more likely means moto was restarted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from pymongo.errors import PyMongoError

from .broker import BrokerAccess, BrokerError
from .certificates import CertificateStore
from .registry import Registry

log = logging.getLogger(__name__)


def sync_certificate_status(
    certificates: CertificateStore,
    registry: Registry,
    broker: BrokerAccess,
    *,
    connected_clients: Callable[[str], list[str]],
    kick: Callable[[str], object],
    now: datetime,
) -> list[str]:
    """Lock out every provisioned certificate that is not ACTIVE any more; their ids."""
    statuses = registry.certificate_statuses()
    locked_out = []
    for record in certificates.registered():
        status = statuses.get(record.certificate_id)
        if status in (None, "ACTIVE"):
            continue
        broker.revoke(record.certificate_id, record.certificate_pem)
        certificates.claim_revocation(record.certificate_id, now)
        for client_id in connected_clients(record.common_name):
            kick(client_id)
        log.info(
            "certificate %s of thing %s is %s: ACL removed, CRL updated",
            record.certificate_id,
            record.thing_name,
            status,
        )
        locked_out.append(record.certificate_id)
    return locked_out


class PeriodicSync:
    """Runs a sync every `interval_s` seconds on a thread until stopped."""

    def __init__(self, sync: Callable[[], object], interval_s: float) -> None:
        self._sync = sync
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="localiot-cert-sync", daemon=True)

    def start(self) -> PeriodicSync:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._sync()
            except (BotoCoreError, ClientError, BrokerError, PyMongoError, OSError) as exc:
                log.warning("certificate status sync failed: %s", exc)
