"""Real Prometheus scrapes every process of the running system, with what deploy/ ships.

The scrape jobs of deploy/prometheus/prometheus.yml run unchanged (their relabelling
included); only Kubernetes' pod discovery is replaced by the targets it would find: one
per Deployment of the rendered production overlay, with the labels Kubernetes gives a
pod (its prometheus.io/* annotations, its app.kubernetes.io/name) and this test slot's
ports. RabbitMQ's own endpoint (rabbitmq_prometheus, port 15692) gives the queues. Then
the alert rules (promtool, and evaluated live) and every panel of the Grafana dashboard.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from services.common.contracts import SERVICES
from tests.system import AMQP, PORT_OFFSET, ROOT, System
from tests.test_k8s import Rendered, render
from tests.test_submission import campaign, put  # noqa: F401 - fixtures

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "cchc-rush.json"
PROMETHEUS_PORT = 9090 + PORT_OFFSET
RABBITMQ_METRICS = "127.0.0.1:15692"
PROCESSES = set(SERVICES) | {"gateway"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: scripts/bootstrap.sh installs Debian's prometheus"
    return subprocess.run([tool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True,
                          timeout=120)


def pod_targets(rendered: Rendered) -> list[dict[str, Any]]:
    """What Kubernetes' pod discovery would hand the `cchc` job, one pod per Deployment."""
    groups = []
    for name, deployment in sorted(rendered.of_kind("Deployment").items()):
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        (port,) = [p["containerPort"] for p in container["ports"]]
        labels = {
            "__meta_kubernetes_namespace": deployment["metadata"]["namespace"],
            "__meta_kubernetes_pod_name": f"{name}-0",
            "__meta_kubernetes_pod_container_init": "false",
        }
        for key, value in template["metadata"]["annotations"].items():
            meta = key.replace(".", "_").replace("/", "_").replace("-", "_")
            labels[f"__meta_kubernetes_pod_annotation_{meta}"] = value
        for key, value in template["metadata"]["labels"].items():
            meta = key.replace(".", "_").replace("/", "_").replace("-", "_")
            labels[f"__meta_kubernetes_pod_label_{meta}"] = value
        # This test slot runs every port shifted by PORT_OFFSET.
        annotated = int(labels["__meta_kubernetes_pod_annotation_prometheus_io_port"])
        labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] = str(
            annotated + PORT_OFFSET)
        groups.append({"targets": [f"127.0.0.1:{port + PORT_OFFSET}"], "labels": labels})
    return groups


def scrape_config(rendered: Rendered, rules: Path) -> dict[str, Any]:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(rules)]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    cchc = jobs["cchc"]
    assert [sd["role"] for sd in cchc.pop("kubernetes_sd_configs")] == ["pod"]
    cchc["static_configs"] = pod_targets(rendered)
    rabbitmq = jobs["rabbitmq"]
    rabbitmq["static_configs"] = [{"targets": [RABBITMQ_METRICS]}]
    rabbitmq["params"]["vhost"] = [urlsplit(AMQP).path.lstrip("/") or "/"]
    return config


