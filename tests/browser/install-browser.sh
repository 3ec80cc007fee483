#!/usr/bin/env bash
# The browser of tests/browser: Debian's chromium (and its chromedriver), installed with
# apt-get only if /usr/bin/chromium is missing. Playwright drives it through
# executable_path; `playwright install` (a browser download) is never run.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium chromium-driver >/dev/null
test -x /usr/bin/chromium
