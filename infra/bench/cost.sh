#!/usr/bin/env bash
# The cost table of docs/performance.md ("Cost per million requests"): starts DynamoDB Local and
# moto (infra/emulators.sh, as ./infra/test does), runs the measuring test in an optimised build
# (the `profiling` profile: release code without LTO) over ATELIER_COST_REPEAT requests per
# scenario, and prices its `COST` lines with infra/bench/cost.py. Run by hand, not in CI.
#
#   infra/bench/cost.sh            # prints the Markdown tables; the raw lines go to .local/cost.log
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=infra/emulators.sh
. infra/emulators.sh
trap emulators_stop EXIT
emulators_install
emulators_start
emulators_endpoints
log=$local_dir/cost.log
ATELIER_COST_REPEAT=${ATELIER_COST_REPEAT:-50} cargo test --quiet --profile profiling -p atelier-tests --test it \
  cost_of_each_endpoint_groups_typical_request -- --nocapture >"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; die "the measuring test failed"; }
python3 infra/bench/cost.py <"$log"
