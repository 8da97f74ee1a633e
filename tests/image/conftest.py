"""The whole system run from the built image, as the cluster runs it.

Every process is started with ``buildah run`` in a container of its own made from the
image (`make image`), with the command its Deployment in deploy/k8s/base gives it (the
migrate initContainers first), against this machine's broker and PostgreSQL on the test
slot's vhost, databases and ports. ``buildah run`` shares the host's network, so the
gateway in its container answers on 127.0.0.1. The fixtures of tests/conftest.py
(sign-in, accounts) then work unchanged against it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.contracts import SERVICES
from services.notify.devservers.smtp import DevSmtp
from services.notify.devservers.zns import DevZns
from tests.conftest import SYSTEM_ENV, notify_servers, running
from tests.system import ROOT, SLOT, System

IMAGE = os.environ.get("CCHC_IMAGE", "cchc:dev")
BASE = ROOT / "deploy" / "k8s" / "base"


def buildah_env() -> dict[str, str]:
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        # What scripts/image.sh writes: the default ulimits are not permitted here.
        env["CONTAINERS_CONF"] = str(ROOT / "var" / "image" / "containers.conf")
    return env


def manifest_commands() -> dict[str, dict[str, list[str]]]:
    """Per process, the commands its Deployment runs: ``migrate`` (init) and ``main``."""
    commands: dict[str, dict[str, list[str]]] = {}
    for path in sorted(BASE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            pod = doc["spec"]["template"]["spec"]
            found = {"main": pod["containers"][0]["command"]}
            for init in pod.get("initContainers", []):
                found[init["name"]] = init["command"]
            commands[doc["metadata"]["name"]] = found
    return commands


class ImageSystem(System):
    """tests.system.System, every process in a container of the image."""

    def __init__(self, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(log_dir, extra_env)
        self.commands = manifest_commands()
        self.containers: list[str] = []
        # Inside the containers: the slot's ports, loopback only (the ConfigMap's 0.0.0.0
        # would open them on every interface of this shared machine), data under /tmp.
        self.env["CCHC_BIND_HOST"] = "127.0.0.1"
        self.env["CCHC_DATA_DIR"] = "/tmp/cchc-data"
        self.buildah = shutil.which("buildah")
        assert self.buildah, "buildah is not installed: run `make image` first"

    def container_env(self) -> list[str]:
        flags = []
        for key, value in sorted(self.env.items()):
            if key.startswith("CCHC_") and not key.startswith("CCHC_TEST_"):
                flags += ["--env", f"{key}={value}"]
        return flags

    def new_container(self, name: str) -> str:
        container = f"cchc-t{SLOT}-{name}-{uuid.uuid4().hex[:6]}"
        subprocess.run([self.buildah, "from", "--quiet", "--name", container, IMAGE],
                       env=buildah_env(), check=True, capture_output=True, timeout=120)
        self.containers.append(container)
        return container

    def in_image(self, name: str, argv: list[str]) -> list[str]:
        return [self.buildah, "run", "--isolation", "chroot", *self.container_env(),
                self.new_container(name), "--", *argv]

    def _migrate(self) -> None:
        # Each service's initContainer command, in a container of its own.
        for service in SERVICES:
            result = subprocess.run(self.in_image(f"{service}-migrate",
                                                  self.commands[service]["migrate"]),
                                    env=buildah_env(), capture_output=True, text=True,
                                    timeout=180)
            assert result.returncode == 0, result.stdout + result.stderr

    def start_service(self, service: str) -> None:
        self._spawn(service, self.commands[service]["main"])

    def start_gateway(self) -> None:
        argv = []
        for arg in self.commands["gateway"]["main"]:
            if arg.startswith("--host="):
                arg = "--host=127.0.0.1"
            elif arg.startswith("--port="):
                arg = f"--port={self.gateway_port}"
            argv.append(arg)
        self._spawn("gateway", argv)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(
            self.in_image(name, argv), env=buildah_env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def stop(self) -> None:
        # buildah run ends its command when it is itself told to stop.
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.processes.clear()
        for container in self.containers:
            subprocess.run([self.buildah, "rm", container], env=buildah_env(),
                           capture_output=True, timeout=60)
        self.containers.clear()


def image_size() -> int:
    result = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", IMAGE],
                            env=buildah_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"no image {IMAGE}: run `make image` ({result.stderr})"
    return int(result.stdout.strip())


@pytest.fixture(scope="session")
def system(tmp_path_factory, smtp: DevSmtp, zns: DevZns) -> Iterator[Any]:
    image_size()
    system = ImageSystem(tmp_path_factory.mktemp("image-system"),
                         {**SYSTEM_ENV, **notify_servers(smtp, zns)})
    yield from running(system)
