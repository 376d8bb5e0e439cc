#!/usr/bin/env python3
"""Fictional carrier stay records for the itinerary benchmarks (CSV on stdout).

    bench/itinerary/gen_carrier.py ROWS [--phones N] [--now RFC3339] [--ndjson]

Phones are 139xxxxxxxx (N distinct, default ROWS/10: ten stays each, as a
fortnight of moving between cities gives); each stay lies in the 20 days
before --now (default: the current hour) and lasts 1 to 30 hours; cities
come from a list of 40 GB/T 2260 city codes. Deterministic for given
arguments. Nothing here is real data.
"""
import argparse
import datetime as dt
import random
import sys

CITIES = [
    "110100", "120100", "310100", "500100", "130100", "140100", "150100", "210100",
    "210200", "220100", "220200", "230100", "320100", "320500", "330100", "330200",
    "340100", "350100", "350200", "360100", "370100", "370200", "410100", "420100",
    "430100", "440100", "440300", "441900", "450100", "460100", "510100", "520100",
    "530100", "540100", "610100", "620100", "630100", "640100", "650100", "222400",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rows", type=int)
    p.add_argument("--phones", type=int)
    p.add_argument("--now")
    p.add_argument("--ndjson", action="store_true")
    a = p.parse_args()
    phones = a.phones or max(1, a.rows // 10)
    now = (dt.datetime.fromisoformat(a.now.replace("Z", "+00:00")) if a.now
           else dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0))
    start = int(now.timestamp()) - 20 * 86400
    rng = random.Random(42)
    out = sys.stdout
    fmt = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not a.ndjson:
        out.write("phone,city_code,first_seen,last_seen,cell\n")
    buf = []
    for i in range(a.rows):
        phone = "139%08d" % (i % phones)
        # Stay number i // phones of this phone: spread over the 20 days.
        slot = i // phones
        first = start + (slot * 43200 + rng.randrange(0, 40000)) % (20 * 86400 - 30 * 3600)
        last = first + rng.randrange(3600, 30 * 3600)
        city = CITIES[rng.randrange(len(CITIES))]
        if a.ndjson:
            buf.append('{"phone":"%s","city_code":"%s","first_seen":"%s","last_seen":"%s"}\n'
                       % (phone, city, fmt(first), fmt(last)))
        else:
            buf.append("%s,%s,%s,%s,c%d\n" % (phone, city, fmt(first), fmt(last), i % 5000))
        if len(buf) >= 100000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


if __name__ == "__main__":
    main()
