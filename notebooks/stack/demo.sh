#!/usr/bin/env bash
# The main job (README command one, `npm run demo`): on a fresh Debian/Ubuntu machine (root, or sudo for apt) it
# installs the missing system packages, runs `npm ci` if needed, builds, registers the kernel for this user, starts
# the local stack (notebooks/stack/stack.ts: Docker engine, base images, Prometheus, Pushgateway), then runs the runbook
# notebooks/deploy-and-monitor.ipynb headless with `opsbook run`, pushing the run's metrics to the Pushgateway, and
# prints where the executed notebook and its HTML report are (test-results/demo/, or $OPSBOOK_DEMO_OUT).
# Re-running is safe and fast: every step skips what is already done, and the stack reuses what still runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
step() { printf '\n==> %s\n' "$*"; }

step "system packages"
bash notebooks/stack/install-system-deps.sh --demo

step "npm dependencies and build"
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "node_modules up to date"
else
  npm ci --no-audit --no-fund
fi
# rebuild only when a source file is newer than the last build
if [ -f dist/kernel/cli.js ] && [ -f dist/notebooks/stack/stack.js ] && [ -z "$(find kernel magics notebooks/stack -name '*.ts' -newer dist/kernel/cli.js -print -quit)" ]; then
  echo "dist/ up to date"
else
  npm run build --silent
fi

step "kernelspec"
node dist/kernel/cli.js install --user

step "local stack (npm run stack:down stops it)"
if [ "$(id -u)" -ne 0 ] && ! timeout 5 docker info >/dev/null 2>&1; then
  echo "demo: the Docker engine does not answer, and only root can start dockerd: run as root (sudo -E npm run demo), or start Docker and add $(id -un) to the docker group" >&2
  exit 1
fi
stack_exports="$(node dist/notebooks/stack/stack.js up)"
eval "$stack_exports"

out="${OPSBOOK_DEMO_OUT:-$PWD/test-results/demo}"
mkdir -p "$out"
notebook=notebooks/deploy-and-monitor.ipynb
executed="$out/deploy-and-monitor.ipynb"
report="$out/deploy-and-monitor.html"

step "running $notebook headless (opsbook run)"
status=0
node dist/kernel/cli.js run "$notebook" "$executed" \
  -p service "$OPSBOOK_SERVICE" -p prometheus "$PROMETHEUS_URL" -p port "$OPSBOOK_APP_PORT" \
  --html "$report" --pushgateway "$OPSBOOK_PUSHGATEWAY_URL" --timeout 300 || status=$?

echo
if [ "$status" -eq 0 ]; then
  echo "The runbook ran: built and deployed the sample service, charted its traffic, refused an unhealthy version."
else
  echo "The runbook FAILED (opsbook run exit $status); the executed notebook shows the failing cell at the top."
fi
[ -f "$executed" ] && echo "Executed notebook: $executed"
[ -f "$report" ] && echo "HTML report:       $report"
echo "Service:           http://127.0.0.1:$OPSBOOK_APP_PORT/ ($OPSBOOK_SERVICE)"
echo "Prometheus:        $PROMETHEUS_URL   Pushgateway: $OPSBOOK_PUSHGATEWAY_URL"
echo "Next:              $stack_exports"
echo "                   then open notebooks/ in Jupyter (incident-triage, dora); npm run stack:down stops the stack"
echo "Took $(( $(date +%s) - started )) s."
exit "$status"
