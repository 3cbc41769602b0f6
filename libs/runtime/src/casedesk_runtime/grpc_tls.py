"""Mutual TLS for gRPC: server credentials that follow rotated files, client credentials.

Every process has one certificate/key pair (`CASEDESK_TLS_CERT_FILE`, `CASEDESK_TLS_KEY_FILE`)
that it presents both as a server and as a client, and one CA bundle (`CASEDESK_TLS_CA_FILE`)
that it trusts for both directions. `casedesk-pki` makes them for development; in Kubernetes they
are a mounted Secret (cert-manager or otherwise).

Rotation. A mounted Secret is updated in place (the kubelet swaps a symlink), so the server's
credentials are `grpc.dynamic_ssl_server_credentials` whose fetcher gRPC calls before each new
TLS handshake: it compares the files' (mtime, inode, size) with what it loaded and, when one of
them changed, reads all three again. A half-rotated state (a certificate whose key is not there
yet, an unreadable file) is not adopted: the server keeps serving with the last good pair, and
tries again at the next handshake. Established connections keep the handshake they made.

Clients follow a rotation too: `grpc_client.channel_for` returns a channel that checks the files
(with the same `ReloadingCertificates`) at most every few seconds and moves new calls to a fresh
secure channel once a matching certificate and key are in place.

Client authentication. `require` (the default) makes the TLS handshake fail for a client without a
certificate signed by the CA. `optional` is for a public edge (intake): grpc's Python API can
either require and verify a client certificate or not request one at all (there is no "request
but do not require"), so with `optional` the server does NOT ask for client certificates and
every caller is unauthenticated at the TLS level (`grpc_authz.PUBLIC` in the access table).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from casedesk_runtime.logs import get_logger
from casedesk_runtime.pki import same_public_key
from casedesk_runtime.settings import ServiceSettings, SettingsError

log = get_logger(__name__)

_HOW_TO_CONFIGURE = (
    "set CASEDESK_TLS_CERT_FILE, CASEDESK_TLS_KEY_FILE and CASEDESK_TLS_CA_FILE (a development "
    "PKI: `casedesk-pki --out DIR`), or CASEDESK_GRPC_INSECURE_DEV=true for plaintext gRPC in "
    "development and tests only (in code: the settings field grpc_insecure_dev=True)"
)


class TlsNotConfigured(SettingsError):
    """Plaintext gRPC was about to be used without CASEDESK_GRPC_INSECURE_DEV."""


class TlsFilesError(SettingsError):
    """The configured certificate, key or CA file cannot be used."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path

    def paths(self) -> tuple[Path, Path, Path]:
        return (self.cert, self.key, self.ca)


def configured_files(settings: ServiceSettings) -> TlsFiles | None:
    """The TLS files the settings name, None when they name none (settings validation already
    refuses a partial set)."""
    if settings.tls_cert_file and settings.tls_key_file and settings.tls_ca_file:
        return TlsFiles(
            Path(settings.tls_cert_file), Path(settings.tls_key_file), Path(settings.tls_ca_file)
        )
    return None


def tls_files(settings: ServiceSettings) -> TlsFiles | None:
    """The configured TLS files; None only when plaintext development mode is allowed.

    TLS wins when both the files and CASEDESK_GRPC_INSECURE_DEV are set. Raises TlsNotConfigured
    when neither is.
    """
    files = configured_files(settings)
    if files is not None or settings.grpc_insecure_dev:
        return files
    raise TlsNotConfigured(f"gRPC refuses plaintext without TLS: {_HOW_TO_CONFIGURE}")


@dataclass(frozen=True)
class TlsMaterial:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    serial: int


def read_material(files: TlsFiles) -> TlsMaterial:
    """Read and check the three files: PEM, a certificate matching its key, at least one CA."""
    contents: list[bytes] = []
    for variable, path in zip(
        ("CASEDESK_TLS_CERT_FILE", "CASEDESK_TLS_KEY_FILE", "CASEDESK_TLS_CA_FILE"),
        files.paths(),
        strict=True,
    ):
        try:
            contents.append(path.read_bytes())
        except OSError as error:
            raise TlsFilesError(f"{variable}: cannot read {path}: {error.strerror}") from None
    cert_pem, key_pem, ca_pem = contents
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise TlsFilesError(
            f"CASEDESK_TLS_CERT_FILE: {files.cert} is not a PEM certificate"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise TlsFilesError(
            f"CASEDESK_TLS_KEY_FILE: {files.key} is not an unencrypted PEM private key"
        ) from None
    try:
        if not x509.load_pem_x509_certificates(ca_pem):
            raise ValueError
    except ValueError:
        raise TlsFilesError(f"CASEDESK_TLS_CA_FILE: {files.ca} holds no PEM certificate") from None
    if not same_public_key(key.public_key(), cert.public_key()):
        raise TlsFilesError(
            f"CASEDESK_TLS_KEY_FILE: {files.key} is not the key of the certificate {files.cert}"
        )
    return TlsMaterial(cert_pem, key_pem, ca_pem, cert.serial_number)


def _signature(files: TlsFiles) -> tuple[tuple[int, int, int], ...] | None:
    try:
        stats = [os.stat(path) for path in files.paths()]
    except OSError:
        return None
    return tuple((s.st_mtime_ns, s.st_ino, s.st_size) for s in stats)


def _server_config(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.key_pem, material.cert_pem)], root_certificates=material.ca_pem
    )


class ReloadingCertificates:
    """The certificate-configuration fetcher behind the server's dynamic credentials.

    gRPC calls it (from one of its own threads) before each new handshake; it returns a new
    configuration when the files changed since the last good load, None (keep the current one)
    otherwise.
    """

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._loaded_signature = _signature(files)
        self.material = read_material(files)  # fails the start on bad files
        self._failed_signature: tuple[tuple[int, int, int], ...] | None = None

    def initial(self) -> grpc.ServerCertificateConfiguration:
        return _server_config(self.material)

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        signature = _signature(self._files)
        if signature is None or signature == self._loaded_signature:
            return None
        with self._lock:
            if signature == self._loaded_signature:
                return None
            try:
                material = read_material(self._files)
            except SettingsError as error:
                if signature != self._failed_signature:  # one warning per state of the files
                    log.warning("TLS files changed but cannot be used yet: %s", error)
                    self._failed_signature = signature
                return None
            # The files may have changed again while they were read: only the state seen before
            # reading is recorded, so a later change is picked up by the next handshake.
            self._loaded_signature = signature
            self.material = material
        log.info("TLS certificate reloaded", extra={"serial": format(material.serial, "x")})
        return _server_config(material)


def server_credentials(
    settings: ServiceSettings,
) -> tuple[grpc.ServerCredentials, ReloadingCertificates] | None:
    """Credentials for `add_secure_port`, or None for a plaintext development server."""
    files = tls_files(settings)
    if files is None:
        return None
    certificates = ReloadingCertificates(files)
    credentials = grpc.dynamic_ssl_server_credentials(
        certificates.initial(),
        certificates,
        require_client_authentication=settings.tls_client_auth == "require",
    )
    return credentials, certificates


def channel_credentials(settings: ServiceSettings) -> grpc.ChannelCredentials:
    """Client credentials (this process's certificate and the CA) read from the files now."""
    files = configured_files(settings)
    if files is None:
        raise TlsNotConfigured(f"a TLS channel needs the TLS files: {_HOW_TO_CONFIGURE}")
    material = read_material(files)
    return grpc.ssl_channel_credentials(
        root_certificates=material.ca_pem,
        private_key=material.key_pem,
        certificate_chain=material.cert_pem,
    )
