#!/usr/bin/env bash
# On a GPU machine with CUDA and CMake (no Node needed): builds the CUDA backend for this GPU,
# runs the byte-equality tests (test/native/cuda_ops.cpp) and the bench (bench/cuda/cuda_bench.cu).
# Usage: scripts/device-cuda-check.sh [MODELS_DIR] [--quick|--tests-only]; logs go to $OUT (or ./device-out).
# BITEXACT_EXTRA_CASES=DIR also runs every model in DIR through the same byte-equality check
# (quantised end-to-end models, say, that are not committed).
set -uo pipefail
cd "$(dirname "$0")/.."
models=${1:-../shared/models}
quick=${2:-}
out=${OUT:-device-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${arch:-90}" >"$out/configure.log" 2>&1 \
  || { tail -40 "$out/configure.log"; exit 1; }
status=0
if cmake --build build-gpu -j "$(nproc)" --target bitexact_cuda_test bitexact_golden_test >"$out/build.log" 2>&1; then
  # The GEMM kernel this GPU uses by default, then every other path it has, on the same cases.
  echo "default GEMM path:" | tee "$out/cuda_test.txt"
  timeout 300 build-gpu/bitexact_cuda_test test/native/cuda_cases "$models" models 2>&1 | tee -a "$out/cuda_test.txt"
  status=${PIPESTATUS[0]}
  for path in mma plain wgmma; do
    echo "BITEXACT_CUDA_GEMM=$path:" | tee -a "$out/cuda_test.txt"
    BITEXACT_CUDA_GEMM=$path timeout 300 build-gpu/bitexact_cuda_test test/native/cuda_cases "$models" models > "$out/cuda_test_$path.txt" 2>&1
    rc=$?
    grep -E "FAIL|checks" "$out/cuda_test_$path.txt" | tail -5 | tee -a "$out/cuda_test.txt"
    [ $rc = 0 ] || status=1
  done
  if [ -n "${BITEXACT_EXTRA_CASES:-}" ]; then
    echo "extra cases ($BITEXACT_EXTRA_CASES):" | tee -a "$out/cuda_test.txt"
    timeout 300 build-gpu/bitexact_cuda_test "$BITEXACT_EXTRA_CASES" "$models" models > "$out/cuda_test_extra.txt" 2>&1
    rc=$?
    grep -E "^(ok|FAIL)|checks" "$out/cuda_test_extra.txt" | head -20 | tee -a "$out/cuda_test.txt"
    [ $rc = 0 ] || status=1
  fi
  if command -v cuobjdump >/dev/null; then
    echo "tensor-core instructions in the sm_90a GEMM:" $(cuobjdump -sass build-gpu/libbitexact_cuda.a 2>/dev/null | grep -o "IGMMA[.A-Z0-9]*\|IMMA[.A-Z0-9]*" | sort | uniq -c)
  fi
  timeout 120 build-gpu/bitexact_golden_test "$models" models 2>&1 | tail -2 | tee "$out/golden_cpu.txt"
else
  grep -E "error" -A3 "$out/build.log" | head -60
  status=1
fi
[ "$quick" = "--tests-only" ] && exit $status
if cmake --build build-gpu -j "$(nproc)" --target bitexact_cuda_bench >>"$out/build.log" 2>&1; then
  timeout 300 build-gpu/bitexact_cuda_bench "$models" models $quick 2>&1 | tee "$out/bench.md"
else
  echo "bench build failed:"; grep -E "error" -A3 "$out/build.log" | tail -40
fi
exit $status
