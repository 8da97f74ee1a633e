"""What can be wrong with a submitted criteria set (lỗi bộ tiêu chí): every problem
code with its message, Vietnamese first as the pages show it.
"""

from __future__ import annotations

from typing import Any

from services.criteria.catalog import CRITERIA_SHEET, META_SHEET, Problem

# Every problem code with its message, Vietnamese first as the pages show it.
PROBLEM_MESSAGES = {
    "not_a_mapping": "Dữ liệu không phải một đối tượng / not an object",
    "unknown_field": "Trường không được hỗ trợ / unknown field",
    "bad_text": "Văn bản chứa ký tự điều khiển / text contains control characters",
    "missing_name": "Thiếu tên bộ tiêu chí / missing name",
    "bad_year": "Năm không hợp lệ / invalid year",
    "bad_unit_type": "Loại đơn vị không hợp lệ (ví dụ commune, department) / "
    "invalid unit type (e.g. commune, department)",
    "no_bands": "Thiếu các mức xếp loại / no bands",
    "bad_band": "Mức xếp loại cần ngưỡng (min) và tên (label) / "
    "a band needs a numeric min and a label",
    "band_out_of_range": "Ngưỡng xếp loại phải trong khoảng 0–100 / "
    "band min must be within 0..100",
    "duplicate_band": "Tên mức xếp loại trùng / duplicate band",
    "bands_unsorted": "Các mức xếp loại phải theo ngưỡng giảm dần, không trùng / "
    "bands must be in strictly descending order of min",
    "bands_no_floor": "Mức thấp nhất phải có ngưỡng 0 / "
    "the lowest band must start at 0",
    "no_nodes": "Bộ tiêu chí không có lĩnh vực nào / no nodes",
    "bad_node": "Tiêu chí không hợp lệ / invalid node",
    "missing_code": "Thiếu mã tiêu chí / missing code",
    "bad_code": "Mã tiêu chí phải là chuỗi dạng 1, 1.2, 1.2.3 (đặt trong ngoặc kép) / "
    "code must be a quoted string like 1, 1.2, 1.2.3",
    "duplicate_code": "Mã tiêu chí trùng lặp / duplicate code",
    "code_not_under_parent": "Mã tiêu chí không thuộc tiêu chí cha (cần {expected}) / "
    "code does not fit its parent (expected {expected})",
    "missing_title": "Thiếu tên tiêu chí / missing title",
    "missing_max": "Thiếu điểm tối đa / missing max",
    "bad_max": "Điểm tối đa phải là số dương / max must be a positive number",
    "children_sum_mismatch": "Tổng điểm tiêu chí con ({total}) khác điểm tối đa "
    "({max}) / children add up to {total}, not {max}",
    "rule_on_parent": "Tiêu chí có tiêu chí con không có cách chấm điểm riêng / "
    "a node with children has no rule",
    "leaf_field_on_parent": "Tiêu chí có tiêu chí con không mang thuộc tính chấm "
    "điểm / a node with children carries no scoring setting",
    "missing_rule": "Tiêu chí thiếu cách chấm điểm / leaf without a rule",
    "bad_cap": "Điểm thưởng / điểm trừ tối đa phải là số không âm / "
    "bonus_max and penalty_max must be non-negative numbers",
    "unknown_rule": "Cách chấm điểm không hợp lệ (options, ratio, range, deduction, survey) / "
    "unknown rule kind (options, ratio, range, deduction)",
    "no_options": "Thiếu các mức chấm điểm / no options",
    "bad_option": "Mức chấm điểm cần tên (label) và điểm (score) / "
    "an option needs a label and a numeric score",
    "duplicate_option": "Tên mức chấm điểm trùng / duplicate option",
    "option_below_zero": "Điểm của mức bị âm / option score below 0",
    "option_above_max": "Điểm của mức vượt điểm tối đa {max} / "
    "option score above max {max}",
    "bad_step": "Bước điểm phải dương và chia hết điểm tối đa / "
    "step must be positive and divide max",
    "bad_per_item": "Điểm trừ mỗi lần phải dương và không quá điểm tối đa / "
    "per_item must be positive and at most max",
    "unknown_evidence": "Yêu cầu tài liệu kiểm chứng không hợp lệ (required, optional, "
    "none) / unknown evidence value (required, optional, none)",
    "bad_flag": "Giá trị phải là true hoặc false / value must be true or false",
    "bad_appraised_by": "Mã cơ quan thẩm định không hợp lệ / "
    "invalid appraising department code",
    "bad_xlsx": "Tệp không phải Excel hợp lệ / not a valid XLSX file",
    "xlsx_too_large": "Tệp Excel giải nén quá lớn / the XLSX unpacks past the limit",
    "missing_sheet": f"Thiếu sheet {CRITERIA_SHEET!r} hoặc {META_SHEET!r} / "
    f"missing sheet {CRITERIA_SHEET!r} or {META_SHEET!r}",
    "missing_column": "Thiếu cột / missing column",
    "no_parent_row": "Không có dòng tiêu chí cha / no row for the parent code",
}


def problem(code: str, path: str, subject: Any = None, **values: Any) -> Problem:
    message = PROBLEM_MESSAGES[code].format(**values)
    if subject is not None and subject != "":
        message += f": {subject}"
    return Problem(code=code, path=path, message=message)
