# One image for every process of the system; the command picks which one runs:
#   python -m services.common.run <service>     one of the six nameko services
#   python -m services.common.migrate <service> its Alembic migrations (an initContainer)
#   uvicorn gateway.app:app --host 0.0.0.0 --port 8000   the gateway (the default)
# deploy/k8s/ runs it as user 10001 with a read-only root filesystem.
#
# BASE is any Debian-based image with Python 3.11 and its venv module:
# `python:3.11-slim` from a registry, or the base scripts/image.sh makes from Debian's own
# packages (mmdebstrap) on machines without a registry. `make image` builds it with buildah.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python3 -m venv /opt/venv
# The pinned dependencies first, in a layer of their own: it is rebuilt only when
# pyproject.toml changes, not on every change of the code.
# A network that inspects TLS needs its CA: scripts/image.sh mounts the build machine's
# bundle at /run/cchc-build/ca.crt for the build's RUN steps (nothing of it stays).
COPY pyproject.toml ./
RUN if [ -f /run/cchc-build/ca.crt ]; then export PIP_CERT=/run/cchc-build/ca.crt; fi \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && /opt/venv/bin/pip install -q -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY services ./services
COPY gateway ./gateway
COPY data ./data
# Editable: Alembic finds each service's migrations/ beside its code, which a wheel would
# leave behind; the tree and the venv are copied to the same paths below.
# pip itself goes once the install is done: nothing installs at run time.
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation -e . \
 && /opt/venv/bin/pip uninstall -q -y pip \
 && find services gateway -type d -name tests -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /app /opt/venv

FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CCHC_BIND_HOST=0.0.0.0
# The summary to sign is drawn in DejaVu Sans: the built-in PDF fonts lack ư, ạ, ắ.
RUN if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
        apt-get update -qq \
     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null \
     && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --gid 10001 cchc && useradd --uid 10001 --gid 10001 --no-create-home cchc
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
EXPOSE 8000 8101 8102 8103 8104 8105 8106
CMD ["uvicorn", "gateway.app:app", "--loop", "uvloop", "--http", "httptools", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
