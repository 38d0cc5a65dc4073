// The subset of the ONNX protobuf schema bitexact reads, decoded by a small bounds-checked wire
// reader (no protobuf library: the model bytes are untrusted input, and every length is checked
// against the bytes that remain before it is used).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor.h"

namespace bx::onnx {

struct Dimension {
  int64_t value = -1;  // -1 when symbolic or unknown
  std::string param;   // symbolic name, e.g. "batch_size"
};

struct ValueInfo {
  std::string name;
  int elemType = 0;  // ONNX TensorProto.DataType code; 0 when not a tensor / unknown
  bool hasShape = false;
  std::vector<Dimension> dims;
};

struct Attribute {
  enum class Kind { Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Floats = 6, Ints = 7, Strings = 8 };
  std::string name;
  Kind kind = Kind::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
};

struct Node {
  std::string name;
  std::string opType;
  std::string domain;  // "" for ai.onnx
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;

  const Attribute* attribute(const std::string& attrName) const;
};

struct Graph {
  std::vector<Node> nodes;
  std::vector<std::pair<std::string, Tensor>> initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
};

struct Model {
  int64_t irVersion = 0;
  std::map<std::string, int64_t> opsets;  // domain -> version ("" is ai.onnx)
  Graph graph;
};

// Throws ERR_BITEXACT_INVALID_MODEL with the offset and field that broke.
Model parseModel(const uint8_t* data, size_t size);
// A standalone serialized TensorProto (the .pb files of ONNX test data). Sets *name when present.
Tensor parseTensor(const uint8_t* data, size_t size, std::string* name);

}  // namespace bx::onnx
