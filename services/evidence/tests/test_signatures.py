from pathlib import Path

import pytest

from services.evidence.files import TrustList
from services.evidence.signatures import check_pdf, load_trust_roots
from services.evidence.tests.pki import CA, plain_pdf, sign, tamper, update_after_signing


@pytest.fixture
def roots(trust_dir: Path) -> list:
    return load_trust_roots(trust_dir)


def _check(tmp_path: Path, data: bytes, roots: list) -> dict:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return check_pdf(path, roots)


def test_signed_by_a_trusted_root(tmp_path: Path, ca: CA, roots: list) -> None:
    result = _check(tmp_path, sign(plain_pdf(), ca.signer("UBND xã Hương Vinh")), roots)
    assert result["state"] == "valid"
    [sig] = result["signatures"]
    assert sig["intact"] and sig["trusted"] and not sig["changed_after_signing"]
    assert "UBND xã Hương Vinh" in sig["signer"]
    assert sig["signing_time"] is not None


def test_valid_but_untrusted_root(tmp_path: Path, roots: list) -> None:
    result = _check(tmp_path, sign(plain_pdf(), CA("CA lạ").signer()), roots)
    assert result["state"] == "untrusted"
    [sig] = result["signatures"]
    assert sig["intact"] and not sig["trusted"]


def test_a_byte_changed_in_the_signed_range(tmp_path: Path, ca: CA, roots: list) -> None:
    result = _check(tmp_path, tamper(sign(plain_pdf(), ca.signer())), roots)
    assert result["state"] == "broken"
    assert result["signatures"][0]["intact"] is False


def test_changed_after_signing_by_an_incremental_update(tmp_path: Path, ca: CA,
                                                        roots: list) -> None:
    result = _check(tmp_path, update_after_signing(sign(plain_pdf(), ca.signer())), roots)
    assert result["state"] == "modified"
    [sig] = result["signatures"]
    assert sig["intact"] and sig["changed_after_signing"]
    assert sig["modification_level"] == "OTHER"


def test_a_second_signature_is_a_permitted_change(tmp_path: Path, ca: CA, roots: list) -> None:
    twice = sign(sign(plain_pdf(), ca.signer()), ca.signer("Lãnh đạo"), field="Signature2")
    result = _check(tmp_path, twice, roots)
    assert result["state"] == "valid"
    assert [s["changed_after_signing"] for s in result["signatures"]] == [True, False]


def test_unsigned_is_absent(tmp_path: Path, roots: list) -> None:
    assert _check(tmp_path, plain_pdf(), roots) == {"state": "absent", "signatures": []}


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\nnot really a pdf",
    b"",
    b"%PDF-1.4\n" + b"\x00" * 5000,
])
def test_corrupt_pdf_is_unreadable_not_an_error(tmp_path: Path, roots: list, data: bytes) -> None:
    result = _check(tmp_path, data, roots)
    assert result["state"] == "unreadable"
    assert result["reason"]


def test_truncated_signed_pdf(tmp_path: Path, ca: CA, roots: list) -> None:
    signed = sign(plain_pdf(), ca.signer())
    assert _check(tmp_path, signed[: len(signed) // 2], roots)["state"] == "unreadable"


def test_key_usage_digital_signature_alone_is_accepted(tmp_path: Path, ca: CA,
                                                       roots: list) -> None:
    result = _check(tmp_path, sign(plain_pdf(), ca.signer(non_repudiation=False)), roots)
    assert result["state"] == "valid"


def test_key_usage_without_any_signing_use_is_not_trusted(tmp_path: Path, ca: CA,
                                                          roots: list) -> None:
    signer = ca.signer(non_repudiation=False, digital_signature=False)
    result = _check(tmp_path, sign(plain_pdf(), signer), roots)
    assert result["state"] == "untrusted"


def test_no_trust_list_trusts_nothing(tmp_path: Path, ca: CA) -> None:
    assert load_trust_roots(tmp_path / "missing") == []
    assert _check(tmp_path, sign(plain_pdf(), ca.signer()), [])["state"] == "untrusted"


def test_trust_list_reads_bundles(tmp_path: Path, ca: CA) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "all.pem").write_bytes(ca.pem() + CA("Khác").pem())
    (folder / "README.txt").write_text("ignored")
    assert len(load_trust_roots(folder)) == 2


def test_trust_list_follows_its_folder(tmp_path: Path, ca: CA) -> None:
    trust = TrustList(tmp_path / "roots")
    assert trust.roots == []
    ca.write_pem(tmp_path / "roots")
    assert len(trust.roots) == 1
    (tmp_path / "roots" / "root.pem").unlink()
    assert trust.roots == []
