// The real models and their committed golden output hashes, shared by the native tests (keep in
// step with test/models.test.ts and test/bundled_model.test.ts).
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct Golden {
  std::string model;  // path relative to its root
  std::string input;
  std::string outputHash;
  bool bundled;
};

inline const Golden kGolden[] = {
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

inline bool readFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace
