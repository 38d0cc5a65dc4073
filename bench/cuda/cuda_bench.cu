// bitexact_cuda_bench [MODELS_DIR] [BUNDLED_DIR] [--quick]
// One process, one device: (1) int8 GEMM M=N=K=1024 to 8192 through bitexact's kernel and
// through cuBLASLt's int8 tensor-core path (int32 output, same operands; the results are also
// compared element by element), as TOPS and a ratio; (2) real CNN models at batch 1, 32 and 256
// through bitexact on the GPU and on the CPU, as samples/s and a ratio, with the output hashes
// compared. Prints a Markdown report (bench/results/cuda-*.md are its output).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/core/graph.h"
#include "../../native/core/onnx_model.h"
#include "../../native/core/tensor_hash.h"
#include "../../native/cuda/cuda_backend.h"
#include "../../native/cuda/kernels.h"
#include "../../test/native/golden_list.h"

namespace {

#define CHECK_CUDA(call)                                                                       \
  do {                                                                                         \
    cudaError_t e_ = (call);                                                                   \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                            \
    }                                                                                          \
  } while (0)
#define CHECK_LT(call)                                                                           \
  do {                                                                                           \
    cublasStatus_t s_ = (call);                                                                  \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                           \
      std::fprintf(stderr, "%s:%d %s: cublas status %d\n", __FILE__, __LINE__, #call, int(s_)); \
      return -1.0;                                                                               \
    }                                                                                            \
  } while (0)

// Median of `reps` timings (ms) of fn on `stream`, after warm-up.
template <typename Fn>
double medianMs(cudaStream_t stream, int reps, Fn fn) {
  for (int i = 0; i < 3; ++i) fn();
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> times;
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(start, stream));
    fn();
    CHECK_CUDA(cudaEventRecord(stop, stream));
    CHECK_CUDA(cudaEventSynchronize(stop));
    CHECK_CUDA(cudaGetLastError());
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// cuBLASLt int8 x int8 -> int32, C[M][N] column-major = (A^T [M][K]) x B [K][N]: the "TN" layout
// its IMMA kernels take. Returns the median ms, or -1 when cuBLASLt refuses.
double cublasLtGemm(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c, cudaStream_t stream, int reps) {
  cublasLtHandle_t handle;
  CHECK_LT(cublasLtCreate(&handle));
  cublasLtMatmulDesc_t op;
  CHECK_LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
  const cublasOperation_t transA = CUBLAS_OP_T, transB = CUBLAS_OP_N;
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof(transA)));
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof(transB)));
  cublasLtMatrixLayout_t la, lb, lc;
  CHECK_LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_8I, uint64_t(k), uint64_t(m), k));
  CHECK_LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8I, uint64_t(k), uint64_t(n), k));
  CHECK_LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32I, uint64_t(m), uint64_t(n), m));
  const size_t workspaceBytes = size_t(64) << 20;
  void* workspace = nullptr;
  CHECK_CUDA(cudaMalloc(&workspace, workspaceBytes));
  cublasLtMatmulPreference_t pref;
  CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
  CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes, sizeof(workspaceBytes)));
  cublasLtMatmulHeuristicResult_t heuristic[8];
  int found = 0;
  CHECK_LT(cublasLtMatmulAlgoGetHeuristic(handle, op, la, lb, lc, lc, pref, 8, heuristic, &found));
  double best = -1;
  const int32_t alpha = 1, beta = 0;
  for (int i = 0; i < found; ++i) {
    if (cublasLtMatmul(handle, op, &alpha, a, la, b, lb, &beta, c, lc, c, lc, &heuristic[i].algo, workspace, workspaceBytes, stream) !=
        CUBLAS_STATUS_SUCCESS) {
      continue;
    }
    const double ms = medianMs(stream, reps, [&] {
      cublasLtMatmul(handle, op, &alpha, a, la, b, lb, &beta, c, lc, c, lc, &heuristic[i].algo, workspace, workspaceBytes, stream);
    });
    if (best < 0 || ms < best) best = ms;
  }
  // Leave C holding the result of the fastest algorithm's last run (all algorithms agree).
  cudaFree(workspace);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(op);
  cublasLtDestroy(handle);
  return best;
}

