#!/usr/bin/env bash
# Load figure for BENCHMARKS.md: code-page refreshes per second (each request
# evaluates the person's colour and signs a fresh code) against the release
# build on loopback, with SQLite and with PostgreSQL, measured by wrk.
#
#   bench/load.sh [seconds] [connections]
#
# Needs wrk, curl, and PostgreSQL's server binaries for the second half.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
conns=${2:-32}
cargo build --release -q -p healthcode
bin=target/release/healthcode
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -n "${pgdata:-}" ]]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Signs in as a seeded demo person through the SMS check; prints the token.
sign_in() {
    local base=$1 phone=13800000001
    curl -sf -X POST "$base/api/v1/otp" -H 'content-type: application/json' -d "{\"phone\":\"$phone\"}" >/dev/null
    local code
    code=$(curl -sf "$base/api/v1/outbox" | grep -o '验证码 [0-9]\{6\}' | head -1 | grep -o '[0-9]\{6\}')
    curl -sf -X POST "$base/api/v1/otp/verify" -H 'content-type: application/json' \
        -d "{\"phone\":\"$phone\",\"code\":\"$code\"}" | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/'
}

measure() {
    local label=$1; shift
    local port=$1; shift
    "$bin" demo --listen "127.0.0.1:$port" "$@" > "$work/$label.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
    local base="http://127.0.0.1:$port"
    local token
    token=$(sign_in "$base")
    echo "== $label: GET /api/v1/me/code, $conns connections, 2 wrk threads, ${secs}s"
    wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Cookie: hc_session=$token" "$base/api/v1/me/code"
}

measure sqlite 18181 --data "$work/sqlite"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
[[ -n "$pgbin" ]] || pgbin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
if [[ -x "$pgbin/initdb" ]]; then
    pgdata="$work/pg"
    mkdir -p "$pgdata" && chown postgres "$pgdata" "$work"
    runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -o "-p 15433 -k $pgdata -c listen_addresses=127.0.0.1" -l "$pgdata/log" start >/dev/null
    for _ in $(seq 50); do runuser -u postgres -- "$pgbin/pg_isready" -h 127.0.0.1 -p 15433 >/dev/null && break; sleep 0.2; done
    runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p 15433 -U postgres healthcode
    measure postgres 18182 --data "$work/pgdemo" --database "postgres://postgres@127.0.0.1:15433/healthcode"
else
    echo "SKIPPED PostgreSQL: no initdb found"
fi
