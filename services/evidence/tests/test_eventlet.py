"""pyhanko's sync validation runs asyncio.run: checked here under eventlet, as in the service."""

import io
import time
from pathlib import Path

import eventlet

from services.evidence.files import Files, TrustList
from services.evidence.signatures import check_pdf, load_trust_roots
from services.evidence.storage import FolderStore, store_upload
from services.evidence.tests.pki import CA, plain_pdf, sign


def test_validation_in_a_green_thread(tmp_path: Path, ca: CA, trust_dir: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(sign(plain_pdf(), ca.signer()))
    result = eventlet.spawn(check_pdf, path, load_trust_roots(trust_dir)).wait()
    assert result["state"] == "valid"


def test_validation_leaves_the_hub_free(tmp_path: Path, ca: CA, trust_dir: Path) -> None:
    """A big signed PDF is checked in tpool: other green threads keep running meanwhile."""
    files = Files(FolderStore(tmp_path / "store"), TrustList(trust_dir))
    big = sign(plain_pdf(padding=15 * 1024 * 1024), ca.signer())
    seen = store_upload(files.store, io.BytesIO(big), limit=len(big))
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.005)

    spinner = eventlet.spawn(ticker)
    eventlet.sleep(0)
    started = time.monotonic()
    worker = eventlet.spawn(files.check_signatures, seen.sha256)
    result = worker.wait()
    elapsed = time.monotonic() - started
    spinner.kill()
    assert result["state"] == "valid"
    during = [t for t in ticks if started <= t <= started + elapsed]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    print(f"\nvalidated {len(big) / 1e6:.0f} MB in {elapsed:.2f}s; hub ticked {len(during)} "
          f"times, longest gap {max(gaps, default=0) * 1000:.0f} ms")
    assert len(during) >= 3
