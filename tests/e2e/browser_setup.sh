#!/usr/bin/env bash
# Idempotent setup for the browser test (tests/e2e): makes sure Debian's `chromium` is installed.
# Does nothing when /usr/bin/chromium exists; otherwise installs it with apt-get (as root, or via sudo),
# running `apt-get update` first only when apt does not know a candidate for the package yet.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi
if [[ "$(uname -s)" != Linux ]]; then
    echo "[browser_setup] not Linux: the browser test (tests/e2e) skips itself here"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "[browser_setup] $CHROMIUM is missing and we are not root (no sudo): install Debian's 'chromium'" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "[browser_setup] $CHROMIUM is missing and apt-get is not available: install Chromium and set CHROMIUM" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet on success; the whole apt output is shown when a step fails.
quiet() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "[browser_setup] failed: $*" >&2; exit 1; }; }
install_chromium() { "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation; }
candidate=$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')
updated=0
if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
    echo "[browser_setup] apt-get update (apt knows no chromium package yet)"
    quiet "${SUDO[@]}" apt-get update -qq
    updated=1
fi
echo "[browser_setup] installing Debian's chromium (first run only)"
if ! install_chromium >"$log" 2>&1; then
    if [[ $updated -eq 1 ]]; then
        cat "$log" >&2
        echo "[browser_setup] failed: apt-get install chromium" >&2
        exit 1
    fi
    echo "[browser_setup] install failed with the current package lists: apt-get update, then retry"
    quiet "${SUDO[@]}" apt-get update -qq
    quiet install_chromium
fi
if [[ ! -x "$CHROMIUM" ]]; then
    echo "[browser_setup] apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
echo "[browser_setup] $("$CHROMIUM" --version 2>/dev/null || echo chromium) ready"
