"""contracts.py is complete: every RPC and event any process uses is declared there.

Walks the source of the processes (gateway/ and services/, tests left out) and compares
with ``RPC_METHODS`` and ``EVENTS``:

- the RPC methods each service serves (``@rpc``) are exactly those declared for it;
- every call, ``client.call(SERVICE, "method", ...)`` in the gateway or
  ``self.<proxy>.method(...)`` through a service's ``RpcProxy(SERVICE)``, is declared;
- every event published through the outbox (``record_event(s)``) is declared for the
  publishing service, and a literal payload has exactly its TypedDict's keys;
- every handler (``event_handler`` / ``retrying_event_handler``) listens to an event
  its source declares.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.common import contracts

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = {"event_handler", "retrying_event_handler"}
SERVICE_NAMES = set(contracts.SERVICES)


def _constant(node: ast.AST) -> Any:
    """A contracts name (``SUBMISSION``) or a literal, as its value; else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return getattr(contracts, node.id, None)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "contracts":
        return getattr(contracts, node.attr, None)
    return None


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def process_files(root: Path = ROOT) -> Iterator[tuple[str, Path, ast.Module]]:
    """(owner, path, tree) of every module a process runs: ``gateway`` or the service."""
    for folder in ("gateway", "services"):
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or path.name == "conftest.py" or "migrations" in parts:
                continue
            who = "gateway" if folder == "gateway" else parts[1]
            yield who, path, ast.parse(path.read_text(encoding="utf-8"))


def served(files) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for who, _, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                    _name(d.func if isinstance(d, ast.Call) else d) == "rpc"
                    for d in node.decorator_list):
                # ServiceBase (services/common/base.py) gives every service health().
                for service in (SERVICE_NAMES if who == "common" else {who}):
                    out.setdefault(service, set()).add(node.name)
    return out


def called(files) -> list[tuple[str, str, str]]:
    """(where, service, method) of every RPC call."""
    out = []
    for who, path, tree in files:
        where = str(path.relative_to(ROOT))
        proxies = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and _name(node.value.func) == "RpcProxy" and node.value.args:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        proxies[target.id] = _constant(node.value.args[0])
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"call", "call_async"} \
                    and len(node.args) >= 2:
                service, method = _constant(node.args[0]), _constant(node.args[1])
                if service in SERVICE_NAMES and isinstance(method, str):
                    out.append((f"{where}:{node.lineno}", service, method))
        out += _proxy_calls(who, where, tree, proxies)
    return out


def _proxy_calls(who: str, where: str, tree: ast.Module,
                 proxies: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    names = PROXIES.get(who, {}) | proxies
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        func = node.func
        if func.attr == "call_async" and isinstance(func.value, ast.Attribute):
            func = func.value  # self.criteria.score_entry.call_async(...)
        holder = func.value
        # self.submission.x(...), or a helper's parameter named after the proxy:
        # submission.x(...) (services pass their proxies to their modules).
        proxy = holder.attr if isinstance(holder, ast.Attribute) and isinstance(
            holder.value, ast.Name) and holder.value.id == "self" else _name(holder) \
            if isinstance(holder, ast.Name) else None
        if proxy in names:
            out.append((f"{where}:{node.lineno}", names[proxy], func.attr))
    return out


PROXIES: dict[str, dict[str, Any]] = {}


def published(files) -> list[tuple[str, str, Any, ast.AST | None]]:
    """(where, publisher, event type, payload node) of every outbox write."""
    out = []
    for who, path, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in {"record_event",
                                                                    "record_events"} \
                    and len(node.args) >= 3 and who != "common":
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", who,
                            _constant(node.args[1]), node.args[2]))
    return out


def handled(files) -> list[tuple[str, Any, Any]]:
    out = []
    for _, path, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for d in node.decorator_list:
                    if isinstance(d, ast.Call) and _name(d.func) in HANDLERS:
                        out.append((f"{path.relative_to(ROOT)}:{node.lineno}",
                                    _constant(d.args[0]), _constant(d.args[1])))
    return out


def _collect_proxies(files) -> None:
    """A service's RpcProxy attributes, by name, for every module of that service
    (helper modules receive the service instance and call ``service.<proxy>``)."""
    PROXIES.clear()
    for who, _, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and _name(node.value.func) == "RpcProxy" and node.value.args:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        PROXIES.setdefault(who, {})[target.id] = _constant(node.value.args[0])


def problems(root: Path = ROOT) -> list[str]:
    files = list(process_files(root))
    _collect_proxies(files)
    found = []
    serving = served(files)
    for service in contracts.SERVICES:
        declared = contracts.RPC_METHODS.get(service, frozenset())
        for method in sorted(serving.get(service, set()) - declared):
            found.append(f"{service}.{method} is served but not declared")
        for method in sorted(declared - serving.get(service, set())):
            found.append(f"{service}.{method} is declared but not served")
    for where, service, method in called(files):
        if method not in contracts.RPC_METHODS.get(service, frozenset()):
            found.append(f"{where}: calls {service}.{method}, not declared")
    for where, who, event, payload in published(files):
        shape = contracts.EVENTS.get(who, {}).get(event)
        if shape is None:
            found.append(f"{where}: {who} publishes {event}, not declared")
        elif isinstance(payload, ast.Dict):
            found += _payload_problems(where, who, event, payload, shape)
    for where, source, event in handled(files):
        if event not in contracts.EVENTS.get(source, {}):
            found.append(f"{where}: handles {source}.{event}, not declared")
    return found


def _payload_problems(where: str, who: str, event: str, payload: ast.Dict,
                      shape: type[Any]) -> list[str]:
    keys = {_constant(k) for k in payload.keys if k is not None}
    unpacked = any(k is None for k in payload.keys)
    expected = set(shape.__annotations__) - {"event_id"}
    out = [f"{where}: {who}.{event} carries {k!r}, not in {shape.__name__}"
           for k in sorted(keys - expected, key=str)]
    if not unpacked:
        out += [f"{where}: {who}.{event} lacks {k!r} of {shape.__name__}"
                for k in sorted(expected - keys)]
    return out


def test_every_rpc_and_event_a_process_uses_is_declared() -> None:
    assert problems() == []


def test_the_walk_sees_what_is_not_declared(tmp_path: Path, monkeypatch) -> None:
    """Each kind of undeclared use is caught, so the test above can fail."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    files = {
        "gateway/r.py": 'async def f(client):\n'
                        '    await client.call(\n        CRITERIA, "import_everything", 1)\n',
        "services/notify/service.py":
            "class Service:\n    identity = RpcProxy(IDENTITY)\n\n"
            "    @retrying_event_handler(SUBMISSION, 'entry_deleted')\n"
            "    def on(self, payload):\n        self.identity.drop_user('x')\n",
        "services/submission/x.py":
            "def f(session):\n    record_event(session, 'entry_lost', {})\n"
            "    record_event(session, ENTRY_SAVED, {'assessment_id': 1, 'colour': 'red'})\n",
        "services/evidence/service.py": "class Service:\n    @rpc\n    def shred(self): ...\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = "\n".join(problems(tmp_path))
    for expected in ("calls criteria.import_everything", "calls identity.drop_user",
                     "handles submission.entry_deleted", "publishes entry_lost",
                     "carries 'colour'", "lacks 'code'", "evidence.shred is served",
                     "criteria.score_entry is declared but not served"):
        assert expected in found
