#!/usr/bin/env bash
# The main job until the runbook demo exists: sets up opsbook (system packages, npm ci, build, kernelspec for
# this user) and runs notebooks/hello.ipynb headless with nbconvert, printing where the result is.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/support/install-system-deps.sh
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run build --silent
node dist/kernel/cli.js install --user
out="${OPSBOOK_DEMO_OUT:-$PWD/test-results/demo}"
mkdir -p "$out"
/usr/bin/python3 -m nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=opsbook \
  --output-dir "$out" --output hello.executed.ipynb notebooks/hello.ipynb
/usr/bin/python3 -m nbconvert --to html --output-dir "$out" --output hello.executed.html "$out/hello.executed.ipynb" >/dev/null 2>&1 || true
echo
echo "Executed notebook: $out/hello.executed.ipynb"
[ -f "$out/hello.executed.html" ] && echo "HTML report:       $out/hello.executed.html"
