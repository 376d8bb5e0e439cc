#!/usr/bin/env bash
# Load figure for BENCHMARKS.md: POST /api/verify (checkpoint verification,
# no database on the path) against the release build of `healthcode demo` on
# loopback, measured by wrk with a Lua script rotating over thousands of
# distinct valid codes (not one cached string).
#
#   bench/verify-load.sh [seconds] [connections] [codes] [wrk threads]
#
# Needs wrk and curl. Prints wrk's latency distribution; run it three times
# and report the median.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
conns=${2:-64}
ncodes=${3:-2000}
threads=${4:-1}
cargo build --release -q -p healthcode
bin=target/release/healthcode
work=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port=18191
"$bin" demo --listen "127.0.0.1:$port" --data "$work/demo" > "$work/demo.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

# Distinct codes signed by the demo's issuer key, valid for a day.
key="$work/demo/keys/demo-issuer.key.json"
colours=(green yellow red green orange)
{
    for i in $(seq "$ncodes"); do
        "$bin" issue --key "$key" --colour "${colours[$((i % 5))]}" --name "张三" \
            --id 220102199003071235 --ttl 1d 2>/dev/null
    done
} > "$work/codes.txt"
echo "== $(wc -l < "$work/codes.txt") distinct codes"

cat > "$work/verify.lua" <<LUA
codes = {}
for line in io.lines("$work/codes.txt") do codes[#codes + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
    i = i % #codes + 1
    return wrk.format(nil, "/api/verify", nil, '{"code":"' .. codes[i] .. '","policy":"metro"}')
end
LUA

# CHECK=1 also reads every answer in wrk's Lua (slower: it costs wrk CPU on
# the same two cores) and prints any that is not a genuine verification.
if [[ -n "${CHECK:-}" ]]; then
    cat >> "$work/verify.lua" <<'LUA'
-- Every code is genuine: an answer without a colour is a failed
-- verification, which would make the figure meaningless. Shown, not counted.
local bad = 0
response = function(status, headers, body)
    if status ~= 200 or string.find(body, '"colour":null', 1, true) then
        bad = bad + 1
        if bad <= 3 then print("unexpected answer: " .. status .. " " .. string.sub(body, 1, 300)) end
    end
end
LUA
fi

echo "== POST /api/verify, $conns connections, $threads wrk thread(s), ${secs}s"
wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$work/verify.lua" "http://127.0.0.1:$port"
