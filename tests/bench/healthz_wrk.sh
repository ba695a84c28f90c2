#!/usr/bin/env bash
# HTTP throughput: wrk against GET /healthz on a real `trueup serve`
# (64 keep-alive connections, 10 s per run). Target: >= 40,000 requests/s on
# the 2-core machine, with wrk on the same machine. Prints the figures; asserts
# nothing about them.
#
# Runs twice: with the per-request access log off (the usual setting behind a
# load balancer that logs) and on (the default), so the cost of logging is seen.
# Environment: TRUEUP_BINARY; BENCH_DURATION (10s), BENCH_CONNECTIONS (64),
# BENCH_WRK_THREADS (1), BENCH_SERVER_THREADS (0 = one per core).
set -euo pipefail
bin="${TRUEUP_BINARY:?set TRUEUP_BINARY}"
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-64}"
wrk_threads="${BENCH_WRK_THREADS:-1}"
server_threads="${BENCH_SERVER_THREADS:-0}"
# shellcheck source=lib/bench.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"

run_one() {
  local access_log="$1" port
  port="$(free_port)"
  cat > "$work/trueup.yaml" <<YAML
instance_id: bench
log:
  level: info
  format: json
http:
  listen_address: 127.0.0.1
  port: $port
  threads: $server_threads
  access_log: $access_log
store:
  sqlite:
    path: $work/bench.db
YAML
  start_trueup "$port"
  wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port/healthz" > "$work/wrk.txt"
  wrk_figures "$work/wrk.txt"
  printf 'healthz  access_log=%-5s  connections=%s  %s  requests/s=%s  p50=%s  p99=%s  (target >= 40000 requests/s)\n' \
    "$access_log" "$connections" "$duration" "$rps" "$p50" "$p99"
  [ -z "$errors" ] || echo "  $errors"
  stop_trueup
}

echo "cores: $(nproc)  wrk threads: $wrk_threads  server threads: $server_threads (0 = one per core)"
run_one false
run_one true
