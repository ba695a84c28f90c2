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
work="$(mktemp -d /tmp/trueup-bench.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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
  "$bin" serve --config "$work/trueup.yaml" 2> "$work/trueup.log" > /dev/null &
  pid=$!
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
    sleep 0.05
  done
  curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null
  wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port/healthz" > "$work/wrk.txt"
  local rps p50 p99
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")"
  p50="$(awk '$1=="50%" {print $2}' "$work/wrk.txt")"
  p99="$(awk '$1=="99%" {print $2}' "$work/wrk.txt")"
  errors="$(grep -E 'Socket errors|Non-2xx' "$work/wrk.txt" || true)"
  printf 'healthz  access_log=%-5s  connections=%s  %s  requests/s=%s  p50=%s  p99=%s  (target >= 40000 requests/s)\n' \
    "$access_log" "$connections" "$duration" "$rps" "$p50" "$p99"
  [ -z "$errors" ] || echo "  $errors"
  kill -TERM "$pid"
  wait "$pid"
  pid=""
}

echo "cores: $(nproc)  wrk threads: $wrk_threads  server threads: $server_threads (0 = one per core)"
run_one false
run_one true
