"""The Kubernetes manifests, checked offline.

Every file and every rendered overlay is validated against the Kubernetes 1.30 schemas
by ``kubernetes-validate --strict`` (unknown fields are errors). Overlays are rendered
by kustomize as built into ``kubectl kustomize``, the same code a cluster operator runs.
KEDA's resources have no schema there, so a small JSON Schema below holds the part of
them we use. Then the facts that hold across files: one Deployment per service, probes
on the port from contracts.SERVICE_PORTS, migrations before start, secrets from a
Secret, resources on every container, and never two autoscalers on one Deployment.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from gateway.config import Settings as GatewaySettings
from services.common.config import Settings as ServiceSettings
from services.common.contracts import SERVICE_PORTS, SERVICES
from services.common.objectstore import StoreSettings as EvidenceStoreSettings
from services.evidence.files import CheckSettings as EvidenceCheckSettings
from services.identity.config import IdentitySettings

SETTINGS = (ServiceSettings, GatewaySettings, EvidenceStoreSettings, EvidenceCheckSettings,
            IdentitySettings)

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUBE_VERSION = "1.30"
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# Kinds kubernetes-validate has no schema for; anything else it cannot find is an error.
WITHOUT_SCHEMA = {"Kustomization", "ScaledObject", "TriggerAuthentication"}
PORTS = {**SERVICE_PORTS, "gateway": 8000}
RUSH = ("gateway", "submission")  # the deadline rush goes through these

KEDA_SCHEMAS = {
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "ScaledObject"},
            "metadata": {"type": "object", "required": ["name"]},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                        },
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "metadata": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "authenticationRef": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "TriggerAuthentication"},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["parameter", "name", "key"],
                            "properties": {
                                "parameter": {"type": "string"},
                                "name": {"type": "string"},
                                "key": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def validate(paths: list[Path]) -> None:
    """Run kubernetes-validate; fail on any error or on a kind it has no schema for."""
    result = subprocess.run(
        [str(VALIDATE), "--strict", "-k", KUBE_VERSION, "--quiet", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    unknown = [
        line for line in output.splitlines()
        if line.startswith("WARN") and not any(f"kind {k} " in line for k in WITHOUT_SCHEMA)
    ]
    assert result.returncode == 0 and "ERROR" not in output, output
    assert not unknown, "\n".join(unknown)


def render(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (its built-in kustomize renders the overlays) is not on PATH"
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Rendered:
    """The resources of one rendered overlay, by kind and name."""

    def __init__(self, text: str) -> None:
        self.resources = [r for r in yaml.safe_load_all(text) if r]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {r["metadata"]["name"]: r for r in self.resources if r["kind"] == kind}

    def secret_named(self, name: str) -> dict[str, Any] | None:
        return self.of_kind("Secret").get(name)


@pytest.fixture(scope="module", params=["base", "overlays/dev", "overlays/production"])
def rendered(request, tmp_path_factory) -> Iterator[tuple[str, Rendered, Path]]:
    text = render(request.param)
    path = tmp_path_factory.mktemp("k8s") / (request.param.replace("/", "-") + ".yaml")
    path.write_text(text)
    yield request.param, Rendered(text), path


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def main_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def probe_port(container: dict[str, Any], probe: str) -> int:
    port = container[probe]["httpGet"]["port"]
    if isinstance(port, int):
        return port
    (named,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return named


def env_source(container: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [e for e in container.get("env", []) if e["name"] == name]
    return entry["valueFrom"]


def test_every_manifest_file_validates_strictly() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 11, files
    validate(files)


def test_the_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((K8S / "base" / "notify.yaml").read_text().replace(
        "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  replicaz: 2", 1))
    with pytest.raises(AssertionError, match="replicaz"):
        validate([bad])


def test_rendered_overlay_validates_strictly(rendered) -> None:
    _, _, path = rendered
    validate([path])


def test_one_deployment_and_service_per_process_with_probes_on_its_port(rendered) -> None:
    _, out, _ = rendered
    deployments, services = out.of_kind("Deployment"), out.of_kind("Service")
    assert set(deployments) == set(SERVICES) | {"gateway"}
    for name, deployment in deployments.items():
        container = main_container(deployment)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert probe_port(container, "livenessProbe") == PORTS[name], name
        assert probe_port(container, "readinessProbe") == PORTS[name], name
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(PORTS[name]), name
        assert annotations["prometheus.io/path"] == "/metrics", name
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= template["metadata"]["labels"].items(), name
        service = services[name]
        assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
        targets = {p["targetPort"] for p in service["spec"]["ports"]}
        assert targets <= {p["name"] for p in container["ports"]} | {PORTS[name]}, name


def test_services_migrate_before_they_start_and_read_secrets(rendered) -> None:
    overlay, out, _ = rendered
    config = out.of_kind("ConfigMap")
    for name in SERVICES:
        deployment = out.of_kind("Deployment")[name]
        (migrate,) = deployment["spec"]["template"]["spec"]["initContainers"]
        assert migrate["command"] == ["python", "-m", "services.common.migrate", name]
        container = main_container(deployment)
        assert container["command"] == ["python", "-m", "services.common.run", name]
        url = f"CCHC_{name.upper()}_DATABASE_URL"
        for c in (migrate, container):
            assert "secretKeyRef" in env_source(c, url), (name, c["name"])
        assert "secretKeyRef" in env_source(container, "CCHC_AMQP_URI"), name
        # Services must not see each other's databases.
        others = {f"CCHC_{s.upper()}_DATABASE_URL" for s in SERVICES if s != name}
        assert not others & {e["name"] for e in container.get("env", [])}, name
    for name, deployment in out.of_kind("Deployment").items():
        (ref,) = main_container(deployment)["envFrom"]
        assert config[ref["configMapRef"]["name"]]["data"]["CCHC_BIND_HOST"] == "0.0.0.0", name


def test_config_and_secret_keys_are_settings_the_code_reads(rendered) -> None:
    overlay, out, _ = rendered
    names = {(cls.model_config["env_prefix"] + field).upper()
             for cls in SETTINGS for field in cls.model_fields}
    for config in out.of_kind("ConfigMap").values():
        for key in config["data"]:
            assert key in names, key
    referenced: dict[str, set[str]] = {}
    for deployment in out.of_kind("Deployment").values():
        for container in containers(deployment):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] == entry["name"], entry
                    referenced.setdefault(ref["name"], set()).add(ref["key"])
    if overlay == "overlays/dev":
        # The dev Secret is generated; every key a container asks for is in it.
        for name, keys in referenced.items():
            secret = out.secret_named(name)
            assert secret is not None, name
            assert keys <= set(secret["data"]), keys - set(secret["data"])
    if overlay == "overlays/production":
        assert not out.of_kind("Secret"), "production credentials must not be in git"


def test_resources_and_non_root_everywhere(rendered) -> None:
    _, out, _ = rendered
    for name, deployment in out.of_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        for container in containers(deployment):
            where = (name, container["name"])
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where


def test_keda_resources_match_their_schema(rendered) -> None:
    _, out, _ = rendered
    for resource in out.resources:
        if resource["kind"] in KEDA_SCHEMAS:
            jsonschema.validate(resource, KEDA_SCHEMAS[resource["kind"]])


def test_keda_schema_rejects_an_unknown_field() -> None:
    resource = yaml.safe_load(
        (K8S / "overlays" / "production" / "submission-keda.yaml").read_text().split("---")[0]
    )
    resource["spec"]["minReplicas"] = 3  # the HPA's spelling, not KEDA's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(resource, KEDA_SCHEMAS["ScaledObject"])


def autoscalers(out: Rendered) -> dict[str, list[dict[str, Any]]]:
    by_target: dict[str, list[dict[str, Any]]] = {}
    for hpa in out.of_kind("HorizontalPodAutoscaler").values():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment"
        by_target.setdefault(target["name"], []).append(hpa)
    for scaled in out.of_kind("ScaledObject").values():
        target = scaled["spec"]["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment"
        by_target.setdefault(target["name"], []).append(scaled)
    return by_target


def test_never_two_autoscalers_on_one_deployment(rendered) -> None:
    _, out, _ = rendered
    deployments = out.of_kind("Deployment")
    for target, scalers in autoscalers(out).items():
        assert target in deployments, f"autoscaler for a missing Deployment {target}"
        assert len(scalers) == 1, f"{target} has {len(scalers)} autoscalers"
        scaler = scalers[0]
        if scaler["kind"] == "HorizontalPodAutoscaler":
            # A CPU target is a share of the request: without requests it never scales.
            for container in containers(deployments[target]):
                assert "cpu" in container["resources"]["requests"], target
            minimum = scaler["spec"]["minReplicas"]
        else:
            minimum = scaler["spec"]["minReplicaCount"]
        assert deployments[target]["spec"]["replicas"] == minimum, target


def test_production_scales_the_deadline_rush(rendered) -> None:
    overlay, out, _ = rendered
    if overlay != "overlays/production":
        assert not autoscalers(out), f"{overlay} should not autoscale"
        return
    deployments = out.of_kind("Deployment")
    replicas = {name: d["spec"]["replicas"] for name, d in deployments.items()}
    calm = max(n for name, n in replicas.items() if name not in RUSH)
    assert calm >= 2, replicas
    assert all(replicas[name] > calm for name in RUSH), replicas
    scalers = autoscalers(out)
    assert set(RUSH) <= set(scalers)
    (keda,) = scalers["submission"]
    assert keda["kind"] == "ScaledObject"
    (trigger,) = keda["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == "rpc-submission"
    auth = out.of_kind("TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    (secret_ref,) = auth["spec"]["secretTargetRef"]
    assert secret_ref["parameter"] == "host" and secret_ref["key"] == "CCHC_AMQP_URI"
    (hpa,) = scalers["gateway"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    for name in RUSH:
        budget = out.of_kind("PodDisruptionBudget")[name]
        assert budget["spec"]["minAvailable"] < replicas[name], name


def test_dockerfile_runs_as_the_user_the_manifests_expect() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    # The base is a build argument (scripts/image.sh passes a Debian-made one); a
    # registry build gets python:3.11-slim.
    (base,) = re.findall(r"^ARG BASE=(\S+)", dockerfile, re.M)
    assert base.startswith("python:3.11-slim")
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert len(stages) >= 2 and all(s == "${BASE}" for s in stages)
    (user,) = re.findall(r"^USER (\d+)", dockerfile, re.M)
    pod = yaml.safe_load_all((K8S / "base" / "notify.yaml").read_text())
    assert next(pod)["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(user)


def test_exactly_one_disruption_budget_per_deployment(rendered) -> None:
    overlay, out, _ = rendered
    budgets = out.of_kind("PodDisruptionBudget")
    for name, deployment in out.of_kind("Deployment").items():
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [b for b in budgets.values() if selects(b["spec"]["selector"], pods)]
        # Two budgets over the same pods make every eviction of them fail.
        assert len(mine) == 1, (name, [b["metadata"]["name"] for b in mine])
        spec = mine[0]["spec"]
        if "maxUnavailable" in spec:
            assert spec["maxUnavailable"] == 1, name
        else:
            assert 0 < spec["minAvailable"] < deployment["spec"]["replicas"], name


def test_replicas_spread_over_nodes_and_zones(rendered) -> None:
    _, out, _ = rendered
    for name, deployment in out.of_kind("Deployment").items():
        pod = deployment["spec"]["template"]
        constraints = {c["topologyKey"]: c for c in pod["spec"]["topologySpreadConstraints"]}
        assert set(constraints) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        for constraint in constraints.values():
            assert constraint["maxSkew"] == 1, name
            assert selects(constraint["labelSelector"], pod["metadata"]["labels"]), name
            # Counted per process and per rollout, not across all the system's pods.
            assert {"app.kubernetes.io/name", "pod-template-hash"} <= set(
                constraint["matchLabelKeys"]), name


def test_the_identity_provider_is_named_not_looked_for_on_the_loopback(rendered) -> None:
    overlay, out, _ = rendered
    (config,) = out.of_kind("ConfigMap").values()
    data = config["data"]
    url = urlsplit(data["CCHC_KEYCLOAK_URL"])
    assert url.hostname not in ("127.0.0.1", "localhost", "::1"), url
    if data["CCHC_IDENTITY_PROVIDER"] == "local":
        # The identity service's own provider, reached by its Service and ops port.
        service = out.of_kind("Service")[url.hostname]
        assert url.port in {p["port"] for p in service["spec"]["ports"]}
        assert url.port == SERVICE_PORTS["identity"]
    else:
        assert data["CCHC_IDENTITY_PROVIDER"] == "keycloak"
        assert urlsplit(data["CCHC_KEYCLOAK_ISSUER"]).path == "/realms/cchc"
    assert overlay != "overlays/production" or data["CCHC_IDENTITY_PROVIDER"] == "keycloak"
    for name in ("gateway", "identity"):
        container = main_container(out.of_kind("Deployment")[name])
        ref = env_source(container, "CCHC_KEYCLOAK_CLIENT_SECRET")["secretKeyRef"]
        assert ref["name"].startswith("cchc-secrets"), name  # dev's carries a hash suffix


# --- Network policies, evaluated as Kubernetes does -----------------------------------

def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector against a set of labels; {} selects everything."""
    selector = selector or {}
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


