"""What a device certificate says about itself: when it expires."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509


def not_after(certificate_pem: str | None) -> datetime | None:
    """The certificate's expiry (UTC), or None if `certificate_pem` is not a PEM certificate."""
    if not certificate_pem:
        return None
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        return None
    return cert.not_valid_after_utc


def certificate_id_of_arn(arn: str) -> str:
    """`arn:aws:iot:region:account:cert/<id>` -> `<id>`."""
    return arn.rsplit("/", 1)[-1]
