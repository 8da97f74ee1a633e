"""The contracts package is complete and true: every RPC and event any process uses is
declared in services/common/contracts/, and every RPC is served and called as declared.

Walks the source of the processes (gateway/ and services/, tests left out) and compares
with each service's Protocol (``contracts.RPC``, ``RPC_METHODS``) and ``EVENTS``:

- the RPC methods each service serves (``@rpc``) are exactly those declared for it, and
  each has its Protocol method's parameters: names, order, kinds and defaults;
- every call, ``client.call(SERVICE, "method", ...)`` in the gateway or
  ``self.<proxy>.method(...)`` through a service's ``RpcProxy(SERVICE)``, is declared,
  passes no more positional arguments than the method takes, no keyword it does not
  declare, none twice, and every argument without a default;
- every event published through the outbox (``record_event(s)``) is declared for the
  publishing service, and a literal payload has exactly its TypedDict's keys;
- every handler (``event_handler`` / ``retrying_event_handler``) listens to an event
  its source declares.
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common import contracts

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = {"event_handler", "retrying_event_handler"}
SERVICE_NAMES = set(contracts.SERVICES)
# The gateway's RpcClient.call takes this keyword itself; it is not sent to the service.
CLIENT_KEYWORDS = {"timeout"}
UNREADABLE = object()


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


def process_files(root: Path | None = None) -> Iterator[tuple[str, Path, ast.Module]]:
    """(owner, path, tree) of every module a process runs: ``gateway`` or the service."""
    root = root or ROOT
    for folder in ("gateway", "services"):
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or path.name == "conftest.py" or "migrations" in parts:
                continue
            who = "gateway" if folder == "gateway" else parts[1]
            yield who, path, ast.parse(path.read_text(encoding="utf-8"))


# --- What is served ------------------------------------------------------------------

@dataclass
class Served:
    where: str
    who: str  # the folder it lives in: the service, or "common" (ServiceBase)
    function: ast.FunctionDef


def served(files) -> dict[str, dict[str, list[Served]]]:
    """Per service, each @rpc method and where it is defined."""
    out: dict[str, dict[str, list[Served]]] = {}
    for who, path, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                    _name(d.func if isinstance(d, ast.Call) else d) == "rpc"
                    for d in node.decorator_list):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                # ServiceBase (services/common/base.py) gives every service health().
                for service in (SERVICE_NAMES if who == "common" else {who}):
                    out.setdefault(service, {}).setdefault(node.name, []).append(
                        Served(where, who, node))
    return out


def _module_constant(path: Path, name: str) -> Any:
    """A module-level ``name = <literal>`` of ``path``, or UNREADABLE."""
    if not path.exists():
        return UNREADABLE
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) and node.value is not None else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return UNREADABLE
    return UNREADABLE


def _default(node: ast.expr, who: str) -> Any:
    """A default's value: a literal, a contracts name, or ``module.NAME`` of the same
    service (``domain.SELF_ASSESSMENT``) bound to a literal; else UNREADABLE."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, ast.Name) and hasattr(contracts, node.id):
        return getattr(contracts, node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return _module_constant(ROOT / "services" / who / f"{node.value.id}.py", node.attr)
    return UNREADABLE


_KINDS = {"posonly": inspect.Parameter.POSITIONAL_ONLY,
          "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
          "kwonly": inspect.Parameter.KEYWORD_ONLY}


def served_parameters(function: ast.FunctionDef, who: str) -> list[tuple[str, Any, Any]]:
    """(name, kind, default) of each parameter but ``self``, as the code has them."""
    a = function.args
    out: list[tuple[str, Any, Any]] = []
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [
        _default(d, who) for d in a.defaults]
    for index, arg in enumerate(positional):
        kind = _KINDS["posonly"] if arg in a.posonlyargs else _KINDS["args"]
        out.append((arg.arg, kind, defaults[index]))
    if a.vararg:
        out.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append((arg.arg, _KINDS["kwonly"],
                    inspect.Parameter.empty if default is None else _default(default, who)))
    if a.kwarg:
        out.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    return out[1:]


def declared_parameters(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in list(signature.parameters.values())[1:]]


def _shown(parameters: list[tuple[str, Any, Any]]) -> str:
    def one(name: str, kind: Any, default: Any) -> str:
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*",
                  inspect.Parameter.VAR_KEYWORD: "**"}.get(kind, "")
        if default is UNREADABLE:
            return f"{prefix}{name}=<not a literal>"
        return f"{prefix}{name}" + ("" if default is inspect.Parameter.empty
                                    else f"={default!r}")
    return ", ".join(one(*p) for p in parameters)


