#!/usr/bin/env bash
# Build a real Kubernetes control plane for tests from published Go modules:
# kube-apiserver and kubectl (k8s.io/kubernetes + staging modules), etcd
# (go.etcd.io/etcd/server/v3), all pinned in hack/controlplane/go.mod, and
# helm (helm.sh/helm/v3, pinned below, built with `go install pkg@version`).
# Then the referees the tests consult: kstatus (hack/kstatus, a small main
# over sigs.k8s.io/cli-utils' status library) and helm-docs (the chart
# README's values table), each pinned the same way.
#
# Idempotent: when the binaries exist it only rewrites current.env (fast).
#
#   ${ICO_CACHE:-<repo>/.cache}/bin/k8s-<version>/{kube-apiserver,etcd,kubectl}
#   ${ICO_CACHE:-<repo>/.cache}/bin/helm-<version>/helm
#   ${ICO_CACHE:-<repo>/.cache}/bin/kstatus-<cli-utils version>-<source hash>/kstatus
#   ${ICO_CACHE:-<repo>/.cache}/bin/helm-docs-<version>/helm-docs
#   ${ICO_CACHE:-<repo>/.cache}/bin/current.env   (shell exports of the paths)
#
# The last line printed is the k8s bin dir.
# Env: ICO_CACHE, GO (go command), HELM_VERSION, HELM_DOCS_VERSION,
# ICO_FORCE_REBUILD=1, ICO_GO_LOG (where go's own output goes; default: stderr).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRAPPER="$REPO/hack/controlplane"
CACHE="${ICO_CACHE:-$REPO/.cache}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM_DOCS_VERSION="${HELM_DOCS_VERSION:-v1.14.2}"
KSTATUS_SRC="$REPO/hack/kstatus"

# Versions come from the wrapper module's go.mod (single source of truth).
modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$WRAPPER/go.mod"; }
K8S_VERSION="$(modver k8s.io/kubernetes)"
ETCD_VERSION="$(modver go.etcd.io/etcd/server/v3)"
if [[ -z "$K8S_VERSION" || -z "$ETCD_VERSION" ]]; then
  echo "build-controlplane: cannot read versions from $WRAPPER/go.mod" >&2
  exit 1
fi

K8S_DIR="$CACHE/bin/k8s-$K8S_VERSION"
HELM_DIR="$CACHE/bin/helm-$HELM_VERSION"
CLI_UTILS_VERSION="$(awk '$1 == "sigs.k8s.io/cli-utils" && $2 ~ /^v/ { print $2; exit }' "$KSTATUS_SRC/go.mod")"
KSTATUS_HASH="$(cat "$KSTATUS_SRC/main.go" "$KSTATUS_SRC/go.mod" "$KSTATUS_SRC/go.sum" | sha256sum | cut -c1-12)"
KSTATUS_DIR="$CACHE/bin/kstatus-$CLI_UTILS_VERSION-$KSTATUS_HASH"
HELM_DOCS_DIR="$CACHE/bin/helm-docs-$HELM_DOCS_VERSION"
ENV_FILE="$CACHE/bin/current.env"

write_env() {
  local tmp="$ENV_FILE.tmp.$$"
  cat >"$tmp" <<EOF
# Written by hack/build-controlplane.sh; source it to find the control plane.
export ICO_K8S_VERSION=$K8S_VERSION
export ICO_ETCD_VERSION=$ETCD_VERSION
export ICO_HELM_VERSION=$HELM_VERSION
export ICO_K8S_BIN_DIR=$K8S_DIR
export KUBE_APISERVER=$K8S_DIR/kube-apiserver
export ETCD=$K8S_DIR/etcd
export KUBECTL=$K8S_DIR/kubectl
export HELM=$HELM_DIR/helm
export KSTATUS=$KSTATUS_DIR/kstatus
export HELM_DOCS=$HELM_DOCS_DIR/helm-docs
EOF
  mv -f "$tmp" "$ENV_FILE"
}

have_all() {
  [[ -x "$K8S_DIR/kube-apiserver" && -x "$K8S_DIR/etcd" && -x "$K8S_DIR/kubectl" && -x "$HELM_DIR/helm" \
     && -x "$KSTATUS_DIR/kstatus" && -x "$HELM_DOCS_DIR/helm-docs" ]]
}

mkdir -p "$CACHE/bin"
if [[ "${ICO_FORCE_REBUILD:-0}" != 1 ]] && have_all; then
  write_env
  echo "$K8S_DIR"
  exit 0
fi

# One build at a time (pytest fixture and a shell may race).
exec 9>"$CACHE/bin/.build.lock"
flock 9
if [[ "${ICO_FORCE_REBUILD:-0}" != 1 ]] && have_all; then
  write_env
  echo "$K8S_DIR"
  exit 0
fi

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "build-controlplane: no go command found (set GO=...)" >&2; exit 1
  fi
fi

