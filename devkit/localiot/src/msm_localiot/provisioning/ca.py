"""The local CA signs device certificates, as AWS IoT's CA does for fleet provisioning.

AWS certificates do not carry the thing name; our mosquitto takes the certificate CN as the MQTT
username for its ACL, so the CN is a stable, unique identity of the key: the SHA-256 of the
public key (64 hex characters). The certificate id is the SHA-256 of the DER, like AWS's.
CreateKeysAndCertificate makes an RSA 2048 key, as AWS does; the CSR path keeps the device's key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=3650)


class CsrError(ValueError):
    """The certificate signing request cannot be signed."""


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_pem: str
    common_name: str
    fingerprint: str  # SHA-256 of the DER: AWS's certificateId
    private_key_pem: str | None = None


class LocalCA:
    def __init__(self, cert: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> None:
        self._cert = cert
        self._key = key

    @classmethod
    def from_files(cls, cert_file: Path, key_file: Path) -> LocalCA:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"unsupported CA key type in {key_file}")
        return cls(cert, key)

    def issue_with_new_key(self, now: datetime) -> IssuedCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        issued = self._sign(key.public_key(), now)
        return IssuedCertificate(
            issued.certificate_pem, issued.common_name, issued.fingerprint, key_pem
        )

    def issue_from_csr(self, csr_pem: str, now: datetime) -> IssuedCertificate:
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise CsrError("the certificate signing request is not a PEM CSR") from None
        if not csr.is_signature_valid:
            raise CsrError("the certificate signing request signature is invalid")
        public_key = csr.public_key()
        if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= 2048:
            return self._sign(public_key, now)
        if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name in {
            "secp256r1",
            "secp384r1",
        }:
            return self._sign(public_key, now)
        raise CsrError("the key must be RSA (2048 bits or more) or EC P-256 / P-384")

    def _sign(self, public_key: CertificatePublicKeyTypes, now: datetime) -> IssuedCertificate:
        ca_cert, ca_key = self._cert, self._key
        spki = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        common_name = hashlib.sha256(spki).hexdigest()
        not_after = min(now + VALIDITY, ca_cert.not_valid_after_utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key)  # type: ignore[arg-type]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        cert = builder.sign(ca_key, hashes.SHA256())
        der = cert.public_bytes(serialization.Encoding.DER)
        return IssuedCertificate(
            cert.public_bytes(serialization.Encoding.PEM).decode(),
            common_name,
            hashlib.sha256(der).hexdigest(),
        )


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 of a certificate's DER (how AWS derives a certificate id)."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
