#!/usr/bin/env bash
# The whole test suite: README's run command first (as a user would: build/ as
# Release, the exporter up and scraped, then stopped), then the test builds, each
# in its own directory (never build/): a warnings-as-errors build + unit tests,
# loopback / namespace / Prometheus / ops / fault / soak / ecosystem tests, an
# ASan+UBSan build running the unit and loopback suites, a TSan build for the
# worker and scrape paths (with a planted race it must report), clang-format, and
# short fuzz runs. Every step that runs tests runs under tools/private_resolver.sh,
# so no lookup reaches the machine's nameserver. Ends with "N passed, N failed"
# (one per step) and exits non-zero if any step failed.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
JOBS="${JOBS:-$(nproc)}"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
export SOAK_SECONDS="${SOAK_SECONDS:-60}"
# Bound on README's run command: dependency check, a full Release build, the first round.
RUN_COMMAND_SECONDS="${RUN_COMMAND_SECONDS:-3600}"
# Every step that runs tests runs in here (a private /etc/hosts and resolv.conf).
ISOLATED=("$ROOT/tools/private_resolver.sh")
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

readme_block() {  # readme_block <n>: the n-th ```sh block of README.md, verbatim
  awk -v n="$1" '/^```sh$/ { k++; inside = (k == n); next } /^```/ { inside = 0; next } inside' \
    "$ROOT/README.md"
}

running() {  # running <pid>: the process exists and is not a zombie
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z* ]]
}