def signature_problems(serving: dict[str, dict[str, list[Served]]]) -> list[str]:
    out = []
    for service, protocol in contracts.RPC.items():
        declared = contracts.rpc_methods(protocol)
        for method, places in sorted(serving.get(service, {}).items()):
            if len(places) > 1:
                out.append(f"{service}.{method} is served twice: "
                           f"{', '.join(p.where for p in places)}")
            if method not in declared:
                continue
            want = declared_parameters(declared[method])
            for place in places:
                have = served_parameters(place.function, place.who)
                if have != want:
                    out.append(f"{place.where}: {service}.{method}({_shown(have)}) differs "
                               f"from {protocol.__name__}.{method}({_shown(want)})")
    return out


# --- What is called ------------------------------------------------------------------

@dataclass
class Call:
    where: str
    service: str
    method: str
    args: list[ast.expr]
    keywords: list[ast.keyword]


def called(files) -> list[Call]:
    """Every RPC call: the gateway's client and the services' proxies."""
    out = []
    for who, path, tree in files:
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"call", "call_async"} \
                    and len(node.args) >= 2:
                service, method = _constant(node.args[0]), _constant(node.args[1])
                if service in SERVICE_NAMES and isinstance(method, str):
                    out.append(Call(f"{where}:{node.lineno}", service, method,
                                    node.args[2:], [k for k in node.keywords
                                                    if k.arg not in CLIENT_KEYWORDS]))
        out += _proxy_calls(who, where, tree)
    return out


def _proxy_calls(who: str, where: str, tree: ast.Module) -> list[Call]:
    out = []
    names = PROXIES.get(who, {})
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
            out.append(Call(f"{where}:{node.lineno}", names[proxy], func.attr,
                            list(node.args), list(node.keywords)))
    return out


PROXIES: dict[str, dict[str, Any]] = {}


def _collect_proxies(files) -> None:
    """A service's RpcProxy attributes, by name, for every module of that service
    (helper modules receive the service instance or the proxy and call it)."""
    PROXIES.clear()
    for who, _, tree in files:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and _name(node.value.func) == "RpcProxy" and node.value.args:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        PROXIES.setdefault(who, {})[target.id] = _constant(node.value.args[0])


def argument_problems(call: Call, signature: inspect.Signature) -> list[str]:
    """What the declared method would refuse: too many positional arguments, a keyword
    it does not take or given twice, a required argument left out."""
    P = inspect.Parameter
    params = list(signature.parameters.values())[1:]
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    by_keyword = {p.name for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    any_positional = any(p.kind == P.VAR_POSITIONAL for p in params)
    any_keyword = any(p.kind == P.VAR_KEYWORD for p in params)
    starred = any(isinstance(a, ast.Starred) for a in call.args)
    unpacked = any(k.arg is None for k in call.keywords)
    name = f"{call.where}: {call.service}.{call.method}"
    out = []
    given = len([a for a in call.args if not isinstance(a, ast.Starred)])
    if given > len(positional) and not any_positional:
        out.append(f"{name} gets {given} positional arguments, declares "
                   f"{len(positional)}")
    filled = {p.name for p in positional[:given]}
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        if keyword.arg not in by_keyword and not any_keyword:
            out.append(f"{name} gets keyword {keyword.arg!r}, not declared")
        elif keyword.arg in filled:
            out.append(f"{name} gets {keyword.arg!r} twice")
    if not (starred or unpacked):
        named = {k.arg for k in call.keywords}
        out += [f"{name} lacks {p.name!r}, declared without a default" for p in params
                if p.default is P.empty and p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY,
                                                       P.POSITIONAL_ONLY)
                and p.name not in filled and p.name not in named]
    return out


