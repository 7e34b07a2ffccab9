#!/usr/bin/env bash
# Builds the core's GoogleTest unit tests with CMake and runs them with CTest.
#
#   bash scripts/unit.sh              build into build/unit and run
#   BUILD_DIR=dir bash scripts/unit.sh
#   SANITIZE=1 bash scripts/unit.sh   with AddressSanitizer and UBSan
#                                     (use a BUILD_DIR of its own)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build/unit}
sanitize=OFF
if [ "${SANITIZE:-0}" = 1 ]; then
	sanitize=ON
fi

cmake -S . -B "$build_dir" -DCOMPUTE_SANITIZE="$sanitize"
cmake --build "$build_dir" -j2
ctest --test-dir "$build_dir" --output-on-failure
