.PHONY: run test lint bench rush rush-mixed bench-evidence image image-test

run:  ## install what is missing and run the whole system locally
	bash scripts/run.sh

test:  ## install what is missing and run every test
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:  ## compare the gateway's async RPC client with a pool of nameko proxies (~30 s)
	bash scripts/bootstrap.sh
	.venv/bin/python bench/rpc_clients.py

CLIENTS ?= 20
UNITS ?= 100
SECONDS ?= 10
rush:  ## the deadline rush, system beside the baseline: make rush CLIENTS=200 UNITS=100 SECONDS=10
	bash scripts/bootstrap.sh --postgres
	.venv/bin/python bench/deadline_rush.py --clients $(CLIENTS) --units $(UNITS) --seconds $(SECONDS)

USERS ?= 50
rush-mixed:  ## the mixed rush with locust (saves, reads, 1 MB signed uploads, sending): make rush-mixed USERS=50 SECONDS=20
	bash scripts/bootstrap.sh --postgres
	.venv/bin/python bench/mixed_rush.py --users $(USERS) --seconds $(SECONDS)

bench-evidence:  ## signed 1 MB PDF uploads through the system vs a raw S3 PUT + check; saves beside them: make bench-evidence SECONDS=15
	bash scripts/bootstrap.sh --postgres
	.venv/bin/python bench/evidence_upload.py --seconds $(SECONDS)

image:  ## build the one image of every process with buildah (no Docker needed); prints its size
	bash scripts/image.sh

image-test: image  ## run the whole system from the image: readiness, a sign-in, a save
	bash scripts/test.sh --image
