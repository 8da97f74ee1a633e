#!/usr/bin/env bash
# Installs what is missing, makes sure RabbitMQ and PostgreSQL are up, and runs every
# test: the services' unit tests (under eventlet), the gateway's (asyncio) and the
# cross-service tests that start the real processes. Exits non-zero when a test
# fails or when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --postgres || exit 1
export PATH="$PWD/.venv/bin:$PATH"

# Tests get a broker virtual host, databases and ports of their own, so a `make run`
# beside them is untouched; CCHC_TEST_SLOT separates test runs that share a machine.
export CCHC_TEST_SLOT="${CCHC_TEST_SLOT:-0}"
vhost="cchc-test-$CCHC_TEST_SLOT"
if command -v rabbitmqctl >/dev/null; then
    rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null 2>&1 || true
    # The SQLite twin of the system (tests/system.py, backend="sqlite") has its own.
    rabbitmqctl -q add_vhost "$vhost-sqlite" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "$vhost-sqlite" guest '.*' '.*' '.*' >/dev/null 2>&1 || true
fi
export CCHC_TEST_AMQP_URI="${CCHC_TEST_AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/$vhost}"
export CCHC_TEST_PG="${CCHC_TEST_PG:-postgresql+psycopg2://postgres:postgres@127.0.0.1:5432}"

# `--image` (make image-test): only the system run from the built image, a CI step of
# its own after this script since the build takes minutes on a fresh machine.
suites=(services gateway tests)
skip=(--ignore=tests/image)
if [[ "${1:-}" == "--image" ]]; then
    shift
    suites=(tests/image)
    skip=()
fi

mkdir -p var/test-reports
rm -f var/test-reports/*.xml
status=0
ruff check . || status=1
# Each suite in its own interpreter: the services' run is monkey-patched by eventlet,
# the gateway's and the cross-service ones must not be.
for suite in "${suites[@]}"; do
    if [[ $suite == services ]]; then
        plugin=(--suppress-nameko-eventlet-notification)
    else
        plugin=(-p no:pytest_nameko)
    fi
    pytest -q -p no:cacheprovider "${plugin[@]}" "$suite" "${skip[@]}" \
        --junitxml="var/test-reports/${suite//\//-}.xml" "$@"
    rc=$?
    [[ $rc -ne 0 ]] && status=$rc
done
python scripts/test_summary.py var/test-reports/*.xml || status=1
exit $status
