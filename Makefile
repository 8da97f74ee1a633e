.PHONY: run test lint bench

run:  ## install what is missing and run the whole system locally
	bash scripts/run.sh

test:  ## install what is missing and run every test
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:
	.venv/bin/python bench/rpc_clients.py
