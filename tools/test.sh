#!/usr/bin/env bash
# The whole test suite: warnings-as-errors build + unit tests, loopback /
# namespace / Prometheus / ops / fault / soak / ecosystem tests, an ASan+UBSan
# build running the unit and loopback suites, a TSan build for the worker and
# scrape paths, clang-format, and short fuzz runs. Ends with "N passed, N failed"
# (one per step) and exits non-zero if any step failed.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc)}"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
export SOAK_SECONDS="${SOAK_SECONDS:-60}"
PASSED=0
FAILED=0
FAILED_STEPS=()
SUITE_START=$SECONDS

step() {
  local name="$1"
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - start)) s)"
    PASSED=$((PASSED + 1))
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    FAILED=$((FAILED + 1))
    FAILED_STEPS+=("$name")
  fi
}

build() {  # build <dir> <cmake args...> [-- <targets...>]
  local dir="$1"
  shift
  local args=() targets=()
  while (($#)); do
    if [[ "$1" == "--" ]]; then
      shift
      targets=("$@")
      break
    fi
    args+=("$1")
    shift
  done
  cmake -S "$ROOT" -B "$ROOT/$dir" -DPING_EXPORTER_WERROR=ON "${args[@]}" >/dev/null || return 1
  local t=()
  for x in "${targets[@]}"; do t+=(--target "$x"); done
  # Progress lines are noise; errors and warnings stay.
  cmake --build "$ROOT/$dir" -j"$JOBS" "${t[@]}" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^gmake|^Consolidate'
  return "${PIPESTATUS[0]}"
}

ctest_in() {  # ctest_in <dir> [regex]
  local dir="$1"
  local regex="${2:-}"
  (cd "$ROOT/$dir" && ctest -j"$JOBS" --output-on-failure --timeout 300 ${regex:+-R "$regex"})
}

pytest_run() {  # pytest_run <binary> <pytest args...>
  local bin="$1"
  shift
  PING_EXPORTER_BIN="$bin" /usr/bin/python3 -m pytest -q -p no:cacheprovider -c tests/pytest.ini \
    --rootdir tests "$@"
}

step "install test dependencies" "$ROOT/tools/deps.sh" test
step "clang-format" tools/format.sh --check
step "build (-Werror)" build build
step "unit tests" ctest_in build
PY_SUITES=()
for d in tests/integration tests/e2e tests/ops tests/faults tests/soak; do
  [[ -d "$d" ]] && PY_SUITES+=("$d")
done
step "integration, e2e, ops, fault and soak tests" pytest_run "$ROOT/build/ping_exporter" \
  "${PY_SUITES[@]}"
step "ecosystem tests" pytest_run "$ROOT/build/ping_exporter" tests/ecosystem

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tools/lsan.supp:print_suppressions=0"
step "build (ASan+UBSan)" build build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DPING_EXPORTER_SANITIZE=address,undefined
step "unit tests (ASan+UBSan)" ctest_in build-asan
step "loopback and ops tests (ASan+UBSan)" pytest_run "$ROOT/build-asan/ping_exporter" \
  tests/integration/test_loopback.py tests/integration/test_probe_command.py tests/ops -m "not slow"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tools/tsan.supp"
TSAN_TESTS=(ping_exporter probe_test planning_test app_test metrics_test http_test status_test ondemand_test)
step "build (TSan: workers, store, HTTP)" build build-tsan -DCMAKE_BUILD_TYPE=Debug \
  -DPING_EXPORTER_SANITIZE=thread -- "${TSAN_TESTS[@]}"
step "worker, engine, store and HTTP tests (TSan)" ctest_in build-tsan \
  'WorkerTest|ProbeCommandTest|OnDemandTest|TargetTableTest|EngineTest|AppTest|StoreTest|HttpServerTest|HistoryTest|SamplerTest|ProbeHandlerTest'
step "concurrent scrapes and reloads (TSan)" pytest_run "$ROOT/build-tsan/ping_exporter" \
  tests/integration tests/ops -m tsan

step "fuzz (${FUZZ_SECONDS} s a target, plus regressions)" tools/fuzz.sh "$FUZZ_SECONDS"

echo
echo "suite took $((SECONDS - SUITE_START)) s"
if ((FAILED > 0)); then
  echo "failed steps: ${FAILED_STEPS[*]}"
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
