#!/usr/bin/env bash
# The whole test suite: warnings-as-errors build + unit tests, loopback /
# namespace / Prometheus integration tests, an ASan+UBSan build running the
# unit and loopback suites, a TSan build for the worker and scrape paths,
# clang-format, and short fuzz runs. Prints "N passed, N failed" at the end.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc)}"
PASSED=0
FAILED=0
FAILED_STEPS=()

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

build() {  # build <dir> <extra cmake args...>
  local dir="$1"
  shift
  cmake -S "$ROOT" -B "$ROOT/$dir" -DPING_EXPORTER_WERROR=ON "$@" >/dev/null &&
    cmake --build "$ROOT/$dir" -j"$JOBS" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^gmake|^Consolidate' || true
  test -x "$ROOT/$dir/ping_exporter"
}

ctest_in() {  # ctest_in <dir> [regex]
  local dir="$1"
  local regex="${2:-}"
  (cd "$ROOT/$dir" && ctest -j"$JOBS" --output-on-failure --timeout 300 ${regex:+-R "$regex"})
}

pytest_run() {  # pytest_run <binary> <paths...>
  local bin="$1"
  shift
  PING_EXPORTER_BIN="$bin" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@"
}

step "install test dependencies" "$ROOT/tools/deps.sh" test
step "build (-Werror)" build build
step "unit tests" ctest_in build
step "integration and e2e tests" pytest_run "$ROOT/build/ping_exporter" tests/integration tests/e2e
if [[ -d tests/ecosystem ]]; then
  step "ecosystem tests" pytest_run "$ROOT/build/ping_exporter" tests/ecosystem
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
step "build (ASan+UBSan)" build build-asan -DCMAKE_BUILD_TYPE=Debug -DPING_EXPORTER_SANITIZE=address,undefined
step "unit tests (ASan+UBSan)" ctest_in build-asan
step "loopback tests (ASan+UBSan)" pytest_run "$ROOT/build-asan/ping_exporter" tests/integration -m "not slow"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tools/tsan.supp"
step "build (TSan)" build build-tsan -DCMAKE_BUILD_TYPE=Debug -DPING_EXPORTER_SANITIZE=thread
step "worker, store and HTTP tests (TSan)" ctest_in build-tsan 'WorkerTest|OneShotTest|StoreTest|HttpServerTest|ScrapeTest'
step "concurrent scrapes (TSan)" pytest_run "$ROOT/build-tsan/ping_exporter" tests/integration -m "tsan"

if [[ -x tools/format.sh ]]; then
  step "clang-format" tools/format.sh --check
fi
if [[ -x tools/fuzz.sh ]]; then
  step "fuzz (short)" tools/fuzz.sh 20
fi

echo
if ((FAILED > 0)); then
  echo "failed steps: ${FAILED_STEPS[*]}"
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
