#!/bin/sh
# Check-in ingestion and tracing at scale (see BENCHMARKS.md, "Venue
# check-ins and tracing").
#
#   bench/checkins.sh ingest            # divan: batches on SQLite and PostgreSQL
#   bench/checkins.sh trace 1000000     # one size
#   bench/checkins.sh trace             # 1M, 10M and 100M in turn
#
# The tracing bench starts a throwaway PostgreSQL cluster (healthcode-testkit,
# under /tmp, removed when it ends), generates the rows with generate_series,
# builds the store's indexes and times 25 cases. 100M rows need about 16 GB
# of disk for the run: check `df -h /tmp` first.
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
ingest)
    cargo bench -p healthcode-store-postgres --bench checkins
    ;;
trace)
    sizes="${2:-1000000 10000000 100000000}"
    for n in $sizes; do
        avail=$(df -Pk /tmp | awk 'NR==2 {print $4}')
        need=$((n / 1000000 * 170 * 1024))   # ~170 MB per million rows, with indexes
        if [ "$avail" -lt $((need + 10 * 1024 * 1024)) ]; then
            echo "not enough free disk for $n rows (need ~$((need / 1024 / 1024)) GB + 10 GB spare)" >&2
            exit 1
        fi
        HEALTHCODE_TRACE_ROWS=$n cargo bench -p healthcode-store-postgres --bench trace_scale
    done
    ;;
*)
    echo "usage: $0 ingest | trace [ROWS...]" >&2
    exit 2
    ;;
esac
