#!/usr/bin/env bash
# The browser of tests/browser: Debian's chromium (and the libatomic that Playwright's
# driver needs), installed with apt-get only when missing. Playwright drives it through
# executable_path, so `playwright install` (a browser download) is never run. `make test` calls this first.
# Without root (or password-less sudo) it says what to run, and fails.
set -euo pipefail
packages=""
[ -x /usr/bin/chromium ] || packages="chromium chromium-driver"
# Playwright's driver is a Node.js build that needs libatomic (absent from slim images)
if ! ldconfig -p 2>/dev/null | grep -q 'libatomic\.so\.1'; then
    packages="$packages libatomic1"
fi
if [ -z "$packages" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "The browser tests need Debian's packages$packages, which are not installed, and" >&2
    echo "installing them needs root. Run this once, then make test again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$packages" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The browser tests need chromium at /usr/bin/chromium (and libatomic), and this" >&2
    echo "machine has no apt-get to install them with: install them from your system's" >&2
    echo "packages." >&2
    exit 1
fi
echo "installing Debian's$packages for the browser tests (once)..."
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
# shellcheck disable=SC2086
"${run[@]}" apt-get install -y -qq $packages >/dev/null
test -x /usr/bin/chromium
