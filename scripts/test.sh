#!/usr/bin/env bash
# Builds the project and runs every test: installs missing Debian packages
# (as root), builds with warnings as errors, runs the suite with ctest, then
# the hardening stages of docs/reliability.md.
#
#   scripts/test.sh           every stage (what CI runs), each in its own
#                             build directory:
#     format                    clang-format agrees with every C/C++ file
#     build, tests              ./build: every test
#     bench-smoke               ./build: every benchmark, a few rounds
#     asan-build, asan-tests    ./build-asan: every test under ASan+UBSan
#     tsan-build, tsan-tests    ./build-tsan: the threaded tests under TSan
#     fuzz-build, fuzz-smoke    ./build-fuzz: each libFuzzer target for
#                               $ONEM2M_FUZZ_SECONDS (default 45) seconds
#   scripts/test.sh --quick   build and tests only
#
# Every stage runs even when an earlier one failed (unless it needs that
# one's build); the script ends with one line per stage and fails if any
# stage failed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: scripts/test.sh [--quick]" >&2
    exit 2
    ;;
esac

FUZZ_SECONDS=${ONEM2M_FUZZ_SECONDS:-45}
FUZZ_TARGETS=(identity keystore kdf_params server)
# The tests that run threads against shared state: the concurrency suites
# (Concurrency*, KeystoreConcurrency.*) and the provider's *Thread* tests.
TSAN_TESTS='Concurren|Thread'
# gcc 12 reports -Wmaybe-uninitialized falsely inside <regex> and
# <functional> once sanitizers instrument them; those builds drop it.
SANITIZER_CXX_FLAGS=-Wno-maybe-uninitialized

summary=()
failed=0
stage_ok=0

# stage NAME WHAT COMMAND... runs one stage in a subshell with errexit on,
# records its status and wall time, and sets stage_ok to 1 or 0. It is
# called as a plain command (never as a condition, where bash would ignore
# errexit inside it) and always returns 0.
stage() {
  local name=$1 what=$2
  shift 2
  step "stage $name: $what"
  local start=$SECONDS status=ok rc
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  stage_ok=1
  if [ $rc -ne 0 ]; then
    status=FAILED
    stage_ok=0
    failed=1
  fi
  summary+=("$(printf '%-11s %-7s %5ss  %s' "$name" "$status" \
    $((SECONDS - start)) "$what")")
}

# skip NAME WHAT records a stage that could not run.
skip() {
  summary+=("$(printf '%-11s %-7s %5s   %s' "$1" skipped - "$2")")
  failed=1
}

# check_format fails on any tracked C/C++ file that clang-format
# (.clang-format at the top) would change.
check_format() {
  cd "$ROOT"
  local bad=0 f
  while IFS= read -r f; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "not formatted: $f (run: clang-format -i $f)"
      bad=1
    fi
  done < <(git ls-files '*.cc' '*.h' '*.c')
  return $bad
}

run_ctest() {
  local dir=$1
  shift
  cd "$dir"
  ctest --output-on-failure -j2 "$@"
}

build_tsan() {
  local dir=$ROOT/build-tsan
  echo "configuring in $dir (cmake -DONEM2M_SANITIZE=thread)"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DONEM2M_WERROR=ON -DONEM2M_SANITIZE=thread \
    -DCMAKE_CXX_FLAGS="$SANITIZER_CXX_FLAGS" >/dev/null
  # Only the test binaries that hold the selected tests, and what they
  # run (the module, the CLI, the examples).
  local targets=(concurrency_test keystore_test provider_test
                 own_key_cache_test pkcs11_test)
  echo "building ${targets[*]} in $dir"
  cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
}

build_fuzz() {
  local dir=$ROOT/build-fuzz
  echo "configuring in $dir (clang, cmake -DONEM2M_FUZZ=ON)"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DONEM2M_WERROR=ON -DONEM2M_FUZZ=ON -DONEM2M_BUILD_TESTS=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  echo "building the fuzz targets in $dir"
  cmake --build "$dir" -j"$(nproc)" --target fuzzers
}

