#!/usr/bin/env bash
# Build the operator image with buildah (no Docker engine needed) and run the
# e2e smoke test (tests/e2e/test_operator_smoke.py) with the operator inside
# it, against the rig's real kube-apiserver and simulators.
#
#   bash hack/image-smoke.sh            (root; installs buildah/debootstrap with apt)
#
# Where no container registry is reachable, the base image is made from
# Debian's own packages (debootstrap bookworm + python3.11, the same Python
# minor as python:3.11-slim-bookworm) and passed as PYTHON_IMAGE; with
# ICO_BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm the real base is
# pulled instead. Containers run with chroot isolation (BUILDAH_ISOLATION):
# the OCI runtimes need namespaces that unprivileged sandboxes often lack.
# ICO_PIP_CERT names a CA bundle for a TLS-inspecting proxy (mounted into the
# build; see the Dockerfile).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ICO_CACHE:-$REPO/.cache}"
IMAGE="${IMAGE:-localhost/interconnect-operator:smoke}"
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}" STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
start=$(date +%s)
say() { echo "image-smoke: [$(( $(date +%s) - start ))s] $*" >&2; }
log="$CACHE/logs/image-smoke.log"
mkdir -p "$(dirname "$log")"

need=()
command -v buildah >/dev/null || need+=(buildah)
[[ -n "${ICO_BASE_IMAGE:-}" ]] || command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >>"$log" 2>&1
  say "installed ${need[*]}"
fi

base="${ICO_BASE_IMAGE:-}"
if [[ -z "$base" ]]; then
  base=localhost/debian-python:3.11-bookworm
  if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$rootfs" http://deb.debian.org/debian >>"$log" 2>&1
    ctr="$(buildah from scratch)"
    cp -a "$rootfs/." "$(buildah mount "$ctr")/"
    buildah umount "$ctr" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    buildah commit -q "$ctr" "$base" >/dev/null
    buildah rm "$ctr" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    say "base image $base made from Debian bookworm packages"
  fi
fi

args=(--layers=false -t "$IMAGE" --build-arg "PYTHON_IMAGE=$base" --build-arg "REVISION=$(git -C "$REPO" rev-parse HEAD)")
if [[ -n "${ICO_PIP_CERT:-}" ]]; then
  args+=(--build-arg PIP_CERT=/etc/ssl/certs/build-ca.crt --volume "$ICO_PIP_CERT:/etc/ssl/certs/build-ca.crt:ro")
fi
buildah bud "${args[@]}" -f "$REPO/Dockerfile" "$REPO" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
say "image $IMAGE built"

ctr="$(buildah from "$IMAGE")"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
# Same paths inside: the rig's kubeconfigs live under /tmp (root-only files,
# hence root in the container for this test).
export ICO_OPERATOR_COMMAND="buildah run --isolation $BUILDAH_ISOLATION --user 0:0 -v /tmp:/tmp $ctr -- interconnect-operator"
cd "$REPO"
"${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider tests/e2e/test_operator_smoke.py
say "the operator in $IMAGE passed the e2e smoke test"