# v1.35.4 -> major 1, minor 35 (as kubernetes' hack/lib/version.sh does).
ver="${K8S_VERSION#v}"
GIT_MAJOR="${ver%%.*}"
rest="${ver#*.}"
GIT_MINOR="${rest%%.*}"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$GIT_MAJOR"
  LDFLAGS+=" -X $pkg.gitMinor=$GIT_MINOR -X $pkg.gitTreeState=clean"
  LDFLAGS+=" -X $pkg.buildDate=$BUILD_DATE"
done

start=$(date +%s)
GO_LOG="${ICO_GO_LOG:-}"
if [[ -n "$GO_LOG" ]]; then
  mkdir -p "$(dirname "$GO_LOG")"
  echo "build-controlplane: go's own output goes to $GO_LOG" >&2
fi
# Runs a go command; with ICO_GO_LOG its output (hundreds of "go: downloading"
# lines on a cold cache) goes to that file, and only its tail on failure.
run_go() {
  if [[ -z "$GO_LOG" ]]; then
    "$@"
    return
  fi
  if ! "$@" >>"$GO_LOG" 2>&1; then
    echo "build-controlplane: '$*' failed; last lines of $GO_LOG:" >&2
    tail -n 40 "$GO_LOG" >&2
    return 1
  fi
}
# One line per binary, with the time since the build started.
progress() { echo "build-controlplane: [$(( $(date +%s) - start ))s] $*" >&2; }
if [[ "${ICO_FORCE_REBUILD:-0}" == 1 ]] || ! [[ -x "$K8S_DIR/kube-apiserver" && -x "$K8S_DIR/etcd" && -x "$K8S_DIR/kubectl" ]]; then
  tmpdir="$(mktemp -d "$CACHE/bin/.k8s-build.XXXXXX")"
  trap 'rm -rf "$tmpdir"' EXIT
  echo "build-controlplane: building kube-apiserver, kubectl $K8S_VERSION and etcd $ETCD_VERSION (takes a while on a cold cache)" >&2
  (
    cd "$WRAPPER"
    run_go "$GO" build -mod=readonly -trimpath -ldflags "$LDFLAGS" -o "$tmpdir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    progress "kube-apiserver $K8S_VERSION built"
    run_go "$GO" build -mod=readonly -trimpath -ldflags "$LDFLAGS" -o "$tmpdir/kubectl" ./cmd/kubectl
    progress "kubectl $K8S_VERSION built"
    run_go "$GO" build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmpdir/etcd" go.etcd.io/etcd/server/v3
    progress "etcd $ETCD_VERSION built"
  )
  mkdir -p "$K8S_DIR"
  for b in kube-apiserver kubectl etcd; do mv -f "$tmpdir/$b" "$K8S_DIR/$b"; done
  rm -rf "$tmpdir"
  trap - EXIT
fi

if [[ "${ICO_FORCE_REBUILD:-0}" == 1 ]] || ! [[ -x "$HELM_DIR/helm" ]]; then
  tmpdir="$(mktemp -d "$CACHE/bin/.helm-build.XXXXXX")"
  trap 'rm -rf "$tmpdir"' EXIT
  # helm has no replace lines, so `go install pkg@version` works (outside
  # any module: GOFLAGS=-mod=... must not leak in).
  (
    cd "$tmpdir"
    GOBIN="$tmpdir" GOFLAGS= run_go "$GO" install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
      "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  )
  progress "helm $HELM_VERSION built"
  mkdir -p "$HELM_DIR"
  mv -f "$tmpdir/helm" "$HELM_DIR/helm"
  rm -rf "$tmpdir"
  trap - EXIT
fi

if [[ "${ICO_FORCE_REBUILD:-0}" == 1 ]] || ! [[ -x "$KSTATUS_DIR/kstatus" ]]; then
  tmpdir="$(mktemp -d "$CACHE/bin/.kstatus-build.XXXXXX")"
  trap 'rm -rf "$tmpdir"' EXIT
  ( cd "$KSTATUS_SRC" && run_go "$GO" build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmpdir/kstatus" . )
  progress "kstatus (sigs.k8s.io/cli-utils $CLI_UTILS_VERSION) built"
  mkdir -p "$KSTATUS_DIR"
  mv -f "$tmpdir/kstatus" "$KSTATUS_DIR/kstatus"
  rm -rf "$tmpdir"
  trap - EXIT
fi

if [[ "${ICO_FORCE_REBUILD:-0}" == 1 ]] || ! [[ -x "$HELM_DOCS_DIR/helm-docs" ]]; then
  tmpdir="$(mktemp -d "$CACHE/bin/.helm-docs-build.XXXXXX")"
  trap 'rm -rf "$tmpdir"' EXIT
  (
    cd "$tmpdir"
    GOBIN="$tmpdir" GOFLAGS= run_go "$GO" install -trimpath \
      -ldflags "-s -w -X main.version=${HELM_DOCS_VERSION#v}" \
      "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  )
  progress "helm-docs $HELM_DOCS_VERSION built"
  mkdir -p "$HELM_DOCS_DIR"
  mv -f "$tmpdir/helm-docs" "$HELM_DOCS_DIR/helm-docs"
  rm -rf "$tmpdir"
  trap - EXIT
fi

write_env
echo "build-controlplane: done in $(( $(date +%s) - start ))s" >&2
echo "$K8S_DIR"
