# Shared by the wrk benchmark scripts (sourced, not run by tests/bench/run).
# Provides $work (removed on exit), free_port, start_trueup, stop_trueup and
# wrk_figures. A started server is stopped on exit too.
work="$(mktemp -d /tmp/trueup-bench.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_trueup PORT: runs `$bin serve --config $work/trueup.yaml` (environment
# as given by the caller) and waits, bounded, until /healthz answers.
start_trueup() {
  local port="$1"
  "$bin" serve --config "$work/trueup.yaml" 2> "$work/trueup.log" > /dev/null &
  pid=$!
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null
}

stop_trueup() {
  kill -TERM "$pid"
  wait "$pid"
  pid=""
}

# wrk_figures FILE: sets rps, p50, p99 and errors from wrk --latency output.
wrk_figures() {
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$1")"
  p50="$(awk '$1=="50%" {print $2}' "$1")"
  p99="$(awk '$1=="99%" {print $2}' "$1")"
  errors="$(grep -E 'Socket errors|Non-2xx' "$1" || true)"
}
