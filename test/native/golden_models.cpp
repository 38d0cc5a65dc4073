// bitexact_golden_test [MODELS_DIR] [BUNDLED_DIR]
// Runs the real models on every ISA this CPU supports and on 1-4 threads and checks the committed
// golden output hashes, without Node: for machines that have only CMake and a compiler (the GPU
// hosts, whose CPUs often have AVX-512 VNNI). Exit 0 when all match, 1 otherwise.
// Keep the hashes in step with test/models.test.ts and test/bundled_model.test.ts.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../native/core/graph.h"
#include "../../native/core/onnx_model.h"
#include "../../native/core/tensor_hash.h"

namespace {

struct Golden {
  std::string model;  // path relative to its root
  std::string input;
  std::string outputHash;
  bool bundled;
};

const Golden kGolden[] = {
    {"mnist-8-int8/model.onnx", "mnist-8-int8/digit-2.pb", "0xdc481996156fa3563938ffc093ac7423b012c3e3d59e42ee014e85874db8b661", true},
    {"mlperftiny-kws-dscnn-int8/model.onnx", "mlperftiny-kws-dscnn-int8/test_data_set_0/input_0.pb",
     "0x2e72a8bb9409cd6f094ae83d340ba2ccb203dcd682b5ffeb3fe30a8274c2620b", false},
    {"mlperftiny-ic-resnet8-int8/model.onnx", "mlperftiny-ic-resnet8-int8/test_data_set_0/input_0.pb",
     "0xf69ab0df1ccef3d1d4cad7f42bbf7e5e435ce2f94db320033da5eb89b6d2b6a9", false},
    {"mobilenetv2-12-int8/model.onnx", "mobilenetv2-12-int8/test_data_set_0/input_0.pb",
     "0xcd2870f7d10a0197ba2a70e05cfb76528369100c27a1eb951ee6efa6cb1c0657", false},
    {"mobilenetv3-qat-int8-qdq/model.onnx", "mobilenetv3-qat-int8-qdq/test_data_set_0/input_0.pb",
     "0xcf5bf5af6da5b252b14ed884aedfffe6a50fd6faed4280a7f77af3a293ffbb2f", false},
};

bool readFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

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
