"""The signed summary's file stays in the gateway's store; only its reference goes on.

File bytes never travel over RabbitMQ: the gateway streams the upload to
``<CCHC_DATA_DIR>/uploads/signed-summaries/<sha256>.pdf`` while hashing it, and passes
the submission service a reference, the name and the SHA-256. Content-addressed, so
a retried upload lands on the same file. Checking the signature itself is the
evidence service's work (issue: evidence) and will move there with the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import Problem

CHUNK = 1024 * 1024


class UploadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    data_dir: Path = Path("var")
    max_signed_summary_bytes: int = 20 * 1024 * 1024


def store_signed_summary(source: BinaryIO, filename: str) -> dict[str, Any]:
    """Copies the upload into the store; runs in a worker thread, never on the loop."""
    cfg = UploadSettings()
    folder = cfg.data_dir / "uploads" / "signed-summaries"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    first = source.read(CHUNK)
    if not first.startswith(b"%PDF-"):
        raise Problem(415, "unsupported_media_type",
                      "Bảng tổng hợp đã ký phải là tệp PDF / the signed summary must be a PDF")
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            chunk = first
            while chunk:
                size += len(chunk)
                if size > cfg.max_signed_summary_bytes:
                    raise Problem(413, "too_large",
                                  "Tệp quá lớn / file too large "
                                  f"(tối đa / at most {cfg.max_signed_summary_bytes} bytes)")
                digest.update(chunk)
                out.write(chunk)
                chunk = source.read(CHUNK)
        sha = digest.hexdigest()
        target = folder / f"{sha}.pdf"
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"ref": str(target.relative_to(cfg.data_dir)), "filename": filename or "summary.pdf",
            "sha256": sha, "size": size}
