#!/usr/bin/env bash
# Load figure for BENCHMARKS.md: check-ins through the HTTP batch API
# (POST /api/v1/checkins/batch, as a venue's scanner sends them), against the
# release build of `healthcode demo` on loopback, on SQLite or PostgreSQL.
#
#   bench/checkins-api.sh [sqlite|pg] [seconds] [connections] [items per request]
#
# Every request carries new check-ins (distinct client ids and arrival times,
# generated per request by wrk's Lua script) for the demo's six people at one
# open demo venue, signed in with that venue's operator token; each item is
# validated, its person looked up and its client id recorded, as in production.
# Check-ins per second = requests/s × items per request (the script prints it,
# and counts the rows stored at the end). Needs wrk and curl; `pg` needs
# PostgreSQL's server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-sqlite}
secs=${2:-20}
conns=${3:-8}
items=${4:-400}
cargo build --release -q -p healthcode
bin=$PWD/target/release/healthcode
work=$(mktemp -d)
chmod 755 "$work"
pid=
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1 || true)
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    if [[ -d "$work/pg" ]]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=18193
db_args=()
if [[ "$engine" == pg ]]; then
    mkdir -p "$work/pg" && chown postgres "$work/pg"
    runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -o "-p 15434 -k $work/pg -c listen_addresses=127.0.0.1" -l "$work/pg/log" start >/dev/null
    for _ in $(seq 50); do runuser -u postgres -- "$pgbin/pg_isready" -h 127.0.0.1 -p 15434 >/dev/null && break; sleep 0.2; done
    runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p 15434 -U postgres healthcode
    db_args=(--database "postgres://postgres@127.0.0.1:15434/healthcode")
fi
"$bin" demo --listen "127.0.0.1:$port" --data "$work/demo" "${db_args[@]}" > "$work/demo.log" 2>&1 &
pid=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
sleep 1
# The first open venue's operator token, from the demo's welcome.
token=$(awk '/\[open\]/ {open=1} open && /operator/ {print $NF; exit}' "$work/demo.log")
[[ -n "$token" ]] || { echo "no open venue's operator token in the demo's output" >&2; cat "$work/demo.log" >&2; exit 1; }

cat > "$work/batch.lua" <<LUA
-- Each request: $items new check-ins; the six demo people (ids de…01 to
-- de…06), arrivals spread over the last two days, a distinct millisecond
-- and client id per item across threads and requests.
local items = $items
local threads = {}
local counter = 0
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end
function init(args)
    base = os.time() - 2 * 86400
end
request = function()
    local parts = {}
    for i = 1, items do
        counter = counter + 1
        local k = counter * 64 + tid
        local person = string.format("de%028x%02x", 0, k % 6 + 1)
        local ms = k % 1000
        local sec = base + math.floor(k / 1000) % 172000
        parts[i] = string.format(
            '{"client_id":"w%d-%d","person":"%s","arrived":"%s.%03dZ"}',
            tid, counter, person, os.date("!%Y-%m-%dT%H:%M:%S", sec), ms)
    end
    local body = '{"items":[' .. table.concat(parts, ",") .. ']}'
    return wrk.format("POST", "/api/v1/checkins/batch", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer $token",
    }, body)
end
local bad = 0
response = function(status, headers, body)
    if status ~= 200 or not string.find(body, '"stored":$items,', 1, true) then
        bad = bad + 1
        if bad <= 3 then print("unexpected answer: " .. status .. " " .. string.sub(body, 1, 300)) end
    end
end
done = function(summary, latency, requests)
    local rps = summary.requests / (summary.duration / 1e6)
    print(string.format("== %d requests, %.0f requests/s, %.0f check-ins/s, %d errors",
        summary.requests, rps, rps * items,
        summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
echo "== $engine: POST /api/v1/checkins/batch, $items items per request, $conns connections, ${secs}s; uptime: $(uptime)"
wrk -t"$(( conns < 2 ? 1 : 2 ))" -c"$conns" -d"${secs}s" --latency -s "$work/batch.lua" \
    "http://127.0.0.1:$port/api/v1/checkins/batch" &
wrk_pid=$!
# PERF=FILE also records the server's profile during the run (perf record -g).
if [[ -n "${PERF:-}" ]]; then perf record -g -p "$pid" -o "$PERF" -- sleep $((secs - 2)) >/dev/null 2>&1; fi
wait "$wrk_pid"
