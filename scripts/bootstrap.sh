#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine and starts the broker
# (and, with --postgres, the database server) when they are not running.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pg=0
[[ "${1:-}" == "--postgres" ]] && want_pg=1

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
    if [[ $apt_updated -eq 0 ]]; then as_root apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- Python 3.11 and the virtual environment -----------------------------------
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            PY=$cand; break
        fi
    done
fi
if [[ -z "$PY" ]]; then
    log "installing Python 3.11"
    apt_install python3.11 python3.11-venv
    PY=python3.11
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
    log "creating .venv with $("$PY" --version) and the pinned dependencies"
    "$PY" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# --- Fonts for Vietnamese PDFs (the summary to sign) ----------------------------
if [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
    log "installing the DejaVu fonts"
    apt_install fonts-dejavu-core
fi

# --- Chromium for the browser tests (Playwright cannot download browsers here) --
if [[ $want_pg -eq 1 && ! -x /usr/bin/chromium ]]; then
    log "installing Debian's chromium for the browser tests"
    apt_install chromium
fi

# --- RabbitMQ ------------------------------------------------------------------
rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! rabbit_up; then
    if ! command -v rabbitmq-server >/dev/null; then
        log "installing RabbitMQ"
        apt_install rabbitmq-server
    fi
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
    for _ in $(seq 1 60); do rabbit_up && break; sleep 1; done
    rabbit_up || { echo "RabbitMQ did not start" >&2; exit 1; }
fi
# The broker's own metrics (queue depths, for the rpc-submission alert and dashboard) on
# 15692, as a province enables them on theirs; enabling a plugin does not restart it.
if ! (exec 3<>/dev/tcp/127.0.0.1/15692) 2>/dev/null; then
    log "enabling RabbitMQ's Prometheus endpoint"
    as_root rabbitmq-plugins -q enable rabbitmq_prometheus >/dev/null || true
fi

# --- Prometheus and promtool (tests of the scrape, the alert rules, the dashboard) ----
if ! command -v promtool >/dev/null; then
    log "installing Prometheus"
    apt_install --no-install-recommends prometheus
fi

# --- PostgreSQL (tests and production-like runs) -------------------------------
if [[ $want_pg -eq 1 ]]; then
    pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
    if ! pg_up; then
        if ! command -v pg_ctlcluster >/dev/null; then
            log "installing PostgreSQL"
            apt_install postgresql
        fi
        log "starting PostgreSQL"
        ver=$(ls /etc/postgresql | sort -V | tail -1)
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
        for _ in $(seq 1 60); do pg_up && break; sleep 1; done
        pg_up || { echo "PostgreSQL did not start" >&2; exit 1; }
    fi
    # A fresh Debian cluster asks for a password on TCP; give postgres the one tests use.
    if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
        as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
    fi
fi
