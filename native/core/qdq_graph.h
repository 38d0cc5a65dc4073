// A mutable view of an ONNX graph for the QDQ rewrite: producers, readers and constant values by
// name, with small constant folding (Constant, Identity/Cast/ConstantOfShape of constants) so
// patterns can see scales, zero points and weights however the exporter spelled them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "onnx_model.h"

namespace bx {

class QdqGraph {
 public:
  explicit QdqGraph(onnx::Graph& graph);

  onnx::Graph& graph;

  void reindex();
  const onnx::Node* producer(const std::string& value) const;
  const std::vector<size_t>& readers(const std::string& value) const;
  // True when exactly one node reads the value and it is not a graph output.
  bool singleUse(const std::string& value) const;
  bool isGraphOutput(const std::string& value) const { return outputs_.count(value) > 0; }
  const Tensor* constant(const std::string& value) const;
  void addConstant(const std::string& name, const Tensor& t);
  // Every reader of `from` reads `to` instead (graph outputs are kept).
  void replaceUses(const std::string& from, const std::string& to);
  std::string freshName(const std::string& base);

 private:
  std::map<std::string, size_t> producer_;
  std::map<std::string, std::vector<size_t>> readers_;
  std::map<std::string, size_t> initializerIndex_;
  std::set<std::string> outputs_;
  int counter_ = 0;
};

// Folds Constant nodes and Identity/Cast/ConstantOfShape of constants into initializers.
void foldSimpleConstants(QdqGraph& g);

bool isStandardOp(const onnx::Node& n, const char* op);
bool isDequantize(const onnx::Node& n);
bool isQuantize(const onnx::Node& n);

}  // namespace bx
