#include "attention_mask.h"

#include <algorithm>

namespace bx {
namespace {

struct Step {
  MaskStep op;
  float constant = 0.0f;
  bool constantFirst = false;
};

bool isStructural(const onnx::Node& n) {
  return isStandardOp(n, "Unsqueeze") || isStandardOp(n, "Reshape") || isStandardOp(n, "Squeeze");
}

std::optional<MaskStep> binaryStep(const onnx::Node& n) {
  if (isStandardOp(n, "Add")) return MaskStep::Add;
  if (isStandardOp(n, "Sub")) return MaskStep::Sub;
  if (isStandardOp(n, "Mul")) return MaskStep::Mul;
  if (isStandardOp(n, "Div")) return MaskStep::Div;
  if (isStandardOp(n, "Equal")) return MaskStep::Equal;
  return std::nullopt;
}

// A scalar constant's value as binary32 (integer constants of Equal converted exactly enough:
// masks compare small integers).
std::optional<float> scalarConstant(const Tensor* t) {
  if (!t || t->size() != 1) return std::nullopt;
  if (t->dtype == DType::Float32) return t->floatAt(0);
  if (t->dtype == DType::Int64 || t->dtype == DType::Int32 || t->dtype == DType::Bool || t->dtype == DType::UInt8 || t->dtype == DType::Int8) {
    return float(t->intAt(0));
  }
  return std::nullopt;
}

onnx::Attribute intsAttr(const char* name, std::vector<int64_t> v) {
  onnx::Attribute a;
  a.name = name;
  a.kind = onnx::Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}

// A constant mask (a causal mask written into the model, say) evaluated once at load: the keep
// mask as a uint8 constant of the mask's shape, or nothing when an element is neither a kept nor
// a dropped position (an ordinary bias, which is quantised like any operand).
std::optional<Tensor> constantKeep(const Tensor& mask, MaskMode mode) {
  const bool isFloat = mask.dtype == DType::Float32;
  if (!isFloat && mask.dtype != DType::Bool && mask.dtype != DType::Int64 && mask.dtype != DType::Int32 && mask.dtype != DType::UInt8 && mask.dtype != DType::Int8) {
    return std::nullopt;
  }
  Tensor keep = makeTensor(DType::UInt8, mask.shape);
  uint8_t* dst = keep.mutableData<uint8_t>();
  for (int64_t i = 0; i < mask.size(); ++i) {
    const double v = isFloat ? double(mask.floatAt(i)) : double(mask.intAt(i));
    if (mode == MaskMode::AdditiveBias) {
      if (v == 0.0) dst[i] = 1;
      else if (v <= double(kMaskedBias)) dst[i] = 0;
      else return std::nullopt;
    } else {
      dst[i] = uint8_t((v != 0.0) == (mode == MaskMode::KeepWhenTrue) ? 1 : 0);
    }
  }
  return keep;
}

}  // namespace

std::optional<std::string> buildMaskKeep(QdqGraph& g, const std::string& start, MaskMode mode, std::vector<onnx::Node>* nodes) {
  if (const Tensor* c = g.constant(start)) {
    const auto keep = constantKeep(*c, mode);
    if (!keep) return std::nullopt;
    const std::string name = g.freshName(start + "_keep");
    g.addConstant(name, *keep);
    return name;
  }
  std::vector<Step> steps;                    // from the source on
  std::vector<const onnx::Node*> structural;  // from the source on
  std::string value = start;
  for (;;) {
    bool isInput = false;
    for (const onnx::ValueInfo& v : g.graph.inputs) isInput = isInput || v.name == value;
    if (isInput) break;
    const onnx::Node* p = g.producer(value);
    if (!p || p->outputs.size() != 1 || p->inputs.empty()) return std::nullopt;
    if (isStructural(*p)) {
      for (size_t i = 1; i < p->inputs.size(); ++i) if (!p->inputs[i].empty() && !g.constant(p->inputs[i])) return std::nullopt;
      structural.insert(structural.begin(), p);
    } else if (isStandardOp(*p, "Cast")) {
      // To float keeps a mask's small integers; to an integer type truncates; to bool tests != 0.
      const onnx::Attribute* to = p->attribute("to");
      if (!to || !isKnownDType(int(to->i))) return std::nullopt;
      if (to->i == int64_t(DType::Bool)) steps.insert(steps.begin(), Step{MaskStep::ToBool});
      else if (to->i != int64_t(DType::Float32)) steps.insert(steps.begin(), Step{MaskStep::Trunc});
    } else if (isStandardOp(*p, "Neg") || isStandardOp(*p, "Not")) {
      steps.insert(steps.begin(), Step{isStandardOp(*p, "Neg") ? MaskStep::Neg : MaskStep::Not});
    } else if (const auto op = binaryStep(*p); op && p->inputs.size() == 2) {
      const Tensor* c0 = g.constant(p->inputs[0]);
      const Tensor* c1 = g.constant(p->inputs[1]);
      if ((c0 == nullptr) == (c1 == nullptr)) return std::nullopt;
      const auto c = scalarConstant(c0 ? c0 : c1);
      if (!c) return std::nullopt;
      steps.insert(steps.begin(), Step{*op, *c, c0 != nullptr});
      value = c0 ? p->inputs[1] : p->inputs[0];
      continue;
    } else {
      return std::nullopt;
    }
    value = p->inputs[0];
  }
  onnx::Node keep;
  keep.opType = "AttentionMaskKeep";
  keep.domain = "bitexact";
  keep.inputs = {value};
  keep.outputs = {g.freshName(start + "_keep")};
  keep.name = keep.outputs[0];
  std::vector<int64_t> ops, first;
  onnx::Attribute constants;
  constants.name = "constants";
  constants.kind = onnx::Attribute::Kind::Floats;
  for (const Step& s : steps) {
    ops.push_back(int64_t(s.op));
    first.push_back(s.constantFirst ? 1 : 0);
    constants.floats.push_back(s.constant);
  }
  onnx::Attribute modeAttr;
  modeAttr.name = "mode";
  modeAttr.kind = onnx::Attribute::Kind::Int;
  modeAttr.i = int64_t(mode);
  keep.attributes = {intsAttr("steps", ops), intsAttr("constant_first", first), constants, modeAttr};
  nodes->push_back(keep);
  std::string current = keep.outputs[0];
  for (const onnx::Node* s : structural) {
    onnx::Node copy = *s;
    copy.inputs[0] = current;
    copy.outputs = {g.freshName(s->outputs[0] + "_keep")};
    copy.name = copy.outputs[0];
    nodes->push_back(copy);
    current = copy.outputs[0];
  }
  return current;
}

}  // namespace bx
