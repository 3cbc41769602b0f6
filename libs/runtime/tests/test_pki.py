"""The development PKI: what the certificates carry, file modes, idempotency, renewal."""

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from casedesk_runtime import pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificate_carries_identity_and_serves_both_ways(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, ["intake"])
    cert = _cert(tmp_path / "intake.crt")
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://casedesk/intake"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "intake"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 89 <= validity.days <= 91
    cert.verify_directly_issued_by(_cert(tmp_path / pki.CA_CERT))
    assert pki.identity_of(cert) == "intake"


def test_keys_are_private(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, ["case"])
    for name in ("ca.key", "case.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "case.crt").stat().st_mode) == 0o644


def test_second_run_keeps_everything_renew_reissues_with_same_ca(tmp_path: Path) -> None:
    first = pki.ensure_pki(tmp_path, ["case", "sla"])
    assert first.ca_issued and set(first.issued) == {"case", "sla"}
    ca_serial = _cert(tmp_path / pki.CA_CERT).serial_number
    case_serial = _cert(tmp_path / "case.crt").serial_number

    again = pki.ensure_pki(tmp_path, ["case", "sla", "notify"])
    assert not again.ca_issued
    assert set(again.kept) == {"case", "sla"} and again.issued == ("notify",)
    assert _cert(tmp_path / "case.crt").serial_number == case_serial

    renewed = pki.ensure_pki(tmp_path, ["case"], renew=True)
    assert not renewed.ca_issued and renewed.issued == ("case",)
    assert _cert(tmp_path / pki.CA_CERT).serial_number == ca_serial
    assert _cert(tmp_path / "case.crt").serial_number != case_serial

    new_ca = pki.ensure_pki(tmp_path, ["case"], renew_ca=True)
    assert new_ca.ca_issued and new_ca.issued == ("case",)
    # sla's certificate is no longer signed by the CA: the next ordinary run reissues it
    assert pki.ensure_pki(tmp_path, ["sla"]).issued == ("sla",)


def test_damaged_certificate_is_reissued(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path, ["case"])
    (tmp_path / "case.key").write_bytes(pki.issue_ca().key_pem())  # a key of another pair
    assert pki.ensure_pki(tmp_path, ["case"]).issued == ("case",)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert pki.main(["--out", str(tmp_path), "--names", "case,desk"]) == 0
    output = capsys.readouterr().out
    assert "spiffe://casedesk/desk\tissued" in output
    assert pki.main(["--out", str(tmp_path), "--names", "case,desk"]) == 0
    assert "spiffe://casedesk/desk\tkept" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        pki.main(["--out", str(tmp_path), "--names", "Case"])
