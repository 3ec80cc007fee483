# Sourced by the Docker tests (compose_smoke.sh, platforms_smoke.sh), with ROOT set to the
# repository: makes a Docker engine answer where it can, and says how a test ends without
# one.
#   docker_ensure NAME HINT   returns when Docker answers; otherwise prints "NAME: NOT RUN"
#                             and HINT, and exits (status 1 under CI=true, where the test
#                             must run; 0 elsewhere, as the rest of `make test` has run)
#   docker_release            stops the engine docker_ensure started, if it started one
# This environment has no registry: where the project's machines keep a script that starts
# a Docker engine and builds local stand-ins for python:3.11-slim, postgres:15 and redis:7,
# it is run; elsewhere nothing is started.
LOCAL_BASE=$ROOT/../shared/tools/docker-local-base.sh
STARTED_DOCKER=0

docker_ensure() {
  if [ -f "$LOCAL_BASE" ]; then
    docker info >/dev/null 2>&1 || STARTED_DOCKER=1
    bash "$LOCAL_BASE" up
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "$1: NOT RUN: no Docker engine answers here (\`docker info\` fails)."
    echo "$2"
    [ "${CI:-}" = true ] && exit 1
    exit 0
  fi
}

docker_release() {
  if [ "$STARTED_DOCKER" = 1 ]; then bash "$LOCAL_BASE" down || true; fi
}
