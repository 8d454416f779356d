#!/usr/bin/env bash
# Free slots under load (docs/performance.md): seeds a data directory with the scenario of
# `slots-fixture` (one professional, Mon–Fri 09:00–17:00, a 30-minute service, ~40 bookings in
# the month), starts the release local server on it and drives the month's slot query with
# wrk at 8 and 64 connections, reporting requests/s, p50/p99, the server's CPU time per request
# (from /proc, so wrk's own CPU is not counted) and its peak RSS.
#
# Usage: infra/bench/slots-wrk.sh [server binary]   (default target/release/atelier-local;
#        build first: cargo build --release -p atelier-local -p atelier-bench --bin slots-fixture)
#        PERF=out.data records the server with `perf record -g` through the 8-connection run.
# Needs wrk (Debian: apt-get install wrk) and bc.
set -euo pipefail
cd "$(dirname "$0")/../.."
server=${1:-target/release/atelier-local}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
query=$(ATELIER_DATA_DIR=$data RUST_LOG=warn "$(dirname "$server")/slots-fixture" | tail -n 1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ATELIER_DATA_DIR=$data PORT=$port "$server" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health" && break; sleep 0.1; done
url="http://127.0.0.1:$port$query"
echo "GET $query: $(curl -s "$url" | wc -c) bytes"
wrk -t1 -c8 -d3s "$url" >/dev/null # warm up
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
etag=$(curl -s -D - -o /dev/null "$url" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
for conf in "-t1 -c8" "-t2 -c64" "-t1 -c8 304"; do
  headers=()
  if [ "${conf% 304}" != "$conf" ]; then
    # Revalidation: the client holds the answer (If-None-Match), the server answers 304.
    [ -n "$etag" ] || continue
    conf=${conf% 304}
    headers=(-H "If-None-Match: $etag")
  fi
  before=$(ticks)
  recorder=
  if [ -n "${PERF:-}" ] && [ "$conf" = "-t1 -c8" ] && [ -z "${headers[*]+set}" ]; then
    perf record -F ${PERF_FREQ:-2000} ${PERF_CALLGRAPH:--g} -p "$pid" -o "$PERF" -- sleep 10 >/dev/null 2>&1 &
    recorder=$!
  fi
  out=$(wrk $conf -d10s --latency ${headers[@]+"${headers[@]}"} "$url")
  after=$(ticks)
  [ -z "$recorder" ] || wait "$recorder"
  total=$(echo "$out" | awk '/requests in/ {print $1}')
  cpu_us=$(echo "($after - $before) * 1000000 / $hz / $total" | bc -l)
  printf "wrk %s -d10s%s: %s requests/s, p50 %s, p99 %s, server CPU %.0f µs/request, non-2xx %s\n" "$conf" \
    "${headers:+ (If-None-Match: 304)}" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" "$cpu_us" "$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
done
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
