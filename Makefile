.PHONY: run test lint bench image image-test

run:  ## install what is missing and run the whole system locally
	bash scripts/run.sh

test:  ## install what is missing and run every test
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:  ## compare the gateway's async RPC client with a pool of nameko proxies (~30 s)
	bash scripts/bootstrap.sh
	.venv/bin/python bench/rpc_clients.py

image:  ## build the one image of every process with buildah (no Docker needed); prints its size
	bash scripts/image.sh

image-test: image  ## run the whole system from the image: readiness, a sign-in, a save
	bash scripts/test.sh --image
