.PHONY: run test lint bench

run:  ## install what is missing and run the whole system locally
	bash scripts/run.sh

test:  ## install what is missing and run every test
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:  ## compare the gateway's async RPC client with a pool of nameko proxies (~30 s)
	bash scripts/bootstrap.sh
	.venv/bin/python bench/rpc_clients.py
