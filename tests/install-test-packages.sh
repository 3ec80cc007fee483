#!/usr/bin/env bash
# The programs the tests run that pip cannot install, from Debian's packages, each
# installed with apt-get only when missing. `make test` calls this first.
#   chromium, chromium-driver  the browser tests' browser (Playwright drives it through
#                              executable_path: `playwright install` never downloads one)
#   libatomic1                 Playwright's bundled Node.js driver needs it (slim images
#                              lack it)
#   redis-server               the job-queue tests start Redis servers of their own
#   postgresql                 the service and integration suites also run on PostgreSQL:
#                              on the server at 127.0.0.1:5432 when one answers, otherwise
#                              on one the test run starts itself with initdb and pg_ctl
# Without root (or password-less sudo) it says what to run, and fails.
set -euo pipefail
packages=""
[ -x /usr/bin/chromium ] || packages="$packages chromium chromium-driver"
if ! ldconfig -p 2>/dev/null | grep 'libatomic\.so\.1' >/dev/null; then
    packages="$packages libatomic1"
fi
command -v redis-server >/dev/null 2>&1 || packages="$packages redis-server"
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    packages="$packages postgresql"
fi
if [ -z "$packages" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "The tests need Debian's packages$packages, which are not installed, and" >&2
    echo "installing them needs root. Run this once, then make test again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$packages" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The tests need$packages, and this machine has no apt-get to install them" >&2
    echo "with: install them from your system's packages." >&2
    exit 1
fi
echo "installing Debian's$packages for the tests (once)..."
export DEBIAN_FRONTEND=noninteractive
# another apt run (an unattended upgrade, a parallel set-up) may hold dpkg's lock: wait
# for it instead of failing the whole test run
lock_wait=(-o DPkg::Lock::Timeout=600)
"${run[@]}" apt-get "${lock_wait[@]}" update -qq
# shellcheck disable=SC2086
"${run[@]}" apt-get "${lock_wait[@]}" install -y -qq $packages >/dev/null
test -x /usr/bin/chromium