# README's run command, taken from README.md literally and run as a user would
# (it configures and builds build/ as Release, then starts the exporter on :9823):
# /-/ready must answer 200 before RUN_COMMAND_SECONDS, /metrics must carry a round
# of 127.0.0.1, and the Release build must print no warning. Then it is stopped.
# Also checks that .ci/run runs README's test command.
readme_run_command() {
  local cmd test_cmd
  cmd="$(readme_block 1)"
  test_cmd="$(readme_block 2)"
  if [[ -z "$cmd" || "$cmd" == *$'\n'* ]]; then
    echo "README's first sh block is not one command: '$cmd'" >&2
    return 1
  fi
  if [[ "$(grep -v '^#' "$ROOT/.ci/run" | tail -n 1)" != "$test_cmd" ]]; then
    echo ".ci/run does not end with README's test command '$test_cmd'" >&2
    return 1
  fi
  if [[ -n "$(ss -Hltn '( sport = :9823 )')" ]]; then
    echo "port 9823 is in use: README's exporter could not listen there" >&2
    return 1
  fi
  local log
  log="$(mktemp /tmp/pe-readme-run.XXXXXX)"
  echo "\$ $cmd"
  # Its own session, so the shell, the build and the exporter stop as one group.
  setsid "${ISOLATED[@]}" bash -c "$cmd" >"$log" 2>&1 &
  local pid=$! ok=0 ready=0
  local deadline=$((SECONDS + RUN_COMMAND_SECONDS))
  while ((SECONDS < deadline)) && running "$pid"; do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 http://127.0.0.1:9823/-/ready)" == 200 ]]; then
      ready=1
      break
    fi
    sleep 1
  done
  if ((ready)); then
    echo "serving after $((SECONDS - deadline + RUN_COMMAND_SECONDS)) s"
    # Read whole before grep: `grep -q` stops at the first match and, under pipefail, a
    # streamed body's later writes would fail curl with EPIPE (exit 23).
    local metrics
    metrics="$(curl -sf -m 10 http://127.0.0.1:9823/metrics)"
    if grep -q '^ping_up{.*target="127\.0\.0\.1"' <<<"$metrics"; then
      ok=1
    else
      echo "/metrics has no ping_up for 127.0.0.1" >&2
    fi
  elif running "$pid"; then
    echo "/-/ready did not answer 200 within ${RUN_COMMAND_SECONDS} s" >&2
  else
    echo "README's run command exited before the exporter was ready" >&2
  fi
  kill -TERM -- "-$pid" 2>/dev/null
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if grep -n 'warning:' "$log" >&2; then
    echo "the Release build printed warnings" >&2
    ok=0
  fi
  ((ok)) || tail -n 40 "$log" >&2
  rm -f "$log"
  ((ok))
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

ctest_in() {  # ctest_in <dir> [regex]; each |-separated part of regex must match a test
  local dir="$1"
  local regex="${2:-}"
  local part
  for part in ${regex//|/ }; do
    if ! (cd "$ROOT/$dir" && ctest -N -R "$part" | grep -qE '^Total Tests: [1-9]'); then
      echo "no test in $dir matches '$part'" >&2
      return 1
    fi
  done
  (cd "$ROOT/$dir" && "${ISOLATED[@]}" ctest -j"$JOBS" --output-on-failure --no-tests=error \
    --timeout 300 ${regex:+-R "$regex"})
}

pytest_run() {  # pytest_run <binary> <pytest args...>
  local bin="$1"
  shift
  PING_EXPORTER_BIN="$bin" "${ISOLATED[@]}" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    -c tests/pytest.ini --rootdir tests "$@"
}

tsan_pytest() {  # tsan_pytest <binary> <paths...>: the tests marked tsan, at least two of them
  local bin="$1"
  shift
  local n
  n="$(pytest_run "$bin" --collect-only -m tsan "$@" | grep -c '::')"
  if ((n < 2)); then
    echo "only $n tests are marked tsan" >&2
    return 1
  fi
  pytest_run "$bin" -m tsan "$@"
}

# The canary: a race planted on two HTTP threads (tests/unit/http/tsan_canary_test.cpp)
# that TSan must report with tools/tsan.supp in force. Silence means a suppression, or
# the build, hides races on HTTP threads.
tsan_canary() {
  local out
  out="$(cd "$ROOT/build-tsan" && PE_TSAN_CANARY=1 "${ISOLATED[@]}" tests/unit/http_test \
    --gtest_filter='HttpTsanCanaryTest.*' 2>&1)"
  if grep -q 'WARNING: ThreadSanitizer: data race' <<<"$out" && grep -q 'PlantedRace' <<<"$out"; then
    echo "TSan reported the planted race"
    return 0
  fi
  tail -n 40 <<<"$out" >&2
  echo "TSan did not report the race planted on the HTTP threads" >&2
  return 1
}

step "install test dependencies" "$ROOT/tools/deps.sh" test
step "clang-format" tools/format.sh --check
step "README's run command (build/ as Release, serving, stopped)" readme_run_command
step "build (-Werror)" build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "unit tests" ctest_in build-test
PY_SUITES=()
for d in tests/integration tests/e2e tests/ops tests/faults tests/soak; do
  [[ -d "$d" ]] && PY_SUITES+=("$d")
done
step "integration, e2e, ops, fault and soak tests" pytest_run "$ROOT/build-test/ping_exporter" \
  "${PY_SUITES[@]}"
step "ecosystem tests" pytest_run "$ROOT/build-test/ping_exporter" tests/ecosystem

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
step "build (ASan+UBSan)" build build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DPING_EXPORTER_SANITIZE=address,undefined
step "unit tests (ASan+UBSan)" ctest_in build-asan
step "loopback and ops tests (ASan+UBSan)" pytest_run "$ROOT/build-asan/ping_exporter" \
  tests/integration/test_loopback.py tests/integration/test_probe_command.py tests/ops -m "not slow"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tools/tsan.supp"
TSAN_TESTS=(ping_exporter probe_test planning_test app_test metrics_test http_test status_test ondemand_test)
step "build (TSan: workers, store, HTTP)" build build-tsan -DCMAKE_BUILD_TYPE=Debug \
  -DPING_EXPORTER_SANITIZE=thread -- "${TSAN_TESTS[@]}"
step "TSan reports a race planted on HTTP threads" tsan_canary
step "worker, engine, store and HTTP tests (TSan)" ctest_in build-tsan \
  'WorkerTest|ProbeCommandTest|OnDemandTest|TargetTableTest|EngineTest|AppTest|StoreTest|HttpServerTest|HistoryTest|SamplerTest|ProbeHandlerTest'
step "concurrent scrapes, reloads and probes (TSan)" tsan_pytest "$ROOT/build-tsan/ping_exporter" \
  tests/integration tests/ops

step "fuzz (${FUZZ_SECONDS} s a target, plus regressions)" "${ISOLATED[@]}" tools/fuzz.sh \
  "$FUZZ_SECONDS"

echo
echo "suite took $((SECONDS - SUITE_START)) s"
if ((FAILED > 0)); then
  echo "failed steps: ${FAILED_STEPS[*]}"
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
