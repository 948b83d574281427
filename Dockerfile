# syntax=docker/dockerfile:1
# interconnect-operator image: a wheel built in one stage, installed with its
# hash-locked dependencies into a virtualenv, copied into a slim runtime that
# runs as a non-root user.
#
#   make image            (buildah, podman or docker, whichever is installed)
#   docker build -t interconnect-operator:dev .
#
# Every Python package comes from requirements/runtime.txt (and the build
# backend from requirements/build.txt) with `--require-hashes`: pip refuses a
# file whose sha256 is not in the lock. The image carries no `kubernetes`
# package (kopf logs in with its own readers in-cluster; see
# k8s/kube.py) and no simulator web stack.
#
# Base image by digest: pass the digest of the tag below as PYTHON_DIGEST
# (`skopeo inspect docker://docker.io/library/python:3.11-slim-bookworm`, or
# `docker buildx imagetools inspect ...`). Releases must set it; the project's
# own machines reach only package registries, no container registry, so no
# digest could be read or verified there and none is written here.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
ARG PYTHON_DIGEST=""

FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST} AS build
# Behind a TLS-inspecting proxy: mount its CA bundle into the build and name
# it here (`--build-arg PIP_CERT=/path --volume /path:/path:ro`); pip reads it
# from the environment. Nothing of it reaches the runtime stage.
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The locks first: dependency layers survive edits to the code.
COPY requirements/runtime.txt requirements/build.txt requirements/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements/runtime.txt
# Only what the wheel needs, so edits to tests or docs keep the layer cache.
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps /wheels/interconnect_operator-*.whl \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST} AS runtime
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
LABEL org.opencontainers.image.title="interconnect-operator" \
      org.opencontainers.image.description="Kubernetes operator for private cross-cloud links over the Connection Coordinator API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/interconnect-operator/interconnect-operator" \
      org.opencontainers.image.url="https://github.com/interconnect-operator/interconnect-operator" \
      org.opencontainers.image.documentation="https://github.com/interconnect-operator/interconnect-operator#readme" \
      org.opencontainers.image.vendor="interconnect-operator maintainers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}" \
      org.opencontainers.image.base.digest="${PYTHON_DIGEST}"
ENV PATH=/opt/venv/bin:$PATH \
    INTERCONNECT_OPERATOR_REVISION=${REVISION} \
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
