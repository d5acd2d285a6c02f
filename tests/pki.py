"""Certificates made on the spot for TLS tests: a CA, a service certificate it signs for
localhost and 127.0.0.1, and a second, unrelated CA with a certificate of its own."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from usp.grpc_tls import TlsFiles

_VALID = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Pki:
    ca: Path
    service: TlsFiles  # signed by `ca`, trusting `ca`
    stranger: TlsFiles  # signed by another CA, trusting `ca`
    stranger_ca: Path

    def env(self) -> dict[str, str]:
        """The USP_GRPC_TLS_* variables of a service holding the `service` certificate."""
        return {
            "USP_GRPC_TLS_CERT": str(self.service.cert),
            "USP_GRPC_TLS_KEY": str(self.service.key),
            "USP_GRPC_TLS_CA": str(self.service.ca),
        }

    def secrets(self) -> list[str]:
        """The private keys' PEM bodies (without the armour lines), for leak checks."""
        texts = [self.service.key.read_text(), self.stranger.key.read_text()]
        return ["".join(text.splitlines()[1:-1]) for text in texts]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
    )


def _make_ca(
    directory: Path, name: str
) -> tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(name), _name(name), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, cert, key


def _issue(
    directory: Path,
    name: str,
    ca: tuple[Path, x509.Certificate, ec.EllipticCurvePrivateKey],
    trusted_ca: Path,
) -> TlsFiles:
    """A certificate for localhost and 127.0.0.1 usable as server and client."""
    _ca_path, ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        _builder(_name(name), ca_cert.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    key_path.chmod(0o600)
    return TlsFiles(cert=cert_path, key=key_path, ca=trusted_ca)


def make_pki(directory: Path) -> Pki:
    """Write a CA, a service certificate, and a stranger's CA and certificate under
    `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _make_ca(directory, "usp-test-ca")
    other = _make_ca(directory, "other-ca")
    return Pki(
        ca=ca[0],
        service=_issue(directory, "service", ca, ca[0]),
        stranger=_issue(directory, "stranger", other, ca[0]),
        stranger_ca=other[0],
    )
