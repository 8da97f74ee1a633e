# One image for every process of the system; the command picks which one runs:
#   python -m services.common.run <service>     one of the six nameko services
#   python -m services.common.migrate <service> its Alembic migrations (an initContainer)
#   uvicorn gateway.app:app --host 0.0.0.0 --port 8000   the gateway (the default)
# deploy/k8s/ runs it as user 10001 with a read-only root filesystem.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
COPY pyproject.toml ./
COPY services ./services
COPY gateway ./gateway
COPY data ./data
# Editable: Alembic finds each service's migrations/ beside its code, which a wheel would
# leave behind; the tree and the venv are copied to the same paths below.
RUN /opt/venv/bin/pip install -e . \
 && find services gateway -type d -name tests -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /app /opt/venv

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CCHC_BIND_HOST=0.0.0.0
RUN groupadd --gid 10001 cchc && useradd --uid 10001 --gid 10001 --no-create-home cchc
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
EXPOSE 8000 8101 8102 8103 8104 8105 8106
CMD ["uvicorn", "gateway.app:app", "--loop", "uvloop", "--http", "httptools", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
