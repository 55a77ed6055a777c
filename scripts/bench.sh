#!/usr/bin/env bash
# Builds the project and runs the benchmarks of bench/ (issue 8), printing
# one table on stdout; progress and build messages go to stderr.
# docs/performance.md explains every figure and holds a run's table.
#
#   scripts/bench.sh                  full run (a few minutes), the table
#   scripts/bench.sh --smoke          every benchmark for a few rounds, with
#                                     small sizes: proves they build and
#                                     run (CI; well under a minute once
#                                     built); its figures mean nothing
#   scripts/bench.sh --build-dir DIR  build in DIR (default ./build, the
#                                     directory scripts/test.sh uses)
#
# Any other argument goes to onem2m-bench, e.g. --benchmark_filter=kdf or
# --benchmark_out=bench.json. The in-memory benchmarks measure CPU time;
# run on a machine as idle as you can make it, and read the ratios, which
# are measured alternately in one process and so hold on a busy machine.
# The instructions section needs valgrind (apt-get install valgrind); it
# is skipped without it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

BUILD=${ONEM2M_BENCH_BUILD_DIR:-$ROOT/build}
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir)
      BUILD=$2
      shift 2
      ;;
    --build-dir=*)
      BUILD=${1#--build-dir=}
      shift
      ;;
    *)
      ARGS+=("$1")
      shift
      ;;
  esac
done

{
  install_missing
  build_project "$BUILD" -DONEM2M_BUILD_BENCH=ON
  step "running the benchmarks ($BUILD/bench/onem2m-bench ${ARGS[*]:-})"
} >&2

exec "$BUILD/bench/onem2m-bench" ${ARGS[@]+"${ARGS[@]}"}