class Prometheus:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.base_url}{path}", params=params, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["result"]

    def eventually(self, check: Callable[[], Any], seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            result = check()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(system: System, tmp_path_factory) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: scripts/bootstrap.sh installs Debian's"
    work = tmp_path_factory.mktemp("prometheus")
    config = scrape_config(Rendered(render("overlays/production")),
                         PROMETHEUS_DIR / "alerts.yml")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    # Debian's build has no Kubernetes discovery (the cluster runs upstream's image), so
    # the configuration promtool checks is this one, with the discovery replaced.
    checked = promtool("check", "config", str(work / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    client = Prometheus(f"http://127.0.0.1:{PROMETHEUS_PORT}")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (work / "prometheus.log").read_text()
            try:
                if httpx.get(f"{client.base_url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.3)
        yield client
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_promtool_checks_the_shipped_rules_config_and_their_fixtures() -> None:
    for args in (("check", "rules", "alerts.yml"), ("test", "rules", "tests/alerts_test.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    # The fixtures are real expectations: one changed number and promtool says so.
    fixtures = (PROMETHEUS_DIR / "tests" / "alerts_test.yml").read_text()
    wrong = fixtures.replace("../alerts.yml", str(PROMETHEUS_DIR / "alerts.yml")).replace(
        "150 yêu cầu chờ", "149 yêu cầu chờ")
    (tmp_path / "wrong.yml").write_text(wrong)
    result = promtool("test", "rules", str(tmp_path / "wrong.yml"))
    assert result.returncode != 0 and "149 yêu cầu chờ" in result.stdout + result.stderr


def test_every_process_is_scraped_by_its_annotations(prometheus: Prometheus) -> None:
    def up() -> set[str]:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        return {t["labels"].get("service", t["labels"]["job"])
                for t in targets if t["health"] == "up"}

    seen = prometheus.eventually(lambda: PROCESSES | {"rabbitmq"} <= up() and up())
    assert PROCESSES | {"rabbitmq"} <= seen, seen
    by_service = {r["metric"]["service"]: r for r in prometheus.query('up{job="cchc"}')}
    assert set(by_service) == PROCESSES
    for service, result in by_service.items():
        assert result["value"][1] == "1", service
        assert result["metric"]["namespace"] == "cchc"
        assert result["metric"]["pod"] == f"{service}-0"
    cpu = {r["metric"]["service"] for r in prometheus.query("process_cpu_seconds_total")}
    assert cpu == PROCESSES
    outbox = {r["metric"]["service"]
              for r in prometheus.query("cchc_outbox_pending_events")}
    assert outbox == set(SERVICES)
    # Each service's own, at 0: its code gave every database connection back.
    abandoned = {r["metric"]["service"]: r["value"][1]
                 for r in prometheus.query("cchc_db_connections_abandoned_total")}
    assert abandoned == dict.fromkeys(SERVICES, "0")
    queues = {r["metric"]["queue"]
              for r in prometheus.query("rabbitmq_detailed_queue_messages_ready")}
    assert {f"rpc-{s}" for s in SERVICES} <= queues


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            # Grafana's own variable: four scrape intervals, as Grafana picks it.
            queries.append((panel["title"], target["expr"].replace("$__rate_interval", "15s")))
    return queries


def test_every_dashboard_panel_and_rule_has_data_in_a_rush(
    prometheus: Prometheus, http: httpx.Client, make_user, unit, campaign  # noqa: F811
) -> None:
    codes = [unit(), unit()]
    _, leader = make_user("unit_leader", unit_code=codes[0])
    created = campaign(codes, locks_in=2 * 3600)
    aid = created[codes[0]]
    for i in range(5):
        saved = put(http, aid, "2.1", {"self_score": str(0.25 * i),
                                       "explanation": "Báo cáo số 3/BC-UBND, mục II"}, leader)
        assert saved.status_code == 200, saved.text
    refused = put(http, aid, "2.1", {"self_score": "0.3", "explanation": "x"}, leader)
    assert refused.status_code == 422, refused.text

    for title, expr in dashboard_queries():
        result = prometheus.eventually(lambda expr=expr: prometheus.query(expr))
        assert result, f"panel {title!r}: {expr} returned nothing"

    # The lock is two hours away and no unit has sent: the rule sees it in the live gauges.
    def lock_alert() -> list[dict[str, Any]]:
        return [a for a in prometheus.get("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == "CCHCLockApproachingManyUnitsUnsent"
                and a["labels"]["campaign_id"] == str(created["id"])]

    (alert,) = prometheus.eventually(lock_alert)
    assert alert["state"] == "firing" and alert["value"] in ("2", "2e+00")
    groups = prometheus.get("/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 12
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
    firing = {a["labels"]["alertname"] for a in prometheus.get("/api/v1/alerts")["alerts"]}
    assert "CCHCServiceDown" not in firing

    # Every metric a rule or a panel reads is one the system exports: a misspelt name
    # would make a rule that never fires. Dead letters appear with the first one (their
    # rule handles the absence).
    exported = set(prometheus.get("/api/v1/label/__name__/values"))
    exprs = [rule["query"] for rule in rules] + [expr for _, expr in dashboard_queries()]
    read = set(re.findall(r"\b(?:cchc|rabbitmq|process)_[a-z_]+", " ".join(exprs)))
    assert read - exported == {"cchc_events_dead_lettered_total"}, read - exported


def test_the_scrape_config_keeps_the_shipped_relabelling() -> None:
    shipped = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    made = scrape_config(Rendered(render("overlays/production")), Path("alerts.yml"))
    for ours, theirs in zip(made["scrape_configs"], shipped["scrape_configs"], strict=True):
        expected = copy.deepcopy(theirs)
        expected.pop("kubernetes_sd_configs", None)
        expected.pop("static_configs", None)
        expected.pop("params", None)
        got = {k: v for k, v in ours.items() if k not in ("static_configs", "params")}
        assert got == expected
