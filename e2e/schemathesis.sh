#!/usr/bin/env bash
# Generated-input test of the API against its own OpenAPI document:
# starts `healthcode demo` on a fresh data directory, signs in as the demo
# official, and runs schemathesis (pip install schemathesis) with every check.
#   e2e/schemathesis.sh [max-examples]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p healthcode
work=$(mktemp -d)
target/release/healthcode demo --data "$work" --listen 127.0.0.1:18190 > "$work/demo.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18190/healthz >/dev/null && break; sleep 0.2; done
password=$(grep demo-official "$work/demo.log" | awk '{print $4}')
token=$(curl -sf -X POST http://127.0.0.1:18190/api/v1/officials/sign-in -H 'content-type: application/json' \
    -d "{\"username\":\"demo-official\",\"password\":\"$password\"}" | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
schemathesis run http://127.0.0.1:18190/openapi.json -H "Authorization: Bearer $token" \
    --checks all --max-examples "${1:-100}"
