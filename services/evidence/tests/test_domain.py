import io
import zipfile
from datetime import date

import pytest

from services.common import sniffing
from services.evidence import domain


def _zip(names: list[str], first: str = "x") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, first)
            first = "x"
    return out.getvalue()


@pytest.mark.parametrize(("head", "kind"), [
    (b"%PDF-1.7\n...", "pdf"),
    (b"\xef\xbb\xbf%PDF-1.4\n", "pdf"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
    (_zip(["bao-cao.pdf"]), "archive"),
    (_zip(["[Content_Types].xml", "word/document.xml"]), "office"),
    (_zip(["[Content_Types].xml", "xl/workbook.xml"]), "office"),
    (_zip(["mimetype", "content.xml"], "application/vnd.oasis.opendocument.text"), "office"),
    (_zip(["mimetype", "content.xml"]), "archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "office"),
    (b"Rar!\x1a\x07\x01\x00", "archive"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "archive"),
    (b"MZ\x90\x00\x03\x00\x00\x00", "executable"),
    (b"\x7fELF\x02\x01\x01", "executable"),
    (b"GIF89a", "unknown"),
    (b"", "unknown"),
])
def test_type_is_told_by_content(head: bytes, kind: str) -> None:
    assert sniffing.sniff_kind(head) == kind


def test_office_files_only_where_a_form_is_asked() -> None:
    assert domain.type_accepted("pdf", False) and domain.type_accepted("png", False)
    assert not domain.type_accepted("office", False)
    assert domain.type_accepted("office", True)
    assert not domain.type_accepted("archive", True)
    assert not domain.type_accepted("executable", True)


@pytest.mark.parametrize(("number", "suffixed"), [
    ("30a/KH-SXD", True),
    ("25a/BC-UBND", True),
    ("12 B/QĐ-UBND", True),
    ("số 7c/TB-UBND", True),
    ("25/BC-UBND", False),
    ("123/2023/NĐ-CP", False),
    ("876/QĐ-BNV", False),
    ("30/KH-SXD", False),
])
def test_letter_suffix_rule(number: str, suffixed: bool) -> None:
    assert domain.has_letter_suffix(number) is suffixed
    codes = [f["code"] for f in domain.flags(number, None, None)]
    assert (codes == ["doc_number_letter_suffix"]) is suffixed


def test_document_dated_outside_the_campaign_year_is_flagged() -> None:
    assert domain.flags("25/BC-UBND", date(2023, 3, 31), 2023) == []
    [flag] = domain.flags("25/BC-UBND", date(2022, 12, 31), 2023)
    assert flag["code"] == "doc_date_outside_year"
    assert domain.flags("25/BC-UBND", date(2022, 12, 31), None) == []


@pytest.mark.parametrize(("code", "number", "title", "name"), [
    ("2.3", "25/BC-UBND", "Báo cáo CCHC quý I/2023", "2.3_so 25BC-UBND_BC CCHC quy I.2023"),
    ("2.3", "25/BC-UBND", "BC CCHC quý I/2023", "2.3_so 25BC-UBND_BC CCHC quy I.2023"),
    ("2.3", "số 25/BC-UBND", "Phụ lục 1 số văn bản QPPL",
     "2.3_so 25BC-UBND_Phu luc 1 so van ban QPPL"),
    ("1.1", "30a/KH-SXD", "Kế hoạch cải cách hành chính năm 2024",
     "1.1_so 30aKH-SXD_KH cai cach hanh chinh nam 2024"),
    ("4.2.1", "12/QĐ-UBND", 'Quyết định "về" <ban hành>: quy chế?',
     "4.2.1_so 12QD-UBND_QD ve ban hanh quy che"),
])
def test_canonical_names_follow_the_seed(code: str, number: str, title: str, name: str) -> None:
    assert domain.canonical_name(code, number, title) == name


def test_canonical_name_is_short_and_safe() -> None:
    name = domain.canonical_name("2.3", "25/BC-UBND", "Đánh giá " * 40)
    assert len(name) <= 100
    assert not set('/\\:*?"<>|') & set(name)


@pytest.mark.parametrize(("kind", "name", "ext"), [
    ("pdf", "bao-cao.PDF", ".pdf"), ("pdf", "trick.docx", ".pdf"), ("jpeg", None, ".jpg"),
    ("office", "Bieu mau.XLSX", ".xlsx"), ("office", "form.exe", ""), ("office", None, ""),
])
def test_extension_follows_the_content(kind: str, name: str | None, ext: str) -> None:
    assert domain.extension(kind, name) == ext
