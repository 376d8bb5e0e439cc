#!/usr/bin/env bash
# Itinerary-card figures for BENCHMARKS.md: carrier-record import speed and
# card latency (end to end through HTTP with wrk) at growing data sizes, on
# SQLite and on a throwaway PostgreSQL cluster. Large files and databases
# live under $ITINERARY_WORK (default /tmp/itinerary); check `df -h` first.
#
#   bench/itinerary.sh gen N                 # N fictional stays -> $W/stays-N.csv
#   bench/itinerary.sh import-sqlite N       # import that file into $W/sqlite (fresh)
#   bench/itinerary.sh pg-start              # throwaway cluster on 127.0.0.1:15499 (PG_EXTRA="-c k=v" adds settings)
#   bench/itinerary.sh import-pg N           # import the file into database `itin` (fresh)
#   bench/itinerary.sh fill-pg TOTAL         # add SQL-generated filler rows up to TOTAL
#   bench/itinerary.sh card sqlite|pg [secs] # wrk: POST /api/v1/itinerary for one phone
#   bench/itinerary.sh pg-stop ; bench/itinerary.sh clean
set -euo pipefail
cd "$(dirname "$0")/.."
W=${ITINERARY_WORK:-/tmp/itinerary}
BIN=${BIN:-target/release/healthcode}
SECRET=bench-phone-hash-secret-0123456789
PGPORT=15499
PGURL="postgres://postgres@127.0.0.1:$PGPORT/itin"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
export HEALTHCODE_PHONE_HASH_SECRET=$SECRET
TIMEFORMAT='wall %R s, user %U s, sys %S s (this process; the database server not included)'
mkdir -p "$W"
chmod 755 "$W"

psql_() { runuser -u postgres -- "$pgbin/psql" -h 127.0.0.1 -p $PGPORT -U postgres -X -q "$@"; }

case "${1:-}" in
gen)
    python3 bench/itinerary/gen_carrier.py "$2" > "$W/stays-$2.csv"
    ls -la "$W/stays-$2.csv" ;;
import-sqlite)
    rm -rf "$W/sqlite"; mkdir -p "$W/sqlite"
    uptime
    time "$BIN" import carrier-records "$W/stays-$2.csv" --database "sqlite://$W/sqlite/healthcode.db"
    du -sh "$W/sqlite" ;;
pg-start)
    mkdir -p "$W/pg" && chown postgres "$W/pg"
    [[ -f "$W/pg/PG_VERSION" ]] || runuser -u postgres -- "$pgbin/initdb" -D "$W/pg" -A trust -U postgres >/dev/null
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$W/pg" -l "$W/pg/log" -o "-p $PGPORT -k $W/pg -c listen_addresses=127.0.0.1 -c shared_buffers=2GB -c maintenance_work_mem=1GB -c max_wal_size=8GB -c synchronous_commit=off ${PG_EXTRA:-}" start >/dev/null
    for _ in $(seq 50); do runuser -u postgres -- "$pgbin/pg_isready" -h 127.0.0.1 -p $PGPORT >/dev/null && break; sleep 0.2; done ;;
import-pg)
    psql_ -c "DROP DATABASE IF EXISTS itin" -c "CREATE DATABASE itin"
    uptime
    time "$BIN" import carrier-records "$W/stays-$2.csv" --database "$PGURL"
    psql_ -d itin -t -c "SELECT pg_size_pretty(pg_total_relation_size('carrier_stays'))" ;;
fill-pg)
    # Filler rows straight from SQL: random 32-byte keys (sha256 of a
    # number, as uniformly spread as real HMACs), 10 stays per key, in the
    # last 15 days (inside the card's window and its retention, so the
    # server's purge keeps them for a day); the primary key is dropped for
    # the load and rebuilt.
    psql_ -d itin -v total="$2" <<'SQL'
\timing on
SELECT count(*) AS before FROM carrier_stays \gset
ALTER TABLE carrier_stays DROP CONSTRAINT carrier_stays_pkey;
INSERT INTO carrier_stays (phone_hash, city_code, first_seen, last_seen)
SELECT sha256(int8send(i / 10)),
       (ARRAY['110100','120100','310100','500100','130100','140100','150100','210100','210200','220100',
              '220200','230100','320100','320500','330100','330200','340100','350100','350200','360100'])[1 + (i % 20)],
       f, f + 3600000000000 * (1 + i % 30)
FROM (SELECT i, (extract(epoch FROM now())::bigint - 15 * 86400 + (i % 10) * 43200 + (i * 7919) % 40000) * 1000000000 AS f
      FROM generate_series(1::bigint, (:total - :before)::bigint) AS i) g;
ALTER TABLE carrier_stays ADD CONSTRAINT carrier_stays_pkey PRIMARY KEY (phone_hash, city_code, first_seen);
VACUUM ANALYZE carrier_stays;
SELECT count(*) AS rows, pg_size_pretty(pg_total_relation_size('carrier_stays')) AS size FROM carrier_stays;
SQL
    ;;
card)
    engine=$2; secs=${3:-15}
    # The demo keeps its DEMO keys and phone-hash secret in ./demo-data
    # (given the bench's secret, so the imported records match).
    dir="$W/demo-$engine"; rm -rf "$dir"; mkdir -p "$dir/demo-data"
    echo -n "$SECRET" > "$dir/demo-data/phone-hash-secret"
    if [[ $engine == pg ]]; then db=(--database "$PGURL"); else db=(--database "sqlite://$W/sqlite/healthcode.db"); fi
    bin=$(realpath "$BIN")
    (cd "$dir" && exec "$bin" demo --listen 127.0.0.1:18199 "${db[@]}") > "$dir/log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 100); do curl -sf http://127.0.0.1:18199/healthz >/dev/null && break; sleep 0.2; done
    # The server purges at start and then every 10 minutes; on a big table
    # whose rows are not stored in time order (the SQL filler) that first
    # purge scans the table. Measure after it, not during it.
    for _ in $(seq 600); do grep -q "retention purge" "$dir/log" && break; sleep 0.5; done
    grep -o 'retention purge.*' "$dir/log" | head -1 | cut -c1-160
    base=http://127.0.0.1:18199 phone=${PHONE:-13900000007}
    curl -sf -X POST $base/api/v1/otp -H 'content-type: application/json' -d "{\"phone\":\"$phone\"}" >/dev/null
    code=$(curl -sf "$base/api/v1/outbox" | grep -o '验证码 [0-9]\{6\}' | head -1 | grep -o '[0-9]\{6\}')
    token=$(curl -sf -X POST $base/api/v1/otp/verify -H 'content-type: application/json' \
        -d "{\"phone\":\"$phone\",\"code\":\"$code\"}" | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
    curl -sf -X POST $base/api/v1/itinerary -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"phone\":\"$phone\",\"consent\":true}" | python3 -c 'import json,sys; c=json.load(sys.stdin); print("card:", c["colour"], c["cities_line"]["en"])'
    cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"phone":"$phone","consent":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
    conns=${CONNS:-4}; threads=$(( conns < 2 ? 1 : 2 ))
    echo "== card, $engine: POST /api/v1/itinerary, $conns connections, $threads wrk threads, ${secs}s"
    uptime
    wrk -t$threads -c$conns -d"${secs}s" --latency -s "$dir/post.lua" $base/api/v1/itinerary
    kill $pid; wait $pid 2>/dev/null || true ;;
pg-stop)
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$W/pg" -m fast stop >/dev/null || true ;;
clean)
    rm -rf "$W" ;;
*)
    sed -n '2,14p' "$0"; exit 2 ;;
esac
