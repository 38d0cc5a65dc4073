#!/usr/bin/env bash
# Runs the golden-hash test with the AVX-512 VNNI kernel emulated by SIMDe (libsimde-dev), so the
# AVX-512 path -- dispatch, packing, blocking, epilogue -- is exercised on CPUs without AVX-512.
# Real AVX-512 hardware runs the same test natively (bitexact_golden_test in a plain CMake build).
# Exit 0 on success, 1 on a mismatch, 3 when cmake or SIMDe is missing (the check is skipped).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-avx512-emulated
if ! command -v cmake >/dev/null 2>&1 || [ ! -f /usr/include/simde/x86/avx512.h ]; then
  echo "avx512-emulated: skipped (needs cmake and libsimde-dev)"
  exit 3
fi
cmake -S . -B "$dir" -DBITEXACT_EMULATE_AVX512=ON -DBITEXACT_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$dir" --target bitexact_golden_test -j "$(nproc)" >/dev/null || exit 1
"$dir/bitexact_golden_test" ../shared/models models