void gemmBench(int64_t size, const std::vector<bx::cuda::GemmPath>& paths, int reps) {
  const int64_t m = size, n = size, k = size;
  std::mt19937_64 rng(size);
  std::vector<int8_t> weights(size_t(m * k)), activations(size_t(n * k));
  for (auto& v : weights) v = int8_t(rng());
  for (auto& v : activations) v = int8_t(rng());
  // bitexact's row constants for int8 activations with zero point 0 (offset to u8 by +128):
  // acc = D - 128 * Sb.
  std::vector<int32_t> rowConstants(static_cast<size_t>(m)), zeroPoints(static_cast<size_t>(m), 0);
  for (int64_t r = 0; r < m; ++r) {
    int64_t sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += weights[size_t(r * k + i)];
    rowConstants[size_t(r)] = int32_t(uint32_t(-128 * sum));
  }
  int8_t *dW, *dA;
  int32_t *dRow, *dZero, *dColSums, *dOurs, *dTheirs;
  uint8_t* dPacked;
  CHECK_CUDA(cudaMalloc(&dW, weights.size()));
  CHECK_CUDA(cudaMalloc(&dA, activations.size()));
  CHECK_CUDA(cudaMalloc(&dRow, size_t(m) * 4));
  CHECK_CUDA(cudaMalloc(&dZero, size_t(m) * 4));
  CHECK_CUDA(cudaMalloc(&dColSums, size_t(n) * 4));
  CHECK_CUDA(cudaMalloc(&dPacked, size_t(n * k)));
  CHECK_CUDA(cudaMalloc(&dOurs, size_t(m * n) * 4));
  CHECK_CUDA(cudaMalloc(&dTheirs, size_t(m * n) * 4));
  CHECK_CUDA(cudaMemcpy(dW, weights.data(), weights.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dA, activations.data(), activations.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dRow, rowConstants.data(), size_t(m) * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dZero, zeroPoints.data(), size_t(m) * 4, cudaMemcpyHostToDevice));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));

  bx::LinearDeviceArgs args;
  args.rows = m;
  args.depth = k;
  args.input = reinterpret_cast<const uint8_t*>(dA);
  args.inputSigned = true;
  args.columns = n;
  args.strideK = 1;
  args.strideCol = k;
  args.requantize = false;
  args.output = reinterpret_cast<uint8_t*>(dOurs);
  args.colsPerImage = n;
  args.rowStride = 1;
  args.colStride = m;
  bx::cuda::LinearConstants w;
  w.weights = dW;
  w.rowsPadded = m;  // sizes here are multiples of every tile
  w.depthPadded = k;
  w.zeroPoints = dZero;
  w.rowConstants = dRow;
  const double opsPerGemm = 2.0 * double(m) * double(n) * double(k);
  const double theirsMs = cublasLtGemm(m, n, k, dW, dA, dTheirs, stream, reps);
  const double theirTops = theirsMs > 0 ? opsPerGemm / (theirsMs * 1e-3) / 1e12 : 0;
  std::vector<int32_t> ours(size_t(m * n)), theirs(size_t(m * n));
  CHECK_CUDA(cudaMemcpy(theirs.data(), dTheirs, theirs.size() * 4, cudaMemcpyDeviceToHost));
  for (bx::cuda::GemmPath path : paths) {
    CHECK_CUDA(cudaMemset(dOurs, 0xAB, size_t(m * n) * 4));  // poison: every element must be written
    const double packMs = medianMs(stream, reps, [&] { bx::cuda::launchPackActivations(args, k, n, dPacked, dColSums, stream); });
    const double gemmMs = medianMs(stream, reps, [&] { bx::cuda::launchGemm(args, w, dPacked, dColSums, n, path, stream); });
    CHECK_CUDA(cudaMemcpy(ours.data(), dOurs, ours.size() * 4, cudaMemcpyDeviceToHost));
    size_t differ = 0;
    for (size_t i = 0; i < ours.size(); ++i) differ += ours[i] != theirs[i];
    const double tops = opsPerGemm / (gemmMs * 1e-3) / 1e12;
    const double topsWithPack = opsPerGemm / ((gemmMs + packMs) * 1e-3) / 1e12;
    std::printf("| %lld^3 | %s | %.1f | %.1f | %.1f | %.2f | %s |\n", (long long)size, bx::cuda::gemmPathName(path), tops, topsWithPack,
                theirTops, theirTops > 0 ? tops / theirTops : 0.0,
                theirsMs < 0 ? "cuBLASLt refused" : (differ == 0 ? "identical int32" : (std::to_string(differ) + " differ").c_str()));
    std::fflush(stdout);
  }
  cudaFree(dW); cudaFree(dA); cudaFree(dRow); cudaFree(dZero); cudaFree(dColSums); cudaFree(dPacked); cudaFree(dOurs); cudaFree(dTheirs);
  cudaStreamDestroy(stream);
}

// Stacks `copies` of a sample along dim 0.
bx::Tensor stack(const bx::Tensor& sample, int64_t copies) {
  bx::Shape shape = sample.shape;
  shape[0] *= copies;
  bx::Tensor t = bx::makeTensor(sample.dtype, shape);
  for (int64_t i = 0; i < copies; ++i) std::memcpy(t.buffer->data() + size_t(i) * sample.byteSize(), sample.bytes(), sample.byteSize());
  return t;
}

std::string outputHash(const std::vector<bx::NamedTensor>& outputs) {
  std::vector<std::pair<std::string, bx::Hash32>> hashes;
  for (const auto& out : outputs) hashes.emplace_back(out.name, bx::hashTensor(out.tensor));
  return bx::hashToHex(bx::hashNamedTensors(hashes));
}