Pod = tuple[str, dict[str, str]]  # (namespace, labels)


def peer_matches(peer: dict[str, Any], policy_ns: str, pod: Pod) -> bool:
    namespace, labels = pod
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": namespace}
        if not selects(peer["namespaceSelector"], ns_labels):
            return False
    elif namespace != policy_ns:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], labels)


def port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    return not ports or any(p.get("protocol", "TCP") == protocol and p["port"] == port
                            for p in ports)


def allowed(policies: list[dict[str, Any]], direction: str, subject: Pod, other: Pod,
            port: int, protocol: str = "TCP") -> bool:
    """Whether ``subject`` may receive from (Ingress) or send to (Egress) ``other``."""
    namespace, labels = subject
    chosen = [p for p in policies if p["metadata"]["namespace"] == namespace
              and direction in p["spec"].get("policyTypes", ["Ingress"])
              and selects(p["spec"]["podSelector"], labels)]
    if not chosen:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in chosen:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(p, namespace, other) for p in peers)) and \
                    port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def pods_of(out: Rendered) -> dict[str, Pod]:
    return {name: (d["metadata"].get("namespace", "default"),
                   d["spec"]["template"]["metadata"]["labels"])
            for name, d in out.of_kind("Deployment").items()}


def test_network_policies_let_in_only_whom_each_pod_serves(rendered) -> None:
    overlay, out, _ = rendered
    policies = list(out.of_kind("NetworkPolicy").values())
    pods = pods_of(out)
    ns = pods["gateway"][0]
    for policy in policies:
        policy["metadata"].setdefault("namespace", ns)
    ingress_controller: Pod = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    prometheus: Pod = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
    stranger: Pod = ("default", {"app": "curl"})
    neighbour: Pod = (ns, {"app": "debug"})

    def ingress(to: str, source: Pod, port: int) -> bool:
        return allowed(policies, "Ingress", pods[to], source, port)

    assert ingress("gateway", ingress_controller, 8000)
    assert not ingress("gateway", stranger, 8000)
    assert not ingress("gateway", neighbour, 8000)
    assert ingress("identity", pods["gateway"], 8101)
    for name in SERVICES:
        assert not ingress(name, ingress_controller, PORTS[name]), name
        assert not ingress(name, stranger, PORTS[name]), name
        if name != "identity":
            assert not ingress(name, pods["gateway"], PORTS[name]), name
        assert not ingress("identity", pods[name], 8101), name
    # Whatever else runs in the namespace (a debug pod) is shut in both ways.
    assert not allowed(policies, "Ingress", neighbour, stranger, 8080)
    assert not allowed(policies, "Egress", neighbour, stranger, 5432)
    for name in pods:
        annotations = out.of_kind("Deployment")[name]["spec"]["template"]["metadata"][
            "annotations"]
        assert ingress(name, prometheus, int(annotations["prometheus.io/port"])), name


