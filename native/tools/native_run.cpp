// bitexact_native_run MODEL [INPUT.pb ...] [--isa NAME] [--threads N] [--repeat N]
// Runs a model without Node (for machines with only CMake and a compiler, e.g. the GPU hosts)
// and prints each output's canonical hash and the output-set hash. --repeat runs it N times and
// prints the median run time (for profilers such as perf: one process, the hot loop only).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../core/graph.h"
#include "../core/onnx_model.h"
#include "../core/tensor_hash.h"

namespace {

std::vector<uint8_t> readFile(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw bx::Error(bx::ErrorCode::Input, std::string("cannot open ") + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bitexact_native_run MODEL [INPUT.pb ...] [--isa NAME] [--threads N] [--repeat N]\n");
    return 2;
  }
  try {
    bx::ModelOptions options;
    std::vector<const char*> inputFiles;
    int repeat = 1;
    for (int i = 2; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) options.isa = argv[++i];
      else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) options.threads = std::atoi(argv[++i]);
      else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
      else inputFiles.push_back(argv[i]);
    }
    const std::vector<uint8_t> modelBytes = readFile(argv[1]);
    auto model = bx::CompiledModel::load(modelBytes.data(), modelBytes.size(), options);
    std::vector<bx::NamedTensor> inputs;
    for (size_t i = 0; i < inputFiles.size() && i < model->inputs().size(); ++i) {
      const std::vector<uint8_t> bytes = readFile(inputFiles[i]);
      inputs.push_back({model->inputs()[i].name, bx::onnx::parseTensor(bytes.data(), bytes.size(), nullptr)});
    }
    std::vector<double> ms;
    std::vector<bx::NamedTensor> outputs;
    for (int r = 0; r < repeat; ++r) {
      const auto start = std::chrono::steady_clock::now();
      outputs = model->run(inputs, bx::RunOptions());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    if (repeat > 1) std::printf("runs %d, median %.3f ms\n", repeat, ms[ms.size() / 2]);
    std::vector<std::pair<std::string, bx::Hash32>> hashes;
    for (const auto& out : outputs) {
      const bx::Hash32 h = bx::hashTensor(out.tensor);
      hashes.emplace_back(out.name, h);
      std::printf("output %s %s %s %s\n", out.name.c_str(), bx::dtypeName(out.tensor.dtype),
                  bx::shapeToString(out.tensor.shape).c_str(), bx::hashToHex(h).c_str());
    }
    std::printf("isa %s threads %d\noutputHash %s\n", bx::cpu::isaName(model->isa()), model->threads(),
                bx::hashToHex(bx::hashNamedTensors(hashes)).c_str());
    return 0;
  } catch (const bx::Error& e) {
    std::fprintf(stderr, "%s: %s\n", bx::errorCodeName(e.code()), e.what());
    return 2;
  }
}
