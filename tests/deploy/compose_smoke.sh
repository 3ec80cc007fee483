#!/usr/bin/env bash
# The compose smoke test (run by `make test`): build and start docker-compose.yml as an
# instructor would, from no gdlab image at all (the stack is built under a tag unique to
# this run, which must not exist before `up` and is removed after, so a leftover image can
# never make it pass) with two queue workers, run the student flow against it, prove the
# sandbox container has no network, queue a load and kill one worker mid-job, restart the
# stack and find every submission graded, the earlier ones and the whole load, then remove
# everything.
#
#   tests/deploy/compose_smoke.sh        (needs Docker; prepares it here when it can)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
# The rest of `make test` has run; this part needs a Docker engine and compose, which pip
# cannot install. CI must run it, so there the absence is a failure.
source tests/deploy/docker_env.sh
docker_ensure "compose smoke test" \
  "Install Docker and compose (v2 or v1) and run \`make compose-smoke\` to test the deployment."

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=(docker-compose)
fi
PROJECT=gdlabsmoke$$
export GDLAB_IMAGE=gdlab-smoke-$$-$RANDOM:latest
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
STATE=$(mktemp)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export GDLAB_PORT=$PORT GDLAB_INSTRUCTOR_TOKEN=smoke-test-instructor-token-0123456789
# the stores' ports on this machine: free ones (a PostgreSQL or Redis may run here already)
export GDLAB_POSTGRES_PORT=$(free_port) GDLAB_REDIS_PORT=$(free_port)
export POSTGRES_PASSWORD=smoke-pg-$RANDOM$RANDOM REDIS_PASSWORD=smoke-redis-$RANDOM$RANDOM
WORKERS=2
LOAD=${SMOKE_LOAD:-40}
compose() { "${COMPOSE[@]}" -p "$PROJECT" "$@"; }

cleanup() {
  status=$?
  if [ $status -ne 0 ]; then
    echo "--- logs ---"; compose logs --tail 40 || true
  fi
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  docker image rm -f "$GDLAB_IMAGE" >/dev/null 2>&1 || true
  rm -f "$STATE"
  docker_release
  echo "compose smoke test: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - START)) s"
  exit $status
}
trap cleanup EXIT

wait_healthy() {
  for _ in $(seq 120); do
    if "$PYTHON" -c "import requests, sys; sys.exit(requests.get('$URL/health', timeout=2).json()['status'] != 'ok')" 2>/dev/null; then
      echo "ok  the stack is healthy at $URL"; return 0
    fi
    sleep 1
  done
  echo "the stack did not become healthy"; return 1
}

if docker image inspect "$GDLAB_IMAGE" >/dev/null 2>&1; then
  echo "the image $GDLAB_IMAGE exists before the build: this run would not start from zero"
  exit 1
fi
echo "--- ${COMPOSE[*]} up -d --build --scale worker=$WORKERS, from no image ($PROJECT on port $PORT, image $GDLAB_IMAGE)"
compose up -d --build --scale worker=$WORKERS
for container in $(compose ps -q web sandbox worker); do
  used=$(docker inspect -f '{{.Config.Image}}' "$container")
  [ "$used" = "$GDLAB_IMAGE" ] || { echo "$container runs $used, not the image just built"; exit 1; }
done
[ "$(compose ps -q worker | wc -l)" -eq $WORKERS ] || { echo "not $WORKERS workers"; exit 1; }
echo "ok  web, sandbox and $WORKERS workers run the image built by this run"
for service in postgres redis; do
  image=$(docker inspect -f '{{.Config.Image}}' "$(compose ps -q $service)")
  echo "ok  $service runs $image"
done
wait_healthy
"$PYTHON" tests/deploy/smoke_flow.py submit "$URL" "$STATE"

echo "--- the sandbox container has no network"
SANDBOX=$(compose ps -q sandbox)
docker exec "$SANDBOX" python -c '
import socket
names = sorted(name for _, name in socket.if_nameindex())
assert names == ["lo"], f"interfaces: {names}"
for address in [("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection(address, timeout=3)
    except OSError:
        continue
    raise SystemExit(f"connected to {address}")
print("ok  the sandbox container has only a loopback interface and reaches nothing")'
docker inspect -f '{{.HostConfig.NetworkMode}} {{.HostConfig.ReadonlyRootfs}}' "$SANDBOX" \
  | grep -x "none true" >/dev/null && echo "ok  network_mode none, read-only root"

echo "--- an instructor checks an exercise inside the deployment (jobs go to the sandbox container)"
# in a worker: web has no sandbox (it only queues)
compose exec -T worker gdlab exercises check gd | tail -1 | grep "all good" >/dev/null \
  && echo "ok  gdlab exercises check gd, in a worker container"
compose exec -T web sh -c 'test -z "${GDLAB_SANDBOX_SOCKET:-}" && test ! -S /run/gdlab/sandbox.sock' \
  || { echo "the web container has a sandbox socket"; exit 1; }
echo "ok  the web container has no sandbox socket"

echo "--- $LOAD submissions queued; one worker killed mid-job"
"$PYTHON" tests/deploy/smoke_flow.py load "$URL" "$STATE" "$LOAD"
# sed reads all of its input: with pipefail, `head -1` could end `compose ps` by SIGPIPE
VICTIM=$(compose ps -q worker | sed -n 1p)
docker kill "$VICTIM" >/dev/null
echo "ok  killed worker container ${VICTIM:0:12} (SIGKILL) while it graded"

echo "--- restart the stack: the volumes keep the submissions and the queue"
compose down
compose up -d --scale worker=$WORKERS
wait_healthy
"$PYTHON" tests/deploy/smoke_flow.py check "$URL" "$STATE"
"$PYTHON" tests/deploy/smoke_flow.py drain "$URL" "$STATE"
