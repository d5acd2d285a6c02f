"""Optional TLS for gRPC, the one place credentials are built from the environment.

USP_GRPC_TLS_CERT, USP_GRPC_TLS_KEY and USP_GRPC_TLS_CA name PEM files: the service's
certificate (chain), its private key, and the CA that signs every service's
certificate. Set all three and the storage service accepts only TLS clients presenting
a certificate from that CA (mutual TLS); its clients (webapp, processor) present their
own certificate and trust only that CA; the webapp's public ApiService serves TLS with
the same certificate without asking clients for one. Set none and every channel is
plaintext, as on the embedded loopback default.

A certificate must name the host clients dial (a DNS or IP subject alternative name)
and, when it has an extended key usage, allow both server and client authentication.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from usp import config

CERT = "USP_GRPC_TLS_CERT"
KEY = "USP_GRPC_TLS_KEY"
CA = "USP_GRPC_TLS_CA"


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files are; their contents are read only to build credentials."""

    cert: Path
    key: Path
    ca: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(certificate chain, private key, CA certificates)."""
        return self.cert.read_bytes(), self.key.read_bytes(), self.ca.read_bytes()


def tls_from_env(environ: Mapping[str, str] | None = None) -> TlsFiles | None:
    """The TLS files named by the environment; None when none is named.

    Raises ConfigError when only some are named or one is not a readable file.
    """
    paths = {name: config.env_str(name, "", environ) for name in (CERT, KEY, CA)}
    if not any(paths.values()):
        return None
    missing = [name for name, value in paths.items() if not value]
    if missing:
        raise config.ConfigError(
            f"{', '.join(missing)} must be set too: gRPC TLS needs {CERT}, {KEY} and {CA}"
        )
    files = {name: Path(value).expanduser() for name, value in paths.items()}
    for name, path in files.items():
        if not path.is_file():
            raise config.ConfigError(f"{name} names {path}, which is not a readable file")
    return TlsFiles(cert=files[CERT], key=files[KEY], ca=files[CA])


def server_credentials(tls: TlsFiles, *, require_client_auth: bool) -> grpc.ServerCredentials:
    """Credentials of a server presenting `tls.cert`; with `require_client_auth`, only
    clients with a certificate signed by `tls.ca` complete the handshake."""
    cert, key, ca = tls.read()
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=ca if require_client_auth else None,
        require_client_auth=require_client_auth,
    )


def channel_credentials(tls: TlsFiles) -> grpc.ChannelCredentials:
    """Credentials of a client presenting `tls.cert` and trusting only `tls.ca`."""
    cert, key, ca = tls.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def add_port(
    server: grpc.Server, address: str, tls: TlsFiles | None, *, require_client_auth: bool
) -> int:
    """Bind `address` with TLS when `tls` is given, else plaintext; returns the port."""
    if tls is None:
        return server.add_insecure_port(address)
    credentials = server_credentials(tls, require_client_auth=require_client_auth)
    return server.add_secure_port(address, credentials)


def open_channel(
    target: str, tls: TlsFiles | None, *, options: Sequence[tuple[str, Any]] = ()
) -> grpc.Channel:
    """A channel to `target`, over mutual TLS when `tls` is given, else plaintext."""
    if tls is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, channel_credentials(tls), options=list(options))
