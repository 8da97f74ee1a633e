"""The image, built by `make image`, runs the whole system: readiness, a sign-in, a save.

Run by `make image-test` (a CI step of its own after `make test`: the build takes
minutes on a fresh machine). Every process runs in a container of the image with its
Deployment's command; see conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from services.common.contracts import SERVICES
from tests.image.conftest import IMAGE, ImageSystem, buildah_env, image_size
from tests.system import ROOT
from tests.test_submission import campaign, put  # noqa: F401 - fixtures

# The gate on size: python:3.11-slim plus our dependencies is about 450 MB; far more
# means something (the tests, a cache, the build tools) went into the image.
MAX_IMAGE_BYTES = 600 * 1024 * 1024


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def test_the_image_is_small_and_runs_as_the_pods_user() -> None:
    size = image_size()
    print(f"\n{IMAGE}: {size / 2**20:.0f} MiB ({size} bytes)")
    assert size < MAX_IMAGE_BYTES
    config = subprocess.run(["buildah", "inspect", "--type", "image", IMAGE],
                            env=buildah_env(), capture_output=True, text=True, check=True)
    oci = json.loads(config.stdout)["OCIv1"]["config"]
    assert oci["User"] == "10001"
    assert oci["WorkingDir"] == "/app"


def test_every_process_runs_inside_the_image(system: ImageSystem) -> None:
    assert set(system.processes) == set(SERVICES) | {"gateway"}
    for name, process in system.processes.items():
        assert process.poll() is None, name
        roots = {os.readlink(f"/proc/{pid}/root") for pid in descendants(process.pid)
                 if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/opt/venv/bin/")
                 or b"/opt/venv/bin/" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        assert roots and "/" not in roots, (name, roots)


def test_ready_and_measured_from_the_image(system: ImageSystem, http: httpx.Client) -> None:
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    for service in SERVICES:
        port = system.service_port(service)
        state = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert state.status_code == 200 and state.json()["database"] == "ok", service
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "cchc_outbox_pending_events" in metrics, service
    assert "cchc_http_requests_total" in http.get("/metrics").text


def test_sign_in_and_a_save_through_the_gateway_of_the_image(
    http: httpx.Client, make_user, unit, campaign  # noqa: F811 - fixtures
) -> None:
    code = unit()
    _, leader = make_user("unit_leader", unit_code=code)
    me = http.get("/api/v1/me", headers=leader)
    assert me.status_code == 200 and me.json()["unit_code"] == code
    created = campaign([code])
    aid = created[code]
    saved = put(http, aid, "1.1", {"option": "Đúng thời hạn",
                                   "explanation": "Kế hoạch số 12/KH-UBND, mục I"}, leader)
    assert saved.status_code == 200, saved.text
    assert saved.json()["totals"]["total"] == "2"
    stored = http.get(f"/api/v1/campaigns/{created['id']}/assessments/{code}", headers=leader)
    assert stored.status_code == 200, stored.text
    (entry,) = [e for e in stored.json()["entries"] if e["code"] == "1.1"]
    assert entry["self_score"] == "2" and entry["version"] == saved.json()["version"]
    # The summary to sign is drawn with the DejaVu fonts the image carries.
    pdf = http.get(f"/api/v1/assessments/{aid}/summary.pdf", headers=leader)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:300]
    assert b"DejaVuSans" in pdf.content


def test_the_readmes_first_administrator_command_runs_in_the_image(system: ImageSystem) -> None:
    # deploy/k8s/README.md step 10, as `kubectl exec deploy/identity` would run it.
    readme = (ROOT / "deploy" / "k8s" / "README.md").read_text()
    (code,) = re.findall(r"kubectl -n cchc exec deploy/identity -c identity -- python -c '"
                         r"(.*?)'\n", readme, re.S)
    result = subprocess.run(system.in_image("first-admin", ["python", "-c", code]),
                            env=buildah_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # The session's fixture made the administrator already: it is reported, not remade.
    assert "'username': 'admin'" in result.stdout and "'created': False" in result.stdout