# --- Events ----------------------------------------------------------------------------

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


# --- All of it --------------------------------------------------------------------------

def problems(root: Path | None = None) -> list[str]:
    files = list(process_files(root))
    _collect_proxies(files)
    out = []
    serving = served(files)
    for service in contracts.SERVICES:
        declared = contracts.RPC_METHODS.get(service, frozenset())
        names = set(serving.get(service, {}))
        for method in sorted(names - declared):
            out.append(f"{service}.{method} is served but not declared")
        for method in sorted(declared - names):
            out.append(f"{service}.{method} is declared but not served")
    out += signature_problems(serving)
    for call in called(files):
        signatures = contracts.rpc_methods(contracts.RPC[call.service])
        if call.method not in signatures:
            out.append(f"{call.where}: calls {call.service}.{call.method}, not declared")
        else:
            out += argument_problems(call, signatures[call.method])
    for where, who, event, payload in published(files):
        shape = contracts.EVENTS.get(who, {}).get(event)
        if shape is None:
            out.append(f"{where}: {who} publishes {event}, not declared")
        elif isinstance(payload, ast.Dict):
            out += _payload_problems(where, who, event, payload, shape)
    for where, source, event in handled(files):
        if event not in contracts.EVENTS.get(source, {}):
            out.append(f"{where}: handles {source}.{event}, not declared")
    return out


def test_every_rpc_and_event_a_process_uses_is_declared() -> None:
    assert problems() == []


def test_every_declared_type_resolves() -> None:
    """The Protocols' and payloads' annotations name types that exist."""
    for protocol in contracts.RPC.values():
        for method in contracts.rpc_methods(protocol):
            typing.get_type_hints(getattr(protocol, method))
    for shapes in contracts.EVENTS.values():
        for shape in shapes.values():
            typing.get_type_hints(shape)


def test_rpc_methods_come_from_the_protocols() -> None:
    for service, protocol in contracts.RPC.items():
        assert contracts.RPC_METHODS[service] == set(contracts.rpc_methods(protocol))
        assert "health" in contracts.RPC_METHODS[service]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_walk_sees_what_is_not_declared(tmp_path: Path, monkeypatch) -> None:
    """Each kind of undeclared use is caught, so the test above can fail."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    _write(tmp_path, {
        "gateway/r.py": 'async def f(client):\n'
                        '    await client.call(\n        CRITERIA, "import_everything", 1)\n',
        "services/notify/service.py":
            "class Service:\n    identity = RpcProxy(IDENTITY)\n\n"
            "    @retrying_event_handler(SUBMISSION, 'entry_deleted')\n"
            "    def on(self, payload):\n        self.identity.drop_user('x')\n",
        "services/submission/x.py":
            "def f(session):\n    record_event(session, 'entry_lost', {})\n"
            "    record_event(session, WINDOW_OPENED, {'campaign_id': 1, 'colour': 'red'})\n",
        "services/evidence/service.py": "class Service:\n    @rpc\n    def shred(self): ...\n",
    })
    found = "\n".join(problems(tmp_path))
    for expected in ("calls criteria.import_everything", "calls identity.drop_user",
                     "handles submission.entry_deleted", "publishes entry_lost",
                     "carries 'colour'", "lacks 'kind'", "evidence.shred is served",
                     "criteria.score_entry is declared but not served"):
        assert expected in found


def test_the_walk_sees_a_signature_that_differs(tmp_path: Path, monkeypatch) -> None:
    """A served method whose parameters' names, order or defaults differ from its
    Protocol method's is caught; one that matches (a default read from a constant of the
    service's own module included) is not."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    _write(tmp_path, {
        "services/notify/service.py":
            "class Service:\n"
            "    @rpc\n    def inbox(self, username, before_id=None, limit=50): ...\n"
            "    @rpc\n    def mark_read(self, username, notification_id, extra=1): ...\n"
            "    @rpc\n    def get_preferences(self, user): ...\n"
            "    @rpc(expected_exceptions=E)\n"
            "    def set_preferences(self, username, preferences=None): ...\n",
        "services/submission/domain.py": 'SELF = "self_assessment"\nOTHER = "supplement"\n',
        "services/submission/campaigns.py":
            "class Campaigns:\n"
            "    @rpc\n    def pending_units(self, campaign_id, kind=domain.SELF): ...\n"
            "    @rpc\n    def progress(self, campaign_id, *, kind=domain.OTHER): ...\n"
            "    @rpc\n    def get_campaign(self, campaign_id=make()): ...\n",
        "services/submission/views.py":
            "class Views:\n    @rpc\n    def progress(self, campaign_id): ...\n",
    })
    found = problems(tmp_path)
    text = "\n".join(found)
    for expected in (
            "notify.inbox(username, before_id=None, limit=50) differs from "
            "NotifyRpc.inbox(username, limit=50, before_id=None)",
            "notify.mark_read(username, notification_id, extra=1) differs",
            "notify.get_preferences(user) differs from NotifyRpc.get_preferences(username)",
            "notify.set_preferences(username, preferences=None) differs",
            "submission.progress(campaign_id, kind='supplement') differs",
            "submission.get_campaign(campaign_id=<not a literal>) differs",
            "submission.progress is served twice"):
        assert expected in text, expected
    assert not any("pending_units(" in line for line in found)


