"""One event fanned out to 5,000 people: how fast notify gets it to the servers.

Starts, each as its own process: a real ``notify`` service (its own PostgreSQL
database, or SQLite with ``--sqlite``; its own broker vhost ``cchc-bench-notify``)
and a stand-in ``identity`` service whose ``list_users`` answers 5,000 unit leaders
with an email and a Zalo number each (issuing 5,000 real accounts would measure
password hashing, not notifications). The development SMTP and ZNS servers run in
this process on loopback. It then publishes one ``appraisal.results_published`` for
the 5,000 units and prints: the time until the 5,000 notifications and 10,000
deliveries were recorded, and per channel the messages per second and the time until
the last one was accepted by its server.

    .venv/bin/python bench/notify_fanout.py [--recipients 5000] [--sqlite]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

VHOST = "cchc-bench-notify"
PG = os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432")
DB = "cchc_bench_notify"


def stand_in_identity(count: int) -> None:
    """The identity service's list_users, answering ``count`` unit leaders."""
    import eventlet

    eventlet.monkey_patch()
    from nameko.rpc import rpc
    from nameko.runners import ServiceRunner

    leaders = [{"username": f"ld{i:05d}", "full_name": f"Lãnh đạo đơn vị {i}",
                "email": f"ld{i:05d}@xa.gov.vn", "zalo_phone": f"0913{i:06d}",
                "roles": ["unit_leader"], "unit_code": f"U{i:05d}", "department_code": None,
                "must_change_password": False} for i in range(count)]

    class Identity:
        name = "identity"

        @rpc
        def list_users(self, unit_code=None, role=None, department_code=None):
            return [u for u in leaders if (unit_code is None or u["unit_code"] == unit_code)
                    and (role is None or role in u["roles"])]

    runner = ServiceRunner({"AMQP_URI": os.environ["CCHC_AMQP_URI"], "serializer": "json"})
    runner.add_service(Identity)
    runner.start()
    runner.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--sqlite", action="store_true", help="notify on SQLite instead")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    from nameko.standalone.events import event_dispatcher
    from sqlalchemy import create_engine, text

    from services.common.migrate import upgrade
    from services.notify.devservers.smtp import DevSmtp
    from services.notify.devservers.zns import DevZns

    amqp = os.environ.get("CCHC_BENCH_AMQP_URI", f"amqp://guest:guest@127.0.0.1:5672/{VHOST}")
    if "CCHC_BENCH_AMQP_URI" not in os.environ and shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", VHOST], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", VHOST, "guest", ".*",
                        ".*", ".*"], capture_output=True)
    folder = Path(tempfile.mkdtemp(prefix="cchc-bench-notify-"))
    if args.sqlite:
        url = f"sqlite:///{folder / 'notify.db'}"
    else:
        admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB}"'))
        admin.dispose()
        url = f"{PG}/{DB}"
    upgrade("notify", url)

    smtp = DevSmtp("127.0.0.1", free_port()).start()
    zns = DevZns("127.0.0.1", 0).start()
    env = {**os.environ, "CCHC_AMQP_URI": amqp, "CCHC_NOTIFY_DATABASE_URL": url,
           "CCHC_NOTIFY_PORT": str(free_port()), "CCHC_DATA_DIR": str(folder),
           "CCHC_SMTP_PORT": str(smtp.port),
           "CCHC_ZALO_API_URL": f"http://127.0.0.1:{zns.port}",
           "CCHC_ZALO_OAUTH_URL": f"http://127.0.0.1:{zns.port}",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    log = open(folder / "processes.log", "ab")  # noqa: SIM115 - lives with the processes
    processes = [
        subprocess.Popen([sys.executable, __file__, "--identity-stand-in",
                          str(args.recipients)], env=env, cwd=ROOT, stdout=log,
                         stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "services.common.run", "notify"], env=env,
                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT),
    ]
    engine = create_engine(url)
    try:
        time.sleep(4)  # both consumers declared and listening
        codes = [f"U{i:05d}" for i in range(args.recipients)]
        started = time.time()
        event_dispatcher({"AMQP_URI": amqp, "serializer": "json"})(
            "appraisal", "results_published", {
                "event_id": str(uuid.uuid4()), "campaign_id": 1,
                "name": "Đánh giá Chỉ số CCHC năm 2025", "year": 2025,
                "published_at": "2026-01-15T09:00:00+07:00", "unit_codes": codes})
        recorded = None
        deadline = started + args.timeout
        while time.time() < deadline:
            if recorded is None:
                with engine.connect() as conn:
                    n = conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
                if n >= 2 * args.recipients:
                    recorded = time.time() - started
            if len(smtp.messages) >= args.recipients and len(zns.messages) >= args.recipients:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"timed out: {len(smtp.messages)} mails, {len(zns.messages)} "
                             f"Zalo messages; log in {folder / 'processes.log'}")
        for _ in range(100):  # the last outcomes commit just after the servers' answers
            with engine.connect() as conn:
                failed = conn.execute(text(
                    "SELECT count(*) FROM deliveries WHERE status <> 'sent'")).scalar_one()
            if not failed:
                break
            time.sleep(0.05)
        print(f"backend: {'sqlite' if args.sqlite else 'postgresql'}; recipients: "
              f"{args.recipients}; one results_published event")
        print(f"notifications and deliveries recorded after {recorded:.2f} s")
        for channel, received in (("email", smtp.messages), ("zalo", zns.messages)):
            times = sorted(m["received_at"] for m in received)
            first, last = times[0] - started, times[-1] - started
            print(f"{channel:5}: {len(received)} accepted; first after {first:.2f} s, last "
                  f"after {last:.2f} s; {len(received) / last:.0f} msg/s from the event, "
                  f"{(len(received) - 1) / max(last - first, 1e-9):.0f} msg/s while sending")
        print(f"deliveries not sent: {failed}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()
        smtp.stop()
        zns.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--identity-stand-in":
        stand_in_identity(int(sys.argv[2]))
    else:
        main()
