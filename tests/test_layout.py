"""The layout's rule on imports, walked over the source (README, Layout).

Each service owns its modules: ``services.X`` may import ``services.common`` and
``services.X`` only, the gateway ``services.common`` only, and ``services.common``
nothing of any service. What two processes share lives in services/common/; what one
service needs of another goes over RabbitMQ (services/common/contracts/).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = "services.common"


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            # ``from services import criteria`` imports services.criteria.
            if node.module == "services":
                for alias in node.names:
                    yield node.lineno, f"services.{alias.name}"


def owner(path: Path) -> str:
    """``gateway``, ``services.common`` or ``services.<name>``: who a file belongs to."""
    parts = path.relative_to(ROOT).parts
    if parts[0] == "gateway":
        return "gateway"
    return f"services.{parts[1]}"


def allowed(owner_: str, module: str) -> bool:
    if not (module == "services" or module.startswith("services.")):
        return True
    if module in ("services", SHARED) or module.startswith(SHARED + "."):
        return True
    if owner_ in ("gateway", SHARED):
        return False
    return module == owner_ or module.startswith(owner_ + ".")


def violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        who = owner(path)
        for line, module in imported_modules(path):
            if not allowed(who, module):
                found.append(f"{path.relative_to(ROOT)}:{line}: {who} imports {module}")
    return found


def source_files() -> list[Path]:
    """What the processes run: tests (which start other services' containers beside
    their own to test over the bus) are left out."""
    return sorted(p for folder in ("gateway", "services") for p in (ROOT / folder).rglob("*.py")
                  if "tests" not in p.relative_to(ROOT).parts and p.name != "conftest.py")


def test_no_process_imports_another_services_modules() -> None:
    assert violations(source_files()) == []


def test_the_walk_sees_a_crossing_import(tmp_path: Path, monkeypatch) -> None:
    """The rule catches what it is for: a gateway module reaching into a service, a
    service into another, common into a service, even inside a function."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    files = {
        "gateway/x.py": "from services.evidence.domain import flags\n",
        "services/appraisal/x.py": "def f():\n    import services.submission.domain\n",
        "services/common/x.py": "from services import criteria\n",
        "services/criteria/ok.py": "from services.common import scoring\n"
                                   "from services.criteria import models\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = violations(sorted(tmp_path.rglob("*.py")))
    assert [line.split(":")[0] for line in found] == [
        "gateway/x.py", "services/appraisal/x.py", "services/common/x.py"]
