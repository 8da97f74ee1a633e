"""Signature checks in a child process: a time limit, a free hub, a live trust list."""

import io
import json
import time
from pathlib import Path

import eventlet

from services.common.objectstore import FolderStore, store_upload
from services.evidence.files import Checker, Files, check_in_subprocess
from services.evidence.tests.pki import CA, plain_pdf, sign


def test_a_hostile_pdf_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    # One 20 MB token where the cross-reference should be: pyhanko reads it byte by byte.
    path = tmp_path / "hostile.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024) + b"\nstartxref\n9\n%%EOF\n")
    started = time.monotonic()
    result = check_in_subprocess(path, None, timeout=1.0)
    assert time.monotonic() - started < 5
    assert result["state"] == "unreadable"
    assert "longer than 1 s" in result["reason"]


def test_a_root_added_later_counts_without_a_restart(tmp_path: Path) -> None:
    later = CA("CA thêm sau")
    path = tmp_path / "doc.pdf"
    path.write_bytes(sign(plain_pdf(), later.signer()))
    roots = tmp_path / "roots"
    roots.mkdir()
    assert check_in_subprocess(path, roots, 20)["state"] == "untrusted"
    later.write_pem(roots)
    assert check_in_subprocess(path, roots, 20)["state"] == "valid"


def test_the_hub_stays_free_while_a_pdf_is_checked(tmp_path: Path, ca: CA,
                                                   trust_dir: Path) -> None:
    files = Files(FolderStore(tmp_path / "store"), trust_dir, check_timeout=20)
    big = sign(plain_pdf(padding=15 * 1024 * 1024), ca.signer())
    seen = store_upload(files.store, io.BytesIO(big), limit=len(big))
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    spinner = eventlet.spawn(ticker)
    eventlet.sleep(0)
    started = time.monotonic()
    result = eventlet.spawn(files.check_signatures, seen.sha256).wait()
    elapsed = time.monotonic() - started
    spinner.kill()
    assert result["state"] == "valid"
    during = [t for t in ticks if started <= t <= started + elapsed]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    print(f"\nchecked {len(big) / 1e6:.0f} MB in {elapsed:.2f}s; the hub ticked {len(during)} "
          f"times, longest gap {max(gaps, default=0) * 1000:.0f} ms")
    assert len(during) >= elapsed / 0.01 / 4
    assert max(gaps, default=0) < 0.2


def test_a_checking_child_past_its_memory_limit_reports_the_file_unreadable(
    tmp_path: Path, ca: CA
) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(sign(plain_pdf(), ca.signer()))
    # 64 MB of address space does not even hold the interpreter with pyhanko loaded.
    result = check_in_subprocess(path, None, 20, memory_bytes=64 * 1024 * 1024)
    assert result["state"] == "unreadable"
    assert "MemoryError" in result["reason"] or "checker failed" in result["reason"]
    assert check_in_subprocess(path, None, 20)["state"] == "untrusted"  # the default fits


def test_checks_beyond_the_concurrency_cap_wait_then_are_refused(tmp_path: Path, ca: CA) -> None:
    import pytest

    from services.common.errors import DomainError
    from services.evidence.files import _slot

    path = tmp_path / "doc.pdf"
    path.write_bytes(sign(plain_pdf(), ca.signer()))
    slot = _slot(1)
    slot.acquire()  # one check already running
    try:
        started = time.monotonic()
        with pytest.raises(DomainError) as err:
            check_in_subprocess(path, None, 0.5, concurrency=1)
        assert (err.value.code, err.value.status) == ("check_busy", 503)
        assert 0.4 < time.monotonic() - started < 2
    finally:
        slot.release()
    assert check_in_subprocess(path, None, 20, concurrency=1)["state"] == "untrusted"


def test_checkers_stay_warm_between_files_and_are_replaced_after_a_bad_one(
    tmp_path: Path, ca: CA
) -> None:
    """Starting Python and pyhanko cost 0.65 s of CPU per file: a child checks many,
    until a file it could not read (it may be left bloated), which it does not outlive."""
    from services.evidence.files import CHECKERS_STARTED

    def started() -> float:
        return CHECKERS_STARTED._value.get()

    memory = 700 * 1024 * 1024  # a pool of its own, apart from other tests' children
    good = tmp_path / "good.pdf"
    good.write_bytes(sign(plain_pdf(), ca.signer()))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot a pdf at all\nstartxref\n9\n%%EOF\n")

    before = started()
    for _ in range(3):
        assert check_in_subprocess(good, None, 20, memory_bytes=memory)["state"] == "untrusted"
    assert started() - before == 1
    cold = time.monotonic()
    check_in_subprocess(good, None, 20, memory_bytes=memory)
    warm_seconds = time.monotonic() - cold
    assert check_in_subprocess(broken, None, 20, memory_bytes=memory)["state"] == "unreadable"
    assert check_in_subprocess(good, None, 20, memory_bytes=memory)["state"] == "untrusted"
    assert started() - before == 2
    print(f"\na warm check took {warm_seconds * 1000:.0f} ms")


def test_a_checkers_answer_is_read_in_a_few_reads_not_a_byte_at_a_time(
        tmp_path: Path, ca: CA, monkeypatch) -> None:
    """eventlet's green Popen makes unbuffered pipes unless asked: readline() then took
    one read, and one trip through the hub, per byte of the answer."""
    from eventlet.greenio import py3

    reads = {"count": 0}
    for name in ("read", "readinto"):
        real = getattr(py3.GreenFileIO, name)

        def counted(self, *args, _real=real):
            reads["count"] += 1
            return _real(self, *args)

        monkeypatch.setattr(py3.GreenFileIO, name, counted)
    path = tmp_path / "signed.pdf"
    path.write_bytes(sign(plain_pdf(), ca.signer()))
    roots = tmp_path / "roots"
    roots.mkdir()
    ca.write_pem(roots)
    checker = Checker(768 * 1024 * 1024)
    try:
        answer = checker.check(path, roots)
    finally:
        checker.stop()
    assert answer["state"] == "valid"
    assert len(json.dumps(answer)) > 200 and reads["count"] < 10, reads