def test_network_policies_let_out_only_what_each_pod_needs(rendered) -> None:
    _, out, _ = rendered
    policies = list(out.of_kind("NetworkPolicy").values())
    pods = pods_of(out)
    for policy in policies:
        policy["metadata"].setdefault("namespace", pods["gateway"][0])
    broker: Pod = ("cchc-data", {"app.kubernetes.io/name": "rabbitmq"})
    database: Pod = ("cchc-data", {"app.kubernetes.io/name": "postgresql"})
    dns: Pod = ("kube-system", {"k8s-app": "kube-dns"})

    def egress(source: str, to: Pod, port: int, protocol: str = "TCP") -> bool:
        return allowed(policies, "Egress", pods[source], to, port, protocol)

    for name in pods:
        assert egress(name, broker, 5672), name
        assert egress(name, dns, 53, "UDP"), name
        assert not egress(name, broker, 6379), name
    for name in SERVICES:
        assert egress(name, database, 5432), name
    assert not egress("gateway", database, 5432)
    assert egress("gateway", pods["identity"], 8101)
    assert not egress("gateway", pods["submission"], 8103)


def test_broker_and_databases_let_in_only_the_system() -> None:
    out = Rendered(render("backing"))
    policies = list(out.of_kind("NetworkPolicy").values())
    assert {p["metadata"]["namespace"] for p in policies} == {"cchc-data"}
    deployments = Rendered(render("overlays/production")).of_kind("Deployment")
    pods = {name: ("cchc", d["spec"]["template"]["metadata"]["labels"])
            for name, d in deployments.items()}
    broker: Pod = ("cchc-data", {"app.kubernetes.io/name": "rabbitmq"})
    database: Pod = ("cchc-data", {"app.kubernetes.io/name": "postgresql"})
    store: Pod = ("cchc-data", {"app.kubernetes.io/name": "minio"})
    keda: Pod = ("keda", {"app": "keda-operator"})
    prometheus: Pod = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
    stranger: Pod = ("default", {"app": "curl"})

    def ingress(to: Pod, source: Pod, port: int) -> bool:
        return allowed(policies, "Ingress", to, source, port)

    for name, pod in pods.items():
        assert ingress(broker, pod, 5672), name
        assert ingress(database, pod, 5432) == (name in SERVICES), name
        assert ingress(store, pod, 9000) == (name in ("gateway", "evidence")), name
    assert ingress(broker, keda, 5672)
    assert ingress(broker, prometheus, 15692)
    assert not ingress(broker, prometheus, 5672)
    for target, port in ((broker, 5672), (database, 5432), (store, 9000)):
        assert not ingress(target, stranger, port)
        assert not ingress(target, ("cchc", {"app": "debug"}), port)


def test_production_refuses_development_defaults_and_every_process_has_the_actor_key(
    rendered,
) -> None:
    overlay, out, _ = rendered
    (config,) = out.of_kind("ConfigMap").values()
    assert config["data"].get("CCHC_ENV", "development") == (
        "production" if overlay == "overlays/production" else "development")
    for name, deployment in out.of_kind("Deployment").items():
        # The gateway signs actors with it and every service checks them.
        ref = env_source(main_container(deployment), "CCHC_ACTOR_SECRET")["secretKeyRef"]
        assert ref["name"].startswith("cchc-secrets") and not ref.get("optional"), name
