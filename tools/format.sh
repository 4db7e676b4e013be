#!/usr/bin/env bash
# clang-format over the C++ sources: `tools/format.sh` rewrites, `--check` only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
CF="$(command -v clang-format-14 || command -v clang-format)"
mapfile -t files < <(git ls-files -co --exclude-standard -- 'exporter/*.cpp' 'exporter/*.h' 'tests/*.cpp' 'tests/*.h')
if [[ "${1:-}" == "--check" ]]; then
  "$CF" --dry-run --Werror "${files[@]}"
  echo "clang-format: ${#files[@]} files clean"
else
  "$CF" -i "${files[@]}"
fi
