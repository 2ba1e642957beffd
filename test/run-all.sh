#!/usr/bin/env bash
# Runs every test. Installs what the tests drive when it is missing (Debian/Ubuntu packages: curl, openssl, Chromium,
# NSS tools, Python's websocket-client and h2, htpasswd), then prints one closing line: "tests: N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
/usr/bin/python3 -c 'import websocket' >/dev/null 2>&1 || need+=(python3-websocket)
/usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || need+=(python3-h2)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates >/dev/null
fi

rm -rf TestResults
status=0
dotnet test ProxTunnel.sln -c Release --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
  --results-directory TestResults "$@" || status=$?

passed=0; failed=0; skipped=0
for trx in TestResults/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
if [ "$passed" = 0 ] && [ "$failed" = 0 ] && [ "$status" != 0 ]; then failed=1; fi
line="tests: $passed passed, $failed failed"
[ "$skipped" != 0 ] && line="$line, $skipped skipped"
echo "$line"
exit "$status"
