"""The signed summary (bảng tổng hợp đã ký) goes into the shared file store.

File bytes never travel over RabbitMQ: the gateway streams the upload into the same
store as the evidence (a folder, or S3 in a cluster, where a gateway's own disk is
neither shared by its replicas nor writable), hashing it on the way, and passes the
submission service a reference, the name and the SHA-256. The key is the content's
hash under ``signed-summaries/``, apart from the evidence objects that the evidence
service sweeps when nothing records them; a retried upload lands on the same object.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import Problem
from services.common.contracts import SIGNED_SUMMARY_PREFIX
from services.common.objectstore import FileTooLarge, ObjectStore
from services.common.sniffing import sniff_kind

PREFIX = SIGNED_SUMMARY_PREFIX


class UploadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    max_signed_summary_bytes: int = 20 * 1024 * 1024


def store_signed_summary(store: ObjectStore, source: BinaryIO, filename: str) -> dict[str, Any]:
    """Streams the upload into ``store``; runs in a worker thread, never on the loop."""
    limit = UploadSettings().max_signed_summary_bytes
    try:
        with store.receive(source, limit) as upload:
            seen = upload.seen
            if sniff_kind(seen.head) != "pdf":
                raise Problem(415, "unsupported_media_type", "Bảng tổng hợp đã ký phải là tệp "
                              "PDF / the signed summary must be a PDF")
            key = f"{PREFIX}{seen.sha256}.pdf"
            # An object already there was stored by an earlier sending (accepted, or in
            # flight): only one this upload created may be removed when the sending is
            # refused.
            created = upload.keep(key)
    except FileTooLarge:
        raise Problem(413, "too_large", "Tệp quá lớn / file too large "
                      f"(tối đa / at most {limit} bytes)") from None
    return {"ref": key, "filename": filename or "summary.pdf", "sha256": seen.sha256,
            "size": seen.size, "created": created}


def forget_signed_summary(store: ObjectStore, stored: dict[str, Any]) -> None:
    """A refused sending leaves nothing behind: the object goes if this upload made it."""
    if stored.get("created"):
        store.delete(stored["ref"])
