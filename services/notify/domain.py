"""What to tell whom, on plain data."""

from __future__ import annotations

from typing import Any


def account_issued(user: dict[str, Any]) -> list[dict[str, str]]:
    """Messages telling a person their account exists; never the password itself."""
    subject = "Tài khoản phần mềm đánh giá Chỉ số CCHC đã được tạo"
    body = (
        f"Kính gửi {user['full_name']},\n\n"
        f"Tài khoản {user['username']} của Quý đơn vị đã được tạo trên phần mềm đánh giá, "
        "chấm điểm Chỉ số cải cách hành chính. Mật khẩu ban đầu do Sở Nội vụ bàn giao; "
        "vui lòng đổi mật khẩu ở lần đăng nhập đầu tiên."
    )
    messages = []
    if user.get("email"):
        messages.append({"channel": "email", "recipient": user["email"], "subject": subject,
                         "body": body})
    if user.get("zalo_phone"):
        messages.append({"channel": "zalo", "recipient": user["zalo_phone"], "subject": subject,
                         "body": body})
    return messages
