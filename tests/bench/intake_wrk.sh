#!/usr/bin/env bash
# Durable intake through HTTP: canonical movement JSON -> Idempotency/inbox
# dedupe -> workflow -> outbox, committed before 202, on PostgreSQL
# (synchronous_commit on) with the relay publishing to Kafka, all on this
# machine. Target: >= 10,000 events/s. Prints events/s and latency; asserts
# nothing about them.
#
# Two throughput runs (wrk): one movement per request, and BENCH_BATCH (50)
# movements per request. Then the accept latency at half the target,
# 5,000 events/s (BENCH_HALF_RATE), held at a fixed rate by intake_load
# (open loop, latency from each request's scheduled time), with BENCH_BATCH
# and 10 movements per request: on the default configuration, then again
# with `store.postgres.yield_above: 1ms` (background work gives way to
# requests being committed; docs/store.md). Needs TRUEUP_BINARY, TRUEUP_TEST_PG_URL,
# TRUEUP_TEST_KAFKA (`make bench` provides them). An unmeasured warm-up of
# BENCH_WARMUP_SECONDS (20) at 1,000 events/s comes first. BENCH_DURATION (10s),
# BENCH_CONNECTIONS (16). The host's dirty-page writeback settings are printed
# too: the kernel's periodic flush of PostgreSQL's and Kafka's written pages
# stalls WAL flushes (docs/operations.md, "Intake latency and the host").
# BENCH_DIRTY_BACKGROUND_BYTES=16777216 (as root, opt-in) adds windows with
# yield_above 1ms and the kernel's vm.dirty_background_bytes at that value,
# restoring the host's setting afterwards.
set -euo pipefail
bin="${TRUEUP_BINARY:?set TRUEUP_BINARY}"
pg="${TRUEUP_TEST_PG_URL:?set TRUEUP_TEST_PG_URL (scripts/pg-up)}"
kafka="${TRUEUP_TEST_KAFKA:?set TRUEUP_TEST_KAFKA (scripts/kafka-up)}"
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-16}"
batch="${BENCH_BATCH:-50}"
# shellcheck source=lib/bench.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
port="$(free_port)"
# serve [YAML lines for store.postgres]: (re)starts the server on that configuration.
serve() {
  if [ -n "$pid" ]; then stop_trueup; fi
  cat > "$work/trueup.yaml" <<YAML
instance_id: intake-bench
http:
  port: $port
  access_log: false
api:
  allow_anonymous: true
  workers: 4
  queue_capacity: 10000
store:
  postgres:
    url: \${BENCH_PG}
    pool_size: 4
${1:-}
bus:
  kafka:
    bootstrap_servers: \${BENCH_KAFKA}
YAML
  BENCH_PG="$pg" BENCH_KAFKA="$kafka" start_trueup "$port"
}
serve

cat > "$work/intake.lua" <<'LUA'
-- Unique movement ids per thread and request; BATCH movements per body.
local counter = 0
local prefix = ""
local batch = tonumber(os.getenv("BENCH_BATCH_ITEMS") or "1")
function setup(thread) thread:set("prefix", string.format("b%d-%d", os.time(), math.random(1, 1000000000))) end
function init(args) prefix = wrk.thread:get("prefix") end
local function movement(n)
  return string.format('{"movement_id":"%s-%d","kind":"sale","sku":"SKU-%d","location":"STORE-%02d",' ..
    '"quantity_delta":"-1","occurred_at":"2026-11-26T10:00:00+01:00","source_system":"square",' ..
    '"source_reference":"r-%d"}', prefix, n, n % 500, n % 5, n)
end
request = function()
  local items = {}
  for i = 1, batch do
    counter = counter + 1
    items[i] = movement(counter)
  end
  return wrk.format("POST", "/v1/inventory/movements", {["Content-Type"] = "application/json"},
    "[" .. table.concat(items, ",") .. "]")
end
response = function(status, headers, body)
  if status ~= 202 then wrk.thread:set("bad", (wrk.thread:get("bad") or 0) + 1) end
end
LUA