def test_the_walk_sees_arguments_a_method_does_not_take(tmp_path: Path, monkeypatch) -> None:
    """Calls with more positional arguments than declared, an undeclared keyword, one
    given twice, or a required one left out are caught, from the gateway and through a
    service's proxies; calls that fit are not."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    _write(tmp_path, {
        "gateway/r.py":
            "async def f(client):\n"
            '    await client.call(NOTIFY, "inbox", "u", 10, None, 5)\n'       # line 2
            '    await client.call(NOTIFY, "inbox", "u", page=2)\n'             # line 3
            '    await client.call(NOTIFY, "mark_read", "u")\n'                 # line 4
            '    await client.call(NOTIFY, "inbox", "u", 10, limit=5)\n'        # line 5
            '    await client.call(NOTIFY, "inbox", "u", 10, before_id=3, timeout=2)\n'
            '    await client.call(NOTIFY, "mark_read", *pair)\n'
            '    await client.call(IDENTITY, "create_user", {}, actor=a, ip=None)\n',
        "services/appraisal/service.py":
            "class Service:\n    submission = RpcProxy(SUBMISSION)\n\n"
            "    def f(self):\n"
            "        self.submission.get_campaign(1, 2)\n"                      # line 5
            "        self.submission.pending_units(1, knd='x')\n"               # line 6
            "        self.submission.round_two(1, actor=a)\n",
        "services/appraisal/sync.py":
            "def g(submission):\n    submission.precheck(actor=a)\n",          # line 2
    })
    found = problems(tmp_path)
    for expected in (
            "gateway/r.py:2: notify.inbox gets 4 positional arguments, declares 3",
            "gateway/r.py:3: notify.inbox gets keyword 'page', not declared",
            "gateway/r.py:4: notify.mark_read lacks 'notification_id'",
            "gateway/r.py:5: notify.inbox gets 'limit' twice",
            "services/appraisal/service.py:5: submission.get_campaign gets 2 positional "
            "arguments, declares 1",
            "services/appraisal/service.py:6: submission.pending_units gets keyword 'knd'",
            "services/appraisal/sync.py:2: submission.precheck lacks 'assessment_id'"):
        assert any(line.startswith(expected) for line in found), expected
    for fine in ("gateway/r.py:6:", "gateway/r.py:7:", "gateway/r.py:8:",
                 "services/appraisal/service.py:7:"):
        assert not any(line.startswith(fine) for line in found), fine


def test_the_contracts_import_neither_nameko_nor_eventlet() -> None:
    """The gateway (asyncio) imports them: nothing of nameko's may come along."""
    script = ("import sys, services.common.contracts\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'nameko', 'eventlet'}))")
    shown = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert shown.stdout.strip() == "[]"
