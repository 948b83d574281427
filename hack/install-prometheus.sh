#!/usr/bin/env bash
# Make `promtool` and the `prometheus` server available for tests:
#   - promtool: `check metrics` on the operator's scrape, `check rules` and
#     `test rules` on deploy/prometheus/alerts*.yaml (tests/unit/metrics/);
#   - prometheus: the e2e test that scrapes the running operator.
#
# Idempotent: when both commands are already on PATH nothing is installed.
# Otherwise Debian's `prometheus` package (it ships both binaries) is installed
# with apt-get, the only channel this project uses for non-Python tools besides
# the Go module proxy. Installing the package must not leave a Prometheus
# daemon running on the machine (it would hold :9090 and scrape nothing
# useful), so service starts are denied with a temporary policy-rc.d
# (invoke-rc.d honours exit code 101 = "action forbidden") and any daemon
# that started anyway is stopped and disabled.
#
# The last two lines printed are `promtool=<path>` and `prometheus=<path>`.
set -euo pipefail

have_tools() { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; }

if ! have_tools; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "install-prometheus: promtool/prometheus missing and not root; install Debian's 'prometheus' package" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive

  # Deny service starts during the install; restore whatever policy was there.
  policy=/usr/sbin/policy-rc.d
  backup=""
  if [[ -e "$policy" ]]; then
    backup="$(mktemp)"
    cp -p "$policy" "$backup"
  fi
  restore_policy() {
    if [[ -n "$backup" ]]; then
      cp -p "$backup" "$policy" && rm -f "$backup"
    else
      rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# install-prometheus.sh: no service starts during install\nexit 101\n' >"$policy"
  chmod 0755 "$policy"

  # An empty or stale package list makes the install fail with "unable to
  # locate package": refresh once and retry.
  if ! apt-get install -y -q --no-install-recommends prometheus; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends prometheus
  fi

  restore_policy
  trap - EXIT

  # Belt and braces: if a daemon started despite the policy (e.g. systemd
  # running as init), stop and disable it.
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/prometheus ]]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
fi

if ! have_tools; then
  echo "install-prometheus: promtool or prometheus still not on PATH after install" >&2
  exit 1
fi

promtool --version 2>&1 | head -n 1 >&2
echo "promtool=$(command -v promtool)"
echo "prometheus=$(command -v prometheus)"