run() {
  local items="$1"
  BENCH_BATCH_ITEMS="$items" wrk -t2 -c"$connections" -d"$duration" --latency -s "$work/intake.lua" \
    "http://127.0.0.1:$port" > "$work/wrk.txt"
  wrk_figures "$work/wrk.txt"
  printf 'intake  items/request=%-3s connections=%s %s  requests/s=%s  events/s=%s  p50=%s p99=%s  (target >= 10000 events/s)\n' \
    "$items" "$connections" "$duration" "$rps" "$(awk -v a="$rps" -v b="$items" 'BEGIN{printf "%d", a*b}')" "$p50" "$p99"
  if [ -n "$errors" ]; then
    echo "  $errors"
    # Why: the server's warnings and errors, most frequent first.
    grep -E '"level":"(warn|warning|error)"' "$work/trueup.log" | sed -E 's/"(ts|time|request_id)":"[^"]*",?//g' \
      | sort | uniq -c | sort -rn | head -5 || true
  fi
}
echo "host writeback: vm.dirty_background_ratio=$(sysctl -n vm.dirty_background_ratio 2>/dev/null || echo '?')" \
  "vm.dirty_background_bytes=$(sysctl -n vm.dirty_background_bytes 2>/dev/null || echo '?')" \
  "vm.dirty_expire_centisecs=$(sysctl -n vm.dirty_expire_centisecs 2>/dev/null || echo '?')"
# Accept latency at half the target (5,000 events/s) at a fixed rate, open
# loop (wrk below measures throughput; it cannot hold a rate), first, while
# no backlog of a saturation run competes for the cores.
load="${TRUEUP_BUILD_DIR:-$(dirname "$bin")/../..}/tests/bench/intake_load"
latency() {
  for items in "$batch" 10; do
    "$load" --port "$port" --events-per-second "${BENCH_HALF_RATE:-5000}" --batch "$items" \
      --seconds "${duration%s}" --connections 32 | sed "s/^intake open-loop/intake open-loop ($1)/"
  done
}
# Warm-up, not measured: freshly started services (the Kafka broker's JIT
# compiler above all) take cores for their first minute. At 1,000 events/s
# the background keeps up, so no backlog is left for the windows below.
"$load" --port "$port" --events-per-second 1000 --batch 10 --seconds "${BENCH_WARMUP_SECONDS:-20}" \
  --connections 8 | sed "s/^intake open-loop/warm-up (not a figure):/"
latency "default configuration"
serve "    yield_above: 1ms"
latency "yield_above 1ms"
# Opt-in, as root: the same with the kernel writing dirty pages continuously
# (docs/operations.md, "Intake latency and the host"); the host's own
# setting is put back however the script ends.
if [ -n "${BENCH_DIRTY_BACKGROUND_BYTES:-}" ]; then
  saved_bytes="$(sysctl -n vm.dirty_background_bytes)"
  saved_ratio="$(sysctl -n vm.dirty_background_ratio)"
  restore_writeback() {
    if [ "$saved_bytes" != 0 ]; then sysctl -qw vm.dirty_background_bytes="$saved_bytes"
    else sysctl -qw vm.dirty_background_ratio="$saved_ratio"; fi
  }
  trap 'restore_writeback; cleanup' EXIT
  sysctl -qw vm.dirty_background_bytes="$BENCH_DIRTY_BACKGROUND_BYTES"
  # The pages dirtied above the new threshold are written at once now: not
  # in the windows (bounded: 60 s).
  for _ in $(seq 1 600); do
    dirty_kb="$(awk '/^Dirty:/ {print $2}' /proc/meminfo)"
    [ "$dirty_kb" -le $(( 2 * BENCH_DIRTY_BACKGROUND_BYTES / 1024 )) ] && break
    sleep 0.1
  done
  latency "yield_above 1ms, vm.dirty_background_bytes=$BENCH_DIRTY_BACKGROUND_BYTES"
  restore_writeback
  trap cleanup EXIT
fi
serve
run 1
run "$batch"
pending="$(psql "$pg" -Atc "SELECT count(*) FROM trueup_outbox_pending" 2>/dev/null || echo '?')"
echo "outbox events not yet published when the load ended: $pending"
