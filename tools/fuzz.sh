#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan) in build-fuzz/ and runs each one.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET]    (default 20)
#
# Per target: the checked-in reproducers in tests/fuzz/regressions/<target>/ run first
# as plain inputs, then the fuzzer runs for SECONDS_PER_TARGET on a temporary COPY of
# tests/fuzz/corpus/<target>/ (the checked-in corpus never grows). Crash inputs are
# kept in build-fuzz/artifacts/<target>/ and their paths printed. Exit status is
# non-zero if any target crashed, leaked, timed out or ran out of memory.
# Environment: FUZZ_TARGETS="icmp config" limits the targets; FUZZ_BUILD_DIR overrides
# the build directory.
set -euo pipefail

SECONDS_PER_TARGET="${1:-20}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
FUZZ_SRC="$ROOT/tests/fuzz"
read -r -a TARGETS <<<"${FUZZ_TARGETS:-icmp config web_config duration probe_query targets}"

WORK="$(mktemp -d /tmp/pe-fuzz.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Sanitizers on all code; libFuzzer itself links only into the fuzz executables
# (tests/fuzz/CMakeLists.txt). UBSan must abort, or libFuzzer would not see the bug.
SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
SAN_FLAGS+=" -fno-omit-frame-pointer -O1 -g"

CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Debug \
  -DPING_EXPORTER_FUZZ=ON -DPING_EXPORTER_TESTS=OFF -DPING_EXPORTER_WERROR=ON \
  -DCMAKE_CXX_FLAGS="$SAN_FLAGS" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
build_targets=()
for t in "${TARGETS[@]}"; do build_targets+=(--target "pe_fuzz_$t"); done
cmake --build "$BUILD" -j"$(nproc)" "${build_targets[@]}"

# A throwaway CA, server certificate and key for the web_config target's sandbox, so
# seeds naming cert.pem/key.pem/ca.pem reach the TLS checks. Loopback names only.
WEB_DIR="$WORK/web"
mkdir -p "$WEB_DIR"
if ! {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=pe-fuzz-ca" -keyout "$WEB_DIR/ca-key.pem" -out "$WEB_DIR/ca.pem" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$WEB_DIR/key.pem" -out "$WEB_DIR/server.csr" &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WEB_DIR/ext.cnf" &&
  openssl x509 -req -in "$WEB_DIR/server.csr" -CA "$WEB_DIR/ca.pem" -CAkey "$WEB_DIR/ca-key.pem" \
    -CAcreateserial -days 2 -extfile "$WEB_DIR/ext.cnf" -out "$WEB_DIR/cert.pem"
} >"$WORK/openssl.log" 2>&1; then
  echo "fuzz: warning: could not make test certificates; TLS file paths stay unreachable" >&2
  cat "$WORK/openssl.log" >&2
fi
rm -f "$WEB_DIR/ca-key.pem" "$WEB_DIR/server.csr" "$WEB_DIR/ext.cnf"
export PE_FUZZ_WEB_DIR="$WEB_DIR"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
summary=()
for t in "${TARGETS[@]}"; do
  bin="$BUILD/fuzz/pe_fuzz_$t"
  artifacts="$BUILD/artifacts/$t"
  mkdir -p "$artifacts"
  log="$WORK/$t.log"

  # 1. Known reproducers, each run once.
  regress="$FUZZ_SRC/regressions/$t"
  mapfile -t inputs < <(find "$regress" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | sort)
  bad=0
  for input in "${inputs[@]}"; do
    # One process per input: libFuzzer stops at the first failing one.
    if ! "$bin" -rss_limit_mb=2048 -timeout=25 "$input" </dev/null >"$log.regress" 2>&1; then
      bad=$((bad + 1))
      echo "fuzz: $t: REGRESSION FAILED: $input"
      grep -E 'ERROR|runtime error|property violated|SUMMARY' "$log.regress" | head -n 5 || true
    fi
  done
  if [ "${#inputs[@]}" -gt 0 ]; then
    echo "fuzz: $t: regression inputs: $((${#inputs[@]} - bad)) of ${#inputs[@]} pass"
    if [ "$bad" -gt 0 ]; then
      failed=1
      summary+=("$t: $bad of ${#inputs[@]} regression inputs FAILED")
    fi
  fi

  # 2. Fuzz on a copy of the corpus.
  corpus="$WORK/corpus-$t"
  mkdir -p "$corpus"
  cp -r "$FUZZ_SRC/corpus/$t/." "$corpus/"
  rc=0
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" </dev/null >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)"
  line="$t: execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} peak_rss_mb=${rss:-?}"
  line+=" corpus=$(find "$corpus" -type f | wc -l)"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "fuzz: $t: FAILED (exit $rc); last lines of the log:"
    tail -n 60 "$log"
    crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    line+=" FAILED crash_file=${crash:-none}"
    [ -n "$crash" ] && echo "fuzz: $t: reproduce with: $bin $crash"
  fi
  echo "fuzz: $line"
  summary+=("$line")
done

echo "fuzz: summary (${SECONDS_PER_TARGET}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
