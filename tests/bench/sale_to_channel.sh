#!/usr/bin/env bash
# Sale -> channel latency at 200 POS sales/s for 60 s: five `trueup sim
# square` stores, `trueup sim shopify` and `trueup serve` on PostgreSQL, all
# on 127.0.0.1, run and stopped by tests/bench/sale_to_channel (see its
# header). Prints p50 / p99 / max from each sale's time to the Shopify
# write carrying it (target p99 <= 1 s) and where the time goes; asserts
# nothing about them. Needs TRUEUP_BINARY and TRUEUP_TEST_PG_URL (`make
# bench` provides them). BENCH_S2C_ARGS replaces the options, e.g.
# "--seconds 10" or "--workers 8 --pool 6".
set -euo pipefail
bin="${TRUEUP_BINARY:?set TRUEUP_BINARY}"
: "${TRUEUP_TEST_PG_URL:?set TRUEUP_TEST_PG_URL (scripts/pg-up)}"
load="${TRUEUP_BUILD_DIR:-$(dirname "$bin")/../..}/tests/bench/sale_to_channel"
# shellcheck disable=SC2086 # the options are words
"$load" ${BENCH_S2C_ARGS:-}
