#!/usr/bin/env bash
# Installs what is missing, migrates, starts the six services and the gateway under
# honcho, loads the demo data and prints where to open it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONWARNINGS="ignore::DeprecationWarning"
# honcho gives every process its own PORT; the gateway's comes from the caller's.
export CCHC_GATEWAY_PORT="${PORT:-8000}"
python -m services.common.migrate
exec honcho start -f Procfile
