// bitexact_cuda_test [CASES_DIR] [MODELS_DIR] [BUNDLED_DIR]
// Runs every single-op case (test/native/cuda_cases, written by scripts/make-cuda-cases.mjs) on
// the GPU and on the CPU scalar reference, over random and extreme inputs, and requires the same
// bytes in every output and every trace entry; then runs the real models on the GPU and requires
// the CPU's output hashes (the committed golden ones) and trace roots. Needs no Node.
// Exit 0: all equal; 1: a difference or error; 3: no usable GPU (nothing was checked).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "../../native/core/graph.h"
#include "../../native/core/merkle.h"
#include "../../native/core/onnx_model.h"
#include "../../native/core/tensor_hash.h"
#include "../../native/cuda/cuda_backend.h"
#include "golden_list.h"

namespace {

int checks = 0, failures = 0;

enum class Pattern { Random, Low, High, Alternating };
const char* patternName(Pattern p) {
  switch (p) {
    case Pattern::Random: return "random";
    case Pattern::Low: return "low";
    case Pattern::High: return "high";
    default: return "alternating";
  }
}

bx::Tensor makeInput(const bx::TensorSpec& spec, Pattern pattern, std::mt19937_64& rng) {
  bx::Shape shape;
  for (int64_t d : spec.dims) shape.push_back(d < 0 ? 3 : d);
  bx::Tensor t = bx::makeTensor(spec.dtype, shape);
  const int64_t n = t.size();
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> real(-40.0f, 40.0f);
  for (int64_t i = 0; i < n; ++i) {
    switch (spec.dtype) {
      case bx::DType::Float32: {
        float v;
        if (pattern == Pattern::Random) {
          // Half the values sit on exact halves of small powers of two: rounding ties.
          v = (i & 1) ? real(rng) : float(int(byte(rng)) - 128) * 0.0625f + 0.03125f * float(i & 2);
        } else if (pattern == Pattern::Low) {
          v = -1e30f;
        } else if (pattern == Pattern::High) {
          v = 1e30f;
        } else {
          v = (i % 3 == 0) ? 1e-30f : ((i & 1) ? 3.0e5f : -7.5f);
        }
        t.mutableData<float>()[i] = v;
        break;
      }
      case bx::DType::Int64: {
        // Index inputs (Gather): rows -5 .. 19, negative ones counting from the end.
        const int64_t v = pattern == Pattern::Random ? int64_t(rng() % 25) - 5 : pattern == Pattern::Low ? -5 : pattern == Pattern::High ? 19 : ((i & 1) ? 19 : -5);
        t.mutableData<int64_t>()[i] = v;
        break;
      }
      case bx::DType::Int32: {
        int32_t v = pattern == Pattern::Random ? int32_t(rng() % 200001) - 100000 : pattern == Pattern::Low ? -100000 : pattern == Pattern::High ? 100000 : ((i & 1) ? 100000 : -100000);
        t.mutableData<int32_t>()[i] = v;
        break;
      }
      default: {
        const size_t size = bx::dtypeSize(spec.dtype);
        const bool isSigned = spec.dtype == bx::DType::Int8 || spec.dtype == bx::DType::Int16;
        for (size_t b = 0; b < size; ++b) {
          uint8_t v;
          const uint8_t low = (isSigned && b + 1 == size) ? 0x80 : 0x00, high = (isSigned && b + 1 == size) ? 0x7f : 0xff;
          if (pattern == Pattern::Random) v = uint8_t(byte(rng));
          else if (pattern == Pattern::Low) v = low;
          else if (pattern == Pattern::High) v = high;
          else v = (i & 1) ? high : low;
          t.buffer->data()[size_t(i) * size + b] = v;
        }
      }
    }
  }
  return t;
}

// Compares outputs and traces of a CPU and a GPU run; prints the first difference.
bool sameRuns(const std::string& label, const std::vector<bx::NamedTensor>& cpu, const std::vector<bx::NamedTensor>& gpu,
              const std::vector<bx::TraceEntry>& cpuTrace, const std::vector<bx::TraceEntry>& gpuTrace) {
  ++checks;
  for (size_t o = 0; o < cpu.size(); ++o) {
    const bx::Tensor& a = cpu[o].tensor;
    const bx::Tensor& b = gpu[o].tensor;
    if (a.dtype != b.dtype || a.shape != b.shape) {
      std::printf("FAIL  %s: output %s is %s %s on the GPU, %s %s on the CPU\n", label.c_str(), cpu[o].name.c_str(), bx::dtypeName(b.dtype),
                  bx::shapeToString(b.shape).c_str(), bx::dtypeName(a.dtype), bx::shapeToString(a.shape).c_str());
      ++failures;
      return false;
    }
    const size_t bytes = a.byteSize();
    if (std::memcmp(a.bytes(), b.bytes(), bytes) != 0) {
      size_t i = 0;
      while (a.bytes()[i] == b.bytes()[i]) ++i;
      size_t differing = 0;
      for (size_t k = 0; k < bytes; ++k) differing += a.bytes()[k] != b.bytes()[k];
      std::printf("FAIL  %s: output %s differs in %zu of %zu bytes, first at byte %zu (cpu %u, gpu %u)\n", label.c_str(), cpu[o].name.c_str(),
                  differing, bytes, i, a.bytes()[i], b.bytes()[i]);
      ++failures;
      return false;
    }
  }
  if (cpuTrace.size() != gpuTrace.size()) {
    std::printf("FAIL  %s: trace has %zu entries on the GPU, %zu on the CPU\n", label.c_str(), gpuTrace.size(), cpuTrace.size());
    ++failures;
    return false;
  }
  for (size_t i = 0; i < cpuTrace.size(); ++i) {
    if (cpuTrace[i].leaf != gpuTrace[i].leaf) {
      std::printf("FAIL  %s: trace entry %zu (%s, %s) differs\n", label.c_str(), i, cpuTrace[i].node.c_str(), cpuTrace[i].op.c_str());
      ++failures;
      return false;
    }
  }
  return true;
}

void runCase(const std::filesystem::path& file, bx::DeviceBackend& device) {
  std::vector<uint8_t> bytes;
  readFile(file.string(), &bytes);
  const std::string name = file.stem().string();
  std::shared_ptr<bx::CompiledModel> model;
  try {
    bx::ModelOptions options;
    options.isa = "scalar";
    model = bx::CompiledModel::load(bytes.data(), bytes.size(), options);
  } catch (const bx::Error& e) {
    std::printf("FAIL  %s: load: %s\n", name.c_str(), e.what());
    ++failures;
    return;
  }
  std::mt19937_64 rng(std::hash<std::string>()(name));
  int passed = 0, runs = 0;
  for (Pattern pattern : {Pattern::Random, Pattern::Random, Pattern::Random, Pattern::Low, Pattern::High, Pattern::Alternating}) {
    std::vector<bx::NamedTensor> inputs;
    for (const bx::TensorSpec& spec : model->inputs()) inputs.push_back({spec.name, makeInput(spec, pattern, rng)});
    for (bool allowNonFinite : {false, true}) {
      bx::RunOptions options;
      options.allowNonFinite = allowNonFinite;
      std::string cpuError, gpuError;
      std::vector<bx::NamedTensor> cpu, gpu;
      std::vector<bx::TraceEntry> cpuTrace, gpuTrace;
      try { cpu = model->run(inputs, options, &cpuTrace); } catch (const bx::Error& e) { cpuError = std::string(bx::errorCodeName(e.code())) + ": " + e.what(); }
      try { gpu = model->runOnDevice(device, inputs, options, &gpuTrace); } catch (const bx::Error& e) { gpuError = std::string(bx::errorCodeName(e.code())) + ": " + e.what(); }
      const std::string label = name + " [" + patternName(pattern) + (allowNonFinite ? ", allowNonFinite" : "") + "]";
      ++runs;
      if (!cpuError.empty() || !gpuError.empty()) {
        ++checks;
        // Refusals (a non-finite input, say) must be the same refusal.
        if (cpuError != gpuError) {
          std::printf("FAIL  %s: cpu '%s', gpu '%s'\n", label.c_str(), cpuError.c_str(), gpuError.c_str());
          ++failures;
        } else {
          ++passed;
        }
        continue;
      }
      if (sameRuns(label, cpu, gpu, cpuTrace, gpuTrace)) ++passed;
    }
  }
  std::printf("%s  %-34s %d/%d runs equal\n", passed == runs ? "ok  " : "FAIL", name.c_str(), passed, runs);
}

void runModels(const std::string& sharedRoot, const std::string& bundledRoot, bx::DeviceBackend& device) {
  for (const Golden& g : kGolden) {
    const std::string root = g.bundled ? bundledRoot : sharedRoot;
    std::vector<uint8_t> modelBytes, inputBytes;
    if (!readFile(root + "/" + g.model, &modelBytes) || !readFile(root + "/" + g.input, &inputBytes)) {
      std::printf("skip  %s (not found under %s)\n", g.model.c_str(), root.c_str());
      continue;
    }
    try {
      auto model = bx::CompiledModel::load(modelBytes.data(), modelBytes.size(), bx::ModelOptions());
      const bx::Tensor input = bx::onnx::parseTensor(inputBytes.data(), inputBytes.size(), nullptr);
      const std::vector<bx::NamedTensor> inputs = {{model->inputs()[0].name, input}};
      std::vector<bx::TraceEntry> cpuTrace, gpuTrace;
      const auto cpu = model->run(inputs, bx::RunOptions(), &cpuTrace);
      const auto gpu = model->runOnDevice(device, inputs, bx::RunOptions(), &gpuTrace);
      const auto gpuUntraced = model->runOnDevice(device, inputs, bx::RunOptions());
      std::vector<std::pair<std::string, bx::Hash32>> hashes;
      for (const auto& out : gpuUntraced) hashes.emplace_back(out.name, bx::hashTensor(out.tensor));
      const std::string got = bx::hashToHex(bx::hashNamedTensors(hashes));
      const bool equal = sameRuns(g.model, cpu, gpu, cpuTrace, gpuTrace);
      ++checks;
      if (got != g.outputHash) {
        ++failures;
        std::printf("FAIL  %s: GPU output hash %s, golden %s\n", g.model.c_str(), got.c_str(), g.outputHash.c_str());
      } else if (equal) {
        std::printf("ok    %-40s golden hash and all %zu trace entries equal\n", g.model.c_str(), gpuTrace.size());
      }
    } catch (const bx::Error& e) {
      ++failures;
      std::printf("FAIL  %s: %s: %s\n", g.model.c_str(), bx::errorCodeName(e.code()), e.what());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string casesDir = argc > 1 ? argv[1] : "test/native/cuda_cases";
  const std::string sharedRoot = argc > 2 ? argv[2] : "../shared/models";
  const std::string bundledRoot = argc > 3 ? argv[3] : "models";
  const bx::cuda::CudaStatus& status = bx::cuda::status();
  std::printf("cuda: compiled %s, runtime %d, driver %d, %zu usable device(s)\n", status.compiled ? "yes" : "no", status.runtimeVersion,
              status.driverVersion, status.devices.size());
  for (const auto& d : status.devices) {
    std::printf("  cuda:%d %s sm_%d%d, %d SMs, %.1f GiB\n", d.index, d.name.c_str(), d.major, d.minor, d.multiprocessors,
                double(d.memoryBytes) / (1 << 30));
  }
  if (status.devices.empty()) {
    std::printf("skip: %s\n", status.reason.c_str());
    return 3;
  }
  std::shared_ptr<bx::DeviceBackend> device = bx::cuda::openDevice(status.devices[0].index);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(casesDir)) {
    if (entry.path().extension() == ".onnx") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) runCase(file, *device);
  runModels(sharedRoot, bundledRoot, *device);
  std::printf("%d checks, %d failed (%zu op cases on %s)\n", checks, failures, files.size(), device->name().c_str());
  return failures == 0 && !files.empty() ? 0 : 1;
}
