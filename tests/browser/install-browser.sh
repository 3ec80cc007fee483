#!/usr/bin/env bash
# The browser of tests/browser: Debian's chromium, installed with apt-get only when
# /usr/bin/chromium is missing. Playwright drives it through executable_path, so
# `playwright install` (a browser download) is never run. `make test` calls this first.
# Without root (or password-less sudo) it says what to run, and fails.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
packages="chromium chromium-driver"
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "The browser tests need Debian's chromium, which is not installed, and installing" >&2
    echo "it needs root. Run this once, then make test again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y $packages" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser tests need chromium at /usr/bin/chromium, and this machine has no" >&2
    echo "apt-get to install it with: install chromium from your system's packages." >&2
    exit 1
fi
echo "installing Debian's chromium for the browser tests (once)..."
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
# shellcheck disable=SC2086
"${run[@]}" apt-get install -y -qq $packages >/dev/null
test -x /usr/bin/chromium
