"""The Vietnamese words the pages show for the API's codes."""

from __future__ import annotations

from typing import Any

ROLES = {
    "admin": "Quản trị (Sở Nội vụ)",
    "unit_leader": "Lãnh đạo đơn vị",
    "unit_staff": "Công chức được phân công",
    "appraiser": "Thành viên Hội đồng thẩm định",
    "viewer": "Lãnh đạo tỉnh (xem)",
}

UNIT_TYPES = {
    "department": "Sở, ban, ngành",
    "district": "Cấp huyện",
    "commune": "Cấp xã",
    "public_service": "Đơn vị sự nghiệp",
    "association": "Hội, đoàn thể",
}

WINDOWS = {
    "self_assessment": "Tự đánh giá",
    "appraisal": "Thẩm định vòng 1",
    "supplement": "Bổ sung (vòng 2)",
    "final_appraisal": "Thẩm định vòng 2",
    "publication": "Công bố",
}

WINDOW_STATES = {"not_open": "Chưa mở", "open": "Đang mở", "locked": "Đã khoá"}

ASSESSMENT_STATUS = {
    "draft": "Đang cập nhật",
    "submitted": "Đã gửi",
    "returned": "Được mở lại để bổ sung",
    "finalized": "Đã có kết quả",
}

ENTRY_STATES = {
    "todo": "Chưa làm",
    "saved": "Đã lưu",
    "complete": "Hoàn thành",
    "returned": "Bị trả lại",
}

RULES = {
    "options": "Chọn một mức",
    "ratio": "Tỷ lệ thực hiện / kế hoạch",
    "range": "Điểm theo bước",
    "deduction": "Trừ điểm theo số lần",
    "survey": "Điểm từ kết quả khảo sát",
}

EVIDENCE_RULES = {"required": "Bắt buộc", "optional": "Không bắt buộc", "none": "Không cần"}

SIGNATURE_STATES = {
    "valid": "Chữ ký số hợp lệ",
    "untrusted": "Chữ ký số không thuộc danh sách tin cậy",
    "broken": "Chữ ký số bị hỏng",
    "modified": "Tệp bị sửa sau khi ký",
    "absent": "Không có chữ ký số",
    "unreadable": "Không đọc được tệp",
    "not_applicable": "Không áp dụng (ảnh)",
}

# What a page says after a write that worked (PRG: ?ok=<key>); never text from the URL.
DONE = {
    "saved": "Đã lưu tiêu chí.",
    "completed": "Đã đánh dấu hoàn thành.",
    "uploaded": "Đã tải lên tài liệu kiểm chứng.",
    "removed": "Đã gỡ tài liệu.",
    "assigned": "Đã phân công.",
    "submitted": "Đã gửi báo cáo.",
    "withdrawn": "Đã rút báo cáo về để chỉnh sửa.",
    "password": "Đã đổi mật khẩu.",
    "unit": "Đã lưu đơn vị.",
    "campaign": "Đã tạo đợt đánh giá.",
    "window": "Đã mở thời hạn mới.",
    "catalog": "Đã nhập bộ tiêu chí.",
    "appraised": "Đã lưu kết quả thẩm định.",
    "commented": "Đã gửi ý kiến.",
    "return": "Đã trả lại các tiêu chí cần bổ sung cho đơn vị.",
    "finalize": "Đã chốt kết quả.",
    "adjustments": "Đã lưu điểm thưởng, điểm trừ.",
    "survey": "Đã lưu điểm khảo sát.",
    "publish": "Đã công bố kết quả.",
    "preferences": "Đã lưu cách nhận thông báo.",
    "supplemented": "Đã lưu nội dung bổ sung vòng 2.",
}


def entry_state(entry: dict[str, Any]) -> str:
    """todo, saved, complete or returned (red): what the staff's tree shows."""
    if entry.get("returned") and entry.get("status") != "complete":
        return "returned"
    if entry.get("status") == "complete":
        return "complete"
    if entry.get("updated_by") or entry.get("self_score") is not None \
            or entry.get("not_applicable"):
        return "saved"
    return "todo"


def role_names(roles: Any) -> str:
    return ", ".join(ROLES.get(r, r) for r in sorted(roles))