// Processes `samples` samples: one run of a stacked batch when the model takes any batch, else
// samples / modelBatch runs spread over `workers` host threads (each GPU run has its own stream).
// Returns seconds and the hash of the last run's outputs.
double processSamples(const bx::CompiledModel& model, bx::DeviceBackend* device, const bx::Tensor& sample, int64_t modelBatch,
                      bool batchable, int64_t samples, int workers, std::string* hash) {
  const auto start = std::chrono::steady_clock::now();
  const std::string name = model.inputs()[0].name;
  if (batchable) {
    const std::vector<bx::NamedTensor> in = {{name, stack(sample, samples)}};
    const auto out = device ? model.runOnDevice(*device, in, bx::RunOptions()) : model.run(in, bx::RunOptions());
    *hash = outputHash(out);
  } else {
    const int64_t runs = std::max<int64_t>(1, samples / modelBatch);
    const std::vector<bx::NamedTensor> in = {{name, sample}};
    std::vector<std::thread> threads;
    std::vector<std::string> hashes(static_cast<size_t>(workers));
    std::atomic<int64_t> next{0};
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        while (next.fetch_add(1) < runs) {
          const auto out = device ? model.runOnDevice(*device, in, bx::RunOptions()) : model.run(in, bx::RunOptions());
          hashes[size_t(w)] = outputHash(out);
        }
      });
    }
    for (auto& t : threads) t.join();
    *hash = hashes[0];
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void modelBench(const std::string& sharedRoot, const std::string& bundledRoot, bx::DeviceBackend& device, bool quick) {
  std::printf("\n| model | batch | GPU samples/s | CPU samples/s | GPU / CPU | same hash |\n|---|---|---|---|---|---|\n");
  for (const Golden& g : kGolden) {
    std::vector<uint8_t> modelBytes, inputBytes;
    const std::string root = g.bundled ? bundledRoot : sharedRoot;
    if (!readFile(root + "/" + g.model, &modelBytes) || !readFile(root + "/" + g.input, &inputBytes)) continue;
    auto model = bx::CompiledModel::load(modelBytes.data(), modelBytes.size(), bx::ModelOptions());
    const bx::Tensor sample = bx::onnx::parseTensor(inputBytes.data(), inputBytes.size(), nullptr);
    const bool batchable = model->inputs()[0].dims[0] < 0;
    const int64_t modelBatch = sample.shape[0];
    for (int64_t batch : {int64_t(1), int64_t(32), int64_t(256)}) {
      if (quick && batch == 256) continue;
      const int64_t samples = std::max(batch, modelBatch);
      std::string gpuHash, cpuHash;
      processSamples(*model, &device, sample, modelBatch, batchable, samples, 8, &gpuHash);  // warm-up
      std::vector<double> gpu;
      for (int i = 0; i < 5; ++i) gpu.push_back(processSamples(*model, &device, sample, modelBatch, batchable, samples, 8, &gpuHash));
      std::sort(gpu.begin(), gpu.end());
      const double cpu = processSamples(*model, nullptr, sample, modelBatch, batchable, samples, 1, &cpuHash);
      const double gpuRate = double(samples) / gpu[2], cpuRate = double(samples) / cpu;
      std::printf("| %s | %lld%s | %.0f | %.0f | %.2f | %s |\n", g.model.c_str(), (long long)samples,
                  batchable ? "" : (" (" + std::to_string(samples / std::max<int64_t>(1, modelBatch)) + " runs)").c_str(), gpuRate, cpuRate,
                  gpuRate / cpuRate, gpuHash == cpuHash ? "yes" : "NO");
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string sharedRoot = argc > 1 ? argv[1] : "../shared/models";
  const std::string bundledRoot = argc > 2 ? argv[2] : "models";
  const bool quick = argc > 3 && std::string(argv[3]) == "--quick";
  const bx::cuda::CudaStatus& status = bx::cuda::status();
  if (status.devices.empty()) {
    std::printf("no usable GPU: %s\n", status.reason.c_str());
    return 3;
  }
  const bx::cuda::CudaDeviceInfo& d = status.devices[0];
  std::printf("# bitexact CUDA bench\n\ndevice: %s (sm_%d%d, %d SMs), driver %d, CUDA runtime %d, CPU threads %d\n\n", d.name.c_str(),
              d.major, d.minor, d.multiprocessors, status.driverVersion, status.runtimeVersion, int(std::thread::hardware_concurrency()));
  std::printf("| GEMM | bitexact kernel | bitexact TOPS (GEMM) | bitexact TOPS (pack + GEMM) | cuBLASLt TOPS | bitexact / cuBLASLt | results |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::vector<bx::cuda::GemmPath> paths;
  if (d.major >= 8) paths.push_back(bx::cuda::GemmPath::Mma);
  if (d.major == 9 && d.minor == 0) paths.push_back(bx::cuda::GemmPath::Wgmma);
  if (paths.empty()) paths.push_back(bx::cuda::GemmPath::Plain);
  for (int64_t size : {int64_t(1024), int64_t(2048), int64_t(4096), int64_t(8192)}) gemmBench(size, paths, quick ? 5 : (size < 8192 ? 20 : 10));
  std::fflush(stdout);
  auto device = bx::cuda::openDevice(d.index);
  modelBench(sharedRoot, bundledRoot, *device, quick);
  return 0;
}
