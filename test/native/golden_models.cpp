// bitexact_golden_test [MODELS_DIR] [BUNDLED_DIR]
// Runs the real models on every ISA this CPU supports and on 1-4 threads and checks the committed
// golden output hashes, without Node: for machines that have only CMake and a compiler (the GPU
// hosts, whose CPUs often have AVX-512 VNNI). Exit 0 when all match, 1 otherwise.
// Keep the hashes in step with test/models.test.ts and test/bundled_model.test.ts.
#include <cstdio>
#include <string>
#include <vector>

#include "../../native/core/graph.h"
#include "../../native/core/onnx_model.h"
#include "../../native/core/tensor_hash.h"
#include "golden_list.h"

int main(int argc, char** argv) {
  const std::string sharedRoot = argc > 1 ? argv[1] : "../shared/models";
  const std::string bundledRoot = argc > 2 ? argv[2] : "models";
  int failures = 0, checks = 0, skipped = 0;
  for (const Golden& g : kGolden) {
    const std::string root = g.bundled ? bundledRoot : sharedRoot;
    std::vector<uint8_t> modelBytes, inputBytes;
    if (!readFile(root + "/" + g.model, &modelBytes) || !readFile(root + "/" + g.input, &inputBytes)) {
      std::printf("skip  %s (not found under %s)\n", g.model.c_str(), root.c_str());
      ++skipped;
      continue;
    }
    for (bx::cpu::Isa isa : bx::cpu::supportedIsas()) {
      for (int threads = 1; threads <= 4; ++threads) {
        try {
          bx::ModelOptions options;
          options.isa = bx::cpu::isaName(isa);
          options.threads = threads;
          auto model = bx::CompiledModel::load(modelBytes.data(), modelBytes.size(), options);
          const bx::Tensor input = bx::onnx::parseTensor(inputBytes.data(), inputBytes.size(), nullptr);
          const auto outputs = model->run({{model->inputs()[0].name, input}}, bx::RunOptions());
          std::vector<std::pair<std::string, bx::Hash32>> hashes;
          for (const auto& out : outputs) hashes.emplace_back(out.name, bx::hashTensor(out.tensor));
          const std::string got = bx::hashToHex(bx::hashNamedTensors(hashes));
          ++checks;
          if (got != g.outputHash) {
            ++failures;
            std::printf("FAIL  %s %s/%d threads: %s, golden %s\n", g.model.c_str(), bx::cpu::isaName(isa), threads, got.c_str(),
                        g.outputHash.c_str());
          }
        } catch (const bx::Error& e) {
          ++failures;
          std::printf("FAIL  %s %s/%d threads: %s: %s\n", g.model.c_str(), bx::cpu::isaName(isa), threads, bx::errorCodeName(e.code()), e.what());
        }
      }
    }
    std::printf("done  %s\n", g.model.c_str());
  }
  std::printf("%d checks, %d failed, %d models skipped (ISAs:", checks, failures, skipped);
  for (bx::cpu::Isa isa : bx::cpu::supportedIsas()) std::printf(" %s", bx::cpu::isaName(isa));
  std::printf(")\n");
  for (bx::cpu::Isa isa : bx::cpu::failedSelfTestIsas()) {
    std::printf("FAIL  %s kernels failed their known-answer self-test on this CPU (never used)\n", bx::cpu::isaName(isa));
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}