# fuzz_smoke runs each target for FUZZ_SECONDS on a scratch copy of its
# seed corpus (fuzz/corpus/<target>_fuzzer is only read), which replays
# every seed, regression inputs included, first.
fuzz_smoke() {
  local dir=$ROOT/build-fuzz
  local bad=0
  rm -rf "$dir/smoke"
  mkdir -p "$dir/smoke" "$dir/artifacts"
  for t in "${FUZZ_TARGETS[@]}"; do
    local bin=$dir/fuzz/${t}_fuzzer
    local seeds=$ROOT/fuzz/corpus/${t}_fuzzer
    local log=$dir/smoke/$t.log
    mkdir -p "$dir/smoke/$t"
    printf '%-22s %3ss from %s ... ' "${t}_fuzzer" "$FUZZ_SECONDS" \
      "${seeds#"$ROOT"/}"
    if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" \
      "$dir/smoke/$t" "$seeds" >"$log" 2>&1; then
      awk '/stat::number_of_executed_units/ {n=$2}
           /stat::average_exec_per_sec/ {r=$2}
           END {printf "ok: %d executions, %d/s\n", n, r}' "$log"
    else
      echo "FAILED (log: $log)"
      tail -n 60 "$log"
      echo "reproduce: $bin $dir/artifacts/$t-<file named above>"
      bad=1
    fi
  done
  return $bad
}

if [ $quick -eq 1 ]; then
  install_missing clang-format
else
  install_missing clang-format clang libclang-rt-14-dev
fi

stage format "clang-format agrees with every C/C++ file" check_format

stage build "build in ./build with warnings as errors" \
  build_project "$ROOT/build"
if [ $stage_ok -eq 1 ]; then
  stage tests "every test (ctest, 2 at a time)" \
    run_ctest "$ROOT/build" --timeout 300
else
  skip tests "every test (the build failed)"
fi

if [ $stage_ok -eq 1 ] && [ $quick -eq 0 ]; then
  stage bench-smoke "every benchmark for a few rounds (builds and runs)" \
    bash "$ROOT/scripts/bench.sh" --smoke --build-dir "$ROOT/build"
fi

if [ $quick -eq 0 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}

  stage asan-build "build in ./build-asan with ASan+UBSan" \
    build_project "$ROOT/build-asan" -DONEM2M_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS="$SANITIZER_CXX_FLAGS"
  if [ $stage_ok -eq 1 ]; then
    # The install and package tests build uninstrumented programs against
    # the instrumented library, which cannot load without the sanitizer
    # runtime; they run in the plain build. The soak is shorter here.
    stage asan-tests "every test under ASan+UBSan" \
      env ONEM2M_SOAK_HANDSHAKES=2000 ONEM2M_SOAK_SERVER_TIMEOUT=5 \
      bash -c 'cd "$0" && ctest --output-on-failure -j2 --timeout 600 \
        -E "InstallTest|DebPackageTest"' "$ROOT/build-asan"
  else
    skip asan-tests "every test under ASan+UBSan (the build failed)"
  fi

  stage tsan-build "build the threaded tests in ./build-tsan with TSan" \
    build_tsan
  if [ $stage_ok -eq 1 ]; then
    stage tsan-tests "tests matching '$TSAN_TESTS' under TSan" \
      run_ctest "$ROOT/build-tsan" --timeout 600 -R "$TSAN_TESTS" \
      --no-tests=error
  else
    skip tsan-tests "the concurrency tests under TSan (the build failed)"
  fi

  stage fuzz-build "build the libFuzzer targets in ./build-fuzz (clang)" \
    build_fuzz
  if [ $stage_ok -eq 1 ]; then
    stage fuzz-smoke "each fuzz target for ${FUZZ_SECONDS}s" fuzz_smoke
  else
    skip fuzz-smoke "each fuzz target (the build failed)"
  fi
fi

step "summary"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
  echo "FAILED: see the stages marked above"
  exit 1
fi
echo "all stages passed"
