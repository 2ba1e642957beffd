#!/usr/bin/env bash
# Regenerates src/ProxTunnel/PublicAPI.Shipped.txt from what the compiler sees as public, using the PublicApiAnalyzers'
# own diagnostics: RS0016 names each public symbol missing from the files, RS0017 each listed symbol that is gone.
# Run it after merging a branch that changed the public surface, review `git diff src/ProxTunnel/PublicAPI.*.txt`
# (every line is a promise for all 1.x releases), and commit. PublicAPI.Unshipped.txt is left empty.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/src/ProxTunnel"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

build() {
    # --no-incremental: an up-to-date build would skip the compiler and report nothing.
    dotnet build "$dir/ProxTunnel.csproj" -c Release --no-incremental -nologo -v:q -clp:NoSummary \
        -p:TreatWarningsAsErrors=false -p:WarningsAsErrors= >"$log" 2>&1 || true
}

build
python3 - "$dir" "$log" <<'PY'
import re, sys
directory, log = sys.argv[1], sys.argv[2]
header = "#nullable enable"
text = open(log, encoding="utf-8").read()
added = set(re.findall(r"RS0016: Symbol '(.*?)' is not part of the declared public API", text))
removed = set(re.findall(r"RS0017: Symbol '(.*?)' is part of the declared API", text))

def lines(name):
    with open(f"{directory}/{name}", encoding="utf-8") as f:
        return {l.rstrip("\n") for l in f if l.strip() and l.strip() != header}

api = (lines("PublicAPI.Shipped.txt") | lines("PublicAPI.Unshipped.txt") | added) - removed
# RS0017 names a symbol without its *REMOVED* marker; drop any such entries too.
api = {l for l in api if not l.startswith("*REMOVED*")}
with open(f"{directory}/PublicAPI.Shipped.txt", "w", encoding="utf-8", newline="\n") as f:
    f.write(header + "\n" + "".join(l + "\n" for l in sorted(api, key=str.lower)))
with open(f"{directory}/PublicAPI.Unshipped.txt", "w", encoding="utf-8", newline="\n") as f:
    f.write(header + "\n")
print(f"PublicAPI.Shipped.txt: {len(api)} symbols (+{len(added)} -{len(removed)})")
PY

# Verify: a second build must report no public-API diagnostic at all.
build
if grep -E "RS00[0-9]{2}" "$log" | sort -u | grep .; then
    echo "public API files still disagree with the code (see above)" >&2
    exit 1
fi
