#!/usr/bin/env bash
# Installs what is missing, migrates, starts the six services and the gateway under
# scripts/supervise.py (a crashed process is restarted, the others keep running), loads
# the demo data and prints where to open it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONWARNINGS="ignore::DeprecationWarning"
# The gateway's port comes from the caller's PORT.
export CCHC_GATEWAY_PORT="${PORT:-8000}"
python -m services.common.migrate
exec python scripts/supervise.py -f Procfile
