"""The development PKI: a local CA and one certificate per service or client identity.

DESIGN.md "Identity and trust": services authenticate each other with mutual TLS, a certificate
per service, a development CA generated locally (in Kubernetes the certificates come from Secrets
or cert-manager, in the same shape). Each certificate carries

- the URI SAN `spiffe://casedesk/<name>` — the identity the server authorises (`grpc_authz`),
- the DNS SANs `localhost` and `<name>` and the IP SAN 127.0.0.1, so one pair serves as the
  process's server certificate and as its client certificate when it calls another service,
- extended key usage serverAuth and clientAuth; keys are ECDSA P-256, written 0600.

    casedesk-pki --out .run/pki --names case,intake,sla,escalation,notify,desk,operator,frontend

is idempotent: an existing CA and every certificate that is still valid, signed by that CA and
carrying the expected identity are kept; `--renew` issues new certificates (same CA, new serials:
a rotation every peer already trusts), `--renew-ca` replaces the CA and therefore every
certificate. Files are replaced atomically (write to a temporary file, then rename), so a running
server that re-reads them (`grpc_tls`) never sees half a file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    import grpc

TRUST_DOMAIN = "casedesk"
SPIFFE_PREFIX = f"spiffe://{TRUST_DOMAIN}/"
DEFAULT_NAMES = ("case", "intake", "sla", "escalation", "notify", "desk", "operator", "frontend")
CERT_DAYS = 90
CA_DAYS = 365
# A certificate with less than this left is reissued by an ordinary (non-renewing) run.
RENEW_BEFORE = dt.timedelta(days=30)
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock differences between processes


def spiffe_id(name: str) -> str:
    return SPIFFE_PREFIX + name


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"identity name {name!r}: lower-case letters, digits and '-', starting with a letter"
        )
    return name


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue_ca(common_name: str = "Casedesk development CA", days: int = CA_DAYS) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casedesk"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue_identity(ca: Issued, name: str, days: int = CERT_DAYS) -> Issued:
    """A certificate for `name` (server and client use), signed by `ca`, with a fresh key."""
    check_name(name)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = min(now + dt.timedelta(days=days), ca.cert.not_valid_after_utc)
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casedesk"),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(spiffe_id(name)),
                    x509.DNSName("localhost"),
                    x509.DNSName(name),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def identity_of(cert: x509.Certificate) -> str | None:
    """The Casedesk name in a certificate's `spiffe://casedesk/<name>` URI SAN, if it has one."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(SPIFFE_PREFIX):
            return uri.removeprefix(SPIFFE_PREFIX)
    return None


def same_public_key(a: object, b: object) -> bool:
    """Whether two public keys are the same key (a certificate and the key that should match it)."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(a.public_bytes(der, spki) == b.public_bytes(der, spki))  # type: ignore[attr-defined]


# -- files -------------------------------------------------------------------------------------


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` with permissions `mode`, replacing any old file in one rename."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it, and an old temporary may exist
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def write_issued(out: Path, name: str, issued: Issued) -> tuple[Path, Path]:
    """Write `<name>.crt` (0644) and `<name>.key` (0600): key first, so a reader that sees the
    new certificate finds its key already in place."""
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / f"{name}.crt", out / f"{name}.key"
    write_atomically(key_path, issued.key_pem(), 0o600)
    write_atomically(cert_path, issued.cert_pem(), 0o644)
    return cert_path, key_path


def client_credentials(out: Path, name: str) -> grpc.ChannelCredentials:
    """gRPC credentials presenting `name`'s certificate from the PKI in `out`, trusting its CA:
    how tests and development tools call a service as `name`."""
    import grpc  # only the callers that make channels need it

    return grpc.ssl_channel_credentials(
        root_certificates=(out / CA_CERT).read_bytes(),
        private_key=(out / f"{name}.key").read_bytes(),
        certificate_chain=(out / f"{name}.crt").read_bytes(),
    )


def load_issued(cert_path: Path, key_path: Path) -> Issued | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if not same_public_key(key.public_key(), cert.public_key()):
        return None
    return Issued(cert, key)


def _fresh(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > RENEW_BEFORE


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True)
class PkiResult:
    out: Path
    ca_issued: bool
    issued: tuple[str, ...]
    kept: tuple[str, ...]


def ensure_pki(
    out: Path,
    names: Iterable[str] = DEFAULT_NAMES,
    *,
    renew: bool = False,
    renew_ca: bool = False,
    days: int = CERT_DAYS,
) -> PkiResult:
    """Create or complete the PKI in `out` (see the module docstring for what is kept)."""
    names = [check_name(n) for n in names]
    out.mkdir(parents=True, exist_ok=True)
    ca = None if renew_ca else load_issued(out / CA_CERT, out / CA_KEY)
    ca_issued = ca is None or not _fresh(ca.cert)
    if ca is None or ca_issued:
        ca = issue_ca()
        write_atomically(out / CA_KEY, ca.key_pem(), 0o600)
        write_atomically(out / CA_CERT, ca.cert_pem(), 0o644)
    issued, kept = [], []
    for name in names:
        current = None if renew else load_issued(out / f"{name}.crt", out / f"{name}.key")
        if (
            current is not None
            and _fresh(current.cert)
            and _signed_by(current.cert, ca.cert)
            and identity_of(current.cert) == name
        ):
            kept.append(name)
            continue
        write_issued(out, name, issue_identity(ca, name, days))
        issued.append(name)
    return PkiResult(out, ca_issued, tuple(issued), tuple(kept))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="casedesk-pki",
        description="Create the Casedesk development PKI (idempotent): a CA and a certificate "
        "per identity, with URI SAN spiffe://casedesk/<name>.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for the files")
    parser.add_argument(
        "--names",
        default=",".join(DEFAULT_NAMES),
        help="comma-separated identities (default: %(default)s)",
    )
    parser.add_argument("--days", type=int, default=CERT_DAYS, help="certificate validity")
    parser.add_argument("--renew", action="store_true", help="reissue every certificate")
    parser.add_argument("--renew-ca", action="store_true", help="replace the CA too")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.names.split(",") if n.strip()]
    try:
        result = ensure_pki(
            args.out, names, renew=args.renew, renew_ca=args.renew_ca, days=args.days
        )
    except ValueError as error:
        parser.error(str(error))
    print(f"{result.out / CA_CERT}\t{'issued' if result.ca_issued else 'kept'}")
    for name in names:
        state = "issued" if name in result.issued else "kept"
        print(f"{result.out / (name + '.crt')}\t{spiffe_id(name)}\t{state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
