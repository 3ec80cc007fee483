#!/usr/bin/env bash
# The platform exports tested as Gradescope and PrairieLearn run them (run by `make test`
# after the compose smoke test): `gdlab export gradescope` and `gdlab export prairielearn`,
# each platform's image built once from python:3.11-slim (Gradescope's setup.sh, the
# question's own Dockerfile; gdlab's dependencies from the package index), and every case
# a container of it, its results.json checked against the platform's documented format.
# Images are tagged uniquely to this run and removed after (tests/deploy/platforms_flow.py).
#
#   tests/deploy/platforms_smoke.sh        (needs Docker; prepares it here when it can)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
source tests/deploy/docker_env.sh
docker_ensure "platforms smoke test" \
  "Install Docker and run \`make platforms-smoke\` to test the Gradescope and PrairieLearn exports."

finish() {
  status=$?
  docker_release
  echo "platforms smoke test: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - START)) s"
  exit $status
}
trap finish EXIT
"$PYTHON" -u -m tests.deploy.platforms_flow
