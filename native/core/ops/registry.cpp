// Maps (domain, op_type) to the factory that compiles it.
#include <map>
#include <set>

#include "../op.h"

namespace bx {

std::unique_ptr<Op> createQuantizeLinear(BuildContext&);
std::unique_ptr<Op> createDequantizeLinear(BuildContext&);
std::unique_ptr<Op> createQLinearConv(BuildContext&);
std::unique_ptr<Op> createConvInteger(BuildContext&);
std::unique_ptr<Op> createQLinearMatMul(BuildContext&);
std::unique_ptr<Op> createMatMulInteger(BuildContext&);
std::unique_ptr<Op> createQGemm(BuildContext&);
std::unique_ptr<Op> createQLinearAdd(BuildContext&);
std::unique_ptr<Op> createQLinearMul(BuildContext&);
std::unique_ptr<Op> createQLinearGlobalAveragePool(BuildContext&);
std::unique_ptr<Op> createQLinearReduceMean(BuildContext&);
std::unique_ptr<Op> createQLinearLut(BuildContext&);
std::unique_ptr<Op> createQLinearLayerNorm(BuildContext&);
std::unique_ptr<Op> createQLinearSigmoid(BuildContext&);
std::unique_ptr<Op> createQLinearLeakyRelu(BuildContext&);
std::unique_ptr<Op> createQLinearSoftmax(BuildContext&);
std::unique_ptr<Op> createQLinearMaskedSoftmax(BuildContext&);
std::unique_ptr<Op> createAttentionMaskKeep(BuildContext&);
std::unique_ptr<Op> createQLinearConcat(BuildContext&);
std::unique_ptr<Op> createQLinearAveragePool(BuildContext&);
std::unique_ptr<Op> createPad(BuildContext&);
std::unique_ptr<Op> createResize(BuildContext&);
std::unique_ptr<Op> createMaxPool(BuildContext&);
std::unique_ptr<Op> createIdentity(BuildContext&);
std::unique_ptr<Op> createShape(BuildContext&);
std::unique_ptr<Op> createReshape(BuildContext&);
std::unique_ptr<Op> createFlatten(BuildContext&);
std::unique_ptr<Op> createUnsqueeze(BuildContext&);
std::unique_ptr<Op> createSqueeze(BuildContext&);
std::unique_ptr<Op> createConcat(BuildContext&);
std::unique_ptr<Op> createGather(BuildContext&);
std::unique_ptr<Op> createTranspose(BuildContext&);
std::unique_ptr<Op> createSlice(BuildContext&);

namespace {

using Factory = std::unique_ptr<Op> (*)(BuildContext&);

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"QuantizeLinear", createQuantizeLinear},
      {"DequantizeLinear", createDequantizeLinear},
      {"QLinearConv", createQLinearConv},
      {"ConvInteger", createConvInteger},
      {"QLinearMatMul", createQLinearMatMul},
      {"MatMulInteger", createMatMulInteger},
      {"com.microsoft::QGemm", createQGemm},
      {"com.microsoft::QLinearAdd", createQLinearAdd},
      {"com.microsoft::QLinearMul", createQLinearMul},
      {"com.microsoft::QLinearGlobalAveragePool", createQLinearGlobalAveragePool},
      {"com.microsoft::QuantizeLinear", createQuantizeLinear},
      {"com.microsoft::DequantizeLinear", createDequantizeLinear},
      {"bitexact::QLinearReduceMean", createQLinearReduceMean},
      {"bitexact::QLinearLut", createQLinearLut},
      {"bitexact::QLinearLayerNorm", createQLinearLayerNorm},
      {"com.microsoft::QLinearSigmoid", createQLinearSigmoid},
      {"com.microsoft::QLinearLeakyRelu", createQLinearLeakyRelu},
      {"com.microsoft::QLinearSoftmax", createQLinearSoftmax},
      {"bitexact::QLinearMaskedSoftmax", createQLinearMaskedSoftmax},
      {"bitexact::AttentionMaskKeep", createAttentionMaskKeep},
      {"com.microsoft::QLinearConcat", createQLinearConcat},
      {"com.microsoft::QLinearAveragePool", createQLinearAveragePool},
      {"Pad", createPad},
      {"Resize", createResize},
      {"MaxPool", createMaxPool},
      {"Identity", createIdentity},
      {"Shape", createShape},
      {"Reshape", createReshape},
      {"Flatten", createFlatten},
      {"Unsqueeze", createUnsqueeze},
      {"Squeeze", createSqueeze},
      {"Concat", createConcat},
      {"Gather", createGather},
      {"Transpose", createTranspose},
      {"Slice", createSlice},
  };
  return table;
}

// Standard ops that compute in floating point: named in the refusal so the user knows why.
const std::set<std::string>& floatArithmeticOps() {
  static const std::set<std::string> ops = {
      "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log",
      "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softmax", "LogSoftmax",
      "Erf", "Gelu", "BatchNormalization", "LayerNormalization", "InstanceNormalization", "ReduceMean",
      "ReduceSum", "AveragePool", "GlobalAveragePool", "Resize", "Cast", "Neg", "Abs", "Reciprocal"};
  return ops;
}

}  // namespace

std::unique_ptr<Op> createOp(BuildContext& ctx) {
  const std::string& domain = ctx.node.domain;
  const std::string key = domain.empty() || domain == "ai.onnx" ? ctx.node.opType : domain + "::" + ctx.node.opType;
  const auto it = factories().find(key);
  if (it != factories().end()) return it->second(ctx);
  if ((domain.empty() || domain == "ai.onnx") && floatArithmeticOps().count(ctx.node.opType)) {
    ctx.unsupported("this op would compute in floating point between quantisation and dequantisation; bitexact "
                    "runs only integer arithmetic there (quantize the model, e.g. to QDQ or QOperator form)");
  }
  ctx.unsupported("op is not supported by bitexact");
}

}  // namespace bx
