# syntax=docker/dockerfile:1
# interconnect-operator image: a wheel built in one stage, installed into a
# virtualenv, copied into a slim runtime that runs as a non-root user.
#
#   docker build -t interconnect-operator:dev .
#
# Pin the base by digest for releases: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the wheel needs, so edits to tests or docs keep the layer cache.
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /wheels/interconnect_operator-*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="interconnect-operator" \
      org.opencontainers.image.description="Kubernetes operator for private cross-cloud links" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Same base image in both stages, so the venv's interpreter path is valid here.
COPY --from=build /opt/venv /opt/venv
# 65532 is the conventional "nonroot" UID/GID; the chart's securityContext
# runs as it too. No home directory or shell login is needed.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["interconnect-operator"]
CMD ["run"]
