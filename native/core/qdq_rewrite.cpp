// QDQ pattern rewriting: DequantizeLinear -> float op -> QuantizeLinear chains become the integer
// ops bitexact runs, before anything is compiled. The fused node takes the QuantizeLinear's place
// (all its inputs are defined by then); the float nodes are left without readers and the
// compiler's liveness pass drops them. What is not matched stays float and is refused, naming it.
//
//   Cast(q, to = type of q)                            -> q
//   DQ(x), DQ(w), DQ(b) -> Conv [-> Relu/Clip] -> Q    -> QLinearConv
//   DQ(a), DQ(B), DQ(C) -> Gemm [-> Relu/Clip] -> Q    -> com.microsoft QGemm
//   DQ(a), DQ(B) -> MatMul -> Q                        -> QLinearMatMul (B constant or an activation)
//   DQ(a), DQ(b) -> Add | Mul [-> Relu/Clip] -> Q      -> com.microsoft QLinearAdd | QLinearMul
//   DQ(x) -> GlobalAveragePool -> Q                    -> com.microsoft QLinearGlobalAveragePool
//   DQ(x) -> ReduceMean (one or more) -> Q             -> bitexact QLinearReduceMean
//   DQ(x) -> AveragePool -> Q                          -> com.microsoft QLinearAveragePool
//   DQ(x) -> Softmax -> Q                              -> com.microsoft QLinearSoftmax
//   DQ(x), mask bias -> Add -> Softmax -> Q            -> bitexact QLinearMaskedSoftmax (attention_mask.h)
//   Where(mask condition, DQ(x), -inf) -> Softmax -> Q -> bitexact QLinearMaskedSoftmax
//   DQ(x_i)... -> Concat -> Q                          -> com.microsoft QLinearConcat
//   DQ(x) -> Sigmoid | Tanh | Erf | Gelu | HardSwish | HardSigmoid | Relu | Clip | LeakyRelu -> Q -> bitexact QLinearLut
//   DQ(x) -> MaxPool | Reshape | Flatten | Squeeze | Unsqueeze | Transpose | Slice | Gather |
//            Pad | Resize(nearest) -> Q (same scale and zero point) -> the op on x itself
//   uint8 input -> Cast(float) -> Add/Sub/Mul/Div by constants -> Q  -> bitexact QLinearLut
//   Shape(DQ(x))                                       -> Shape(x)
// A Relu/Clip between the op and Q is fused only when Q's range already implies it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <tuple>

#include "attention_mask.h"
#include "graph.h"
#include "lut_tables.h"
#include "numerics.h"
#include "qdq_graph.h"
#include "qparams.h"

namespace bx {
namespace {

struct QuantInfo {
  std::string value;      // the quantized tensor
  std::string scale;      // names of the scale / zero point inputs ("" zero point when absent)
  std::string zeroPoint;
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints;
  DType dtype = DType::UInt8;
  int64_t axis = 1;
};

std::optional<QuantInfo> quantInfo(const QdqGraph& g, const onnx::Node& n) {
  if (n.inputs.size() < 2) return std::nullopt;
  const Tensor* scale = g.constant(n.inputs[1]);
  if (!scale || scale->dtype != DType::Float32 || scale->size() < 1) return std::nullopt;
  QuantInfo q;
  q.value = n.inputs[0];
  q.scale = n.inputs[1];
  for (int64_t i = 0; i < scale->size(); ++i) q.scales.push_back(scale->floatAt(i));
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    const Tensor* zp = g.constant(n.inputs[2]);
    if (!zp || zp->size() != scale->size()) return std::nullopt;
    q.zeroPoint = n.inputs[2];
    q.dtype = zp->dtype;
    for (int64_t i = 0; i < zp->size(); ++i) q.zeroPoints.push_back(int32_t(zp->intAt(i)));
  } else {
    q.zeroPoints.assign(q.scales.size(), 0);
  }
  if (const onnx::Attribute* axis = n.attribute("axis")) q.axis = axis->i;
  return q;
}

// The DequantizeLinear producing `value`, as per-tensor activation parameters.
std::optional<QuantInfo> dequantizedActivation(const QdqGraph& g, const std::string& value) {
  const onnx::Node* p = g.producer(value);
  if (!p || !isDequantize(*p)) return std::nullopt;
  auto q = quantInfo(g, *p);
  // 16-bit activations (w8a16) too: the ops that take them say so, the others refuse them by name
  if (!q || q->scales.size() != 1 || !isQuantizedType(q->dtype)) return std::nullopt;
  return q;
}

// The DequantizeLinear of a constant producing `value` (weights, bias).
std::optional<QuantInfo> dequantizedConstant(const QdqGraph& g, const std::string& value) {
  const onnx::Node* p = g.producer(value);
  if (!p || !isDequantize(*p) || !g.constant(p->inputs[0])) return std::nullopt;
  return quantInfo(g, *p);
}

bool sameQuantization(const QuantInfo& a, const QuantInfo& b) {
  return a.dtype == b.dtype && a.scales == b.scales && a.zeroPoints == b.zeroPoints;
}

onnx::Attribute intAttr(const std::string& name, int64_t v) {
  onnx::Attribute a;
  a.name = name;
  a.kind = onnx::Attribute::Kind::Int;
  a.i = v;
  return a;
}

onnx::Attribute tensorAttr(const std::string& name, const Tensor& t) {
  onnx::Attribute a;
  a.name = name;
  a.kind = onnx::Attribute::Kind::Tensor;
  a.t = t;
  return a;
}

float constantScalar(const QdqGraph& g, const onnx::Node& n, size_t input, const char* attr, float fallback, bool* ok) {
  if (input < n.inputs.size() && !n.inputs[input].empty()) {
    const Tensor* t = g.constant(n.inputs[input]);
    if (!t || t->dtype != DType::Float32 || t->size() != 1) { *ok = false; return fallback; }
    return t->floatAt(0);
  }
  if (const onnx::Attribute* a = n.attribute(attr)) return a->f;
  return fallback;
}

// Is a Relu/Clip between an op and its Q implied by Q's own saturation?
bool clampImpliedByQuantize(const QdqGraph& g, const onnx::Node& act, const QuantInfo& out) {
  const QRange range = rangeOf(out.dtype);
  if (out.scales.size() != 1) return false;
  if (isStandardOp(act, "Relu")) return out.zeroPoints[0] <= range.lo;
  if (isStandardOp(act, "Clip")) {
    bool ok = true;
    const float lo = constantScalar(g, act, 1, "min", -INFINITY, &ok);
    const float hi = constantScalar(g, act, 2, "max", INFINITY, &ok);
    if (!ok) return false;
    const auto q = [&](float v) {
      if (std::isinf(v)) return v < 0 ? range.lo - 1 : range.hi + 1;
      return quantizeFloat(v, out.scales[0], out.zeroPoints[0], QRange{range.lo - 1, range.hi + 1});
    };
    return q(lo) <= range.lo && q(hi) >= range.hi;
  }
  return false;
}

// Bias in int32 at scale input_scale * weight_scale[c]: used as is when the exporter already
// chose that scale, otherwise requantised once here (round half away from zero, in float64).
std::optional<std::string> biasAtAccumulatorScale(QdqGraph& g, const std::string& value, float inputScale,
                                                  const std::vector<float>& weightScales, int64_t channels) {
  const auto b = dequantizedConstant(g, value);
  if (!b) return std::nullopt;
  const Tensor& raw = *g.constant(b->value);
  if (raw.dtype != DType::Int32 || raw.size() != channels) return std::nullopt;
  bool exact = true;
  for (int64_t c = 0; c < channels; ++c) {
    const float ws = weightScales[weightScales.size() == 1 ? 0 : size_t(c)];
    const float bs = b->scales[b->scales.size() == 1 ? 0 : size_t(c)];
    const int32_t bz = b->zeroPoints[b->zeroPoints.size() == 1 ? 0 : size_t(c)];
    if (bz != 0 || bs != inputScale * ws) exact = false;
  }
  if (exact) return b->value;
  Tensor bias = makeTensor(DType::Int32, {channels});
  for (int64_t c = 0; c < channels; ++c) {
    const double ws = weightScales[weightScales.size() == 1 ? 0 : size_t(c)];
    const double bs = b->scales[b->scales.size() == 1 ? 0 : size_t(c)];
    const int64_t bz = b->zeroPoints[b->zeroPoints.size() == 1 ? 0 : size_t(c)];
    const double real = double(raw.intAt(c) - bz) * bs / (double(inputScale) * ws);
    if (!(std::fabs(real) < 2147483647.0)) return std::nullopt;
    bias.mutableData<int32_t>()[c] = int32_t(std::llround(real));
  }
  const std::string name = g.freshName(value + "_int32");
  g.addConstant(name, bias);
  return name;
}

// The op feeding a QuantizeLinear, looking through a Relu/Clip the quantisation implies.
const onnx::Node* opBeforeQuantize(const QdqGraph& g, const onnx::Node& q, const QuantInfo& out, bool* throughActivation) {
  const onnx::Node* p = g.producer(q.inputs[0]);
  *throughActivation = false;
  if (!p || !g.singleUse(q.inputs[0])) return nullptr;
  if ((isStandardOp(*p, "Relu") || isStandardOp(*p, "Clip")) && g.singleUse(p->inputs[0])) {
    const onnx::Node* before = g.producer(p->inputs[0]);
    if (before && !isDequantize(*before) && clampImpliedByQuantize(g, *p, out)) {
      *throughActivation = true;
      return before;
    }
  }
  return p;
}

std::vector<std::string> qInputs(const QuantInfo& q) { return {q.value, q.scale, q.zeroPoint}; }

std::optional<onnx::Node> fuseLinear(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  const bool conv = isStandardOp(op, "Conv"), gemm = isStandardOp(op, "Gemm"), matmul = isStandardOp(op, "MatMul");
  if (!conv && !gemm && !matmul) return std::nullopt;
  if (op.inputs.size() < 2) return std::nullopt;
  const auto x = dequantizedActivation(g, op.inputs[0]);
  if (matmul && x && out.scales.size() == 1) {
    // Two activations (attention): QLinearMatMul with a run-time B, per-tensor parameters.
    const auto b = dequantizedActivation(g, op.inputs[1]);
    if (b && !dequantizedConstant(g, op.inputs[1]) && x->scales.size() == 1 && op.inputs.size() == 2) {
      onnx::Node fused;
      fused.name = op.name;
      fused.opType = "QLinearMatMul";
      fused.inputs = qInputs(*x);
      const std::vector<std::string> bIn = qInputs(*b);
      fused.inputs.insert(fused.inputs.end(), bIn.begin(), bIn.end());
      fused.inputs.push_back(out.scale);
      fused.inputs.push_back(out.zeroPoint);
      return fused;
    }
  }
  const auto w = dequantizedConstant(g, op.inputs[1]);
  if (!x || !w || (w->dtype != DType::Int8 && w->dtype != DType::UInt8) || out.scales.size() != 1) return std::nullopt;
  const Tensor& wt = *g.constant(w->value);
  onnx::Node fused;
  fused.name = op.name;
  fused.attributes = op.attributes;
  std::vector<std::string> in = qInputs(*x);
  const std::vector<std::string> wIn = qInputs(*w);
  in.insert(in.end(), wIn.begin(), wIn.end());
  int64_t channels;
  if (conv) {
    if (w->scales.size() != 1 && w->axis != 0) return std::nullopt;
    channels = wt.shape.empty() ? 0 : wt.shape[0];
    fused.opType = "QLinearConv";
    in.push_back(out.scale);
    in.push_back(out.zeroPoint);
  } else {
    if (wt.shape.size() != 2) return std::nullopt;
    const onnx::Attribute* transB = op.attribute("transB");
    const bool transposed = gemm && transB && transB->i != 0;
    channels = transposed ? wt.shape[0] : wt.shape[1];
    const int64_t channelAxis = transposed ? 0 : 1;
    if (w->scales.size() != 1 && w->axis != channelAxis) return std::nullopt;
    if (matmul) {
      fused.opType = "QLinearMatMul";
      in.push_back(out.scale);
      in.push_back(out.zeroPoint);
    } else {
      for (const onnx::Attribute& a : op.attributes) {
        if ((a.name == "alpha" || a.name == "beta") && a.f != 1.0f) return std::nullopt;
        if (a.name == "transA" && a.i != 0) return std::nullopt;
      }
      fused.opType = "QGemm";
      fused.domain = "com.microsoft";
      fused.attributes.clear();
      fused.attributes.push_back(intAttr("transB", transposed ? 1 : 0));
      in.push_back("");  // C, filled below when present
      in.push_back(out.scale);
      in.push_back(out.zeroPoint);
    }
  }
  if (op.inputs.size() > 2 && !op.inputs[2].empty()) {
    if (matmul) return std::nullopt;
    const auto bias = biasAtAccumulatorScale(g, op.inputs[2], x->scales[0], w->scales, channels);
    if (!bias) return std::nullopt;
    if (conv) in.push_back(*bias);
    else in[6] = *bias;
  }
  fused.inputs = in;
  return fused;
}

std::optional<onnx::Node> fuseBinary(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  const bool add = isStandardOp(op, "Add"), mul = isStandardOp(op, "Mul");
  if ((!add && !mul) || op.inputs.size() != 2 || out.scales.size() != 1) return std::nullopt;
  auto a = dequantizedActivation(g, op.inputs[0]);
  auto b = dequantizedActivation(g, op.inputs[1]);
  if (!a) { const auto c = dequantizedConstant(g, op.inputs[0]); if (c && c->scales.size() == 1) a = c; }
  if (!b) { const auto c = dequantizedConstant(g, op.inputs[1]); if (c && c->scales.size() == 1) b = c; }
  if (!a || !b) return std::nullopt;
  // 8-bit: one type throughout (as onnxruntime's ops); w8a16 Adds mix uint16 and int16 freely
  const bool wide = isWideQuantizedType(a->dtype) || isWideQuantizedType(b->dtype) || isWideQuantizedType(out.dtype);
  if (!(wide && add) && (a->dtype != b->dtype || a->dtype != out.dtype)) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.opType = add ? "QLinearAdd" : "QLinearMul";
  fused.domain = "com.microsoft";
  fused.inputs = {a->value, a->scale, a->zeroPoint, b->value, b->scale, b->zeroPoint, out.scale, out.zeroPoint};
  return fused;
}

std::optional<onnx::Node> fuseGlobalAveragePool(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  if (!isStandardOp(op, "GlobalAveragePool")) return std::nullopt;
  const auto x = dequantizedActivation(g, op.inputs[0]);
  if (!x || out.scales.size() != 1 || x->dtype != out.dtype) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.opType = "QLinearGlobalAveragePool";
  fused.domain = "com.microsoft";
  fused.inputs = {x->value, x->scale, x->zeroPoint, out.scale, out.zeroPoint};
  fused.attributes.push_back(intAttr("channels_last", 0));
  return fused;
}

// DQ(x) -> LayerNormalization(scale, bias constant) -> Q: integer mean, variance and square root.
std::optional<onnx::Node> fuseLayerNorm(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  if (!isStandardOp(op, "LayerNormalization") || op.inputs.size() < 2 || out.scales.size() != 1) return std::nullopt;
  for (size_t i = 1; i < op.outputs.size(); ++i) if (!op.outputs[i].empty()) return std::nullopt;  // Mean / InvStdDev unused
  const auto x = dequantizedActivation(g, op.inputs[0]);
  if (!x || x->dtype != out.dtype) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.opType = "QLinearLayerNorm";
  fused.domain = "bitexact";
  fused.inputs = {x->value, x->scale, x->zeroPoint, op.inputs[1], out.scale, out.zeroPoint};
  if (op.inputs.size() > 2 && !op.inputs[2].empty()) fused.inputs.push_back(op.inputs[2]);
  for (const onnx::Attribute& a : op.attributes) if (a.name == "axis" || a.name == "epsilon") fused.attributes.push_back(a);
  return fused;
}

// A float function of one value, evaluated with binary32 basic operations only.
std::optional<std::function<float(float)>> elementwiseFunction(const QdqGraph& g, const onnx::Node& op) {
  if (isStandardOp(op, "Relu")) return [](float v) { return v > 0.0f ? v : 0.0f; };
  if (isStandardOp(op, "LeakyRelu")) {
    const onnx::Attribute* a = op.attribute("alpha");
    const float alpha = a ? a->f : 0.01f;
    return [alpha](float v) { return leakyRelu(v, alpha); };
  }
  if (isStandardOp(op, "HardSigmoid") || isStandardOp(op, "HardSwish")) {
    const bool swish = isStandardOp(op, "HardSwish");
    const onnx::Attribute* a = op.attribute("alpha");
    const onnx::Attribute* b = op.attribute("beta");
    const float alpha = swish ? 1.0f / 6.0f : (a ? a->f : 0.2f);
    const float beta = swish ? 0.5f : (b ? b->f : 0.5f);
    return [alpha, beta, swish](float v) {
      float t = alpha * v;
      t = t + beta;
      t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
      return swish ? v * t : t;
    };
  }
  if (isStandardOp(op, "Clip")) {
    bool ok = true;
    const float lo = constantScalar(g, op, 1, "min", -INFINITY, &ok);
    const float hi = constantScalar(g, op, 2, "max", INFINITY, &ok);
    if (!ok) return std::nullopt;
    return [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); };
  }
  return std::nullopt;
}

// Mul(v, Sigmoid(v)) in either order: SiLU / Swish of v.
bool isSilu(const QdqGraph& g, const onnx::Node& op) {
  if (!isStandardOp(op, "Mul") || op.inputs.size() != 2) return false;
  for (int i = 0; i < 2; ++i) {
    const onnx::Node* s = g.producer(op.inputs[size_t(1 - i)]);
    if (s && isStandardOp(*s, "Sigmoid") && !s->inputs.empty() && s->inputs[0] == op.inputs[size_t(i)]) return true;
  }
  return false;
}

std::optional<onnx::Node> fuseLut(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  const bool silu = isSilu(g, op);
  const bool sigmoid = isStandardOp(op, "Sigmoid"), tanh = isStandardOp(op, "Tanh"), erf = isStandardOp(op, "Erf");
  // GELU: the opset-20 op (exact form only) or com.microsoft Gelu.
  const onnx::Attribute* approximate = op.attribute("approximate");
  const bool gelu = ((isStandardOp(op, "Gelu") && (!approximate || approximate->s == "none")) ||
                     (op.opType == "Gelu" && op.domain == "com.microsoft"));
  const bool integer = sigmoid || tanh || erf || gelu || silu;
  const auto f = integer ? std::nullopt : elementwiseFunction(g, op);
  if ((!f && !integer) || op.inputs.empty() || out.scales.size() != 1) return std::nullopt;
  // SiLU's Mul has the dequantised input on one side and the Sigmoid on the other.
  const std::string& source = silu && g.producer(op.inputs[0]) && isStandardOp(*g.producer(op.inputs[0]), "Sigmoid") ? op.inputs[1] : op.inputs[0];
  const auto x = dequantizedActivation(g, source);
  if (!x || !isQuantizedType(out.dtype)) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.opType = "QLinearLut";
  fused.domain = "bitexact";
  fused.inputs = {x->value};
  const float sx = x->scales[0], sy = out.scales[0];
  const int32_t zx = x->zeroPoints[0], zy = out.zeroPoints[0];
  fused.attributes.push_back(tensorAttr("table", sigmoid ? sigmoidTable(x->dtype, sx, zx, out.dtype, sy, zy)
                                                 : tanh  ? tanhTable(x->dtype, sx, zx, out.dtype, sy, zy)
                                                 : erf   ? erfTable(x->dtype, sx, zx, out.dtype, sy, zy)
                                                 : gelu  ? geluTable(x->dtype, sx, zx, out.dtype, sy, zy)
                                                 : silu  ? siluTable(x->dtype, sx, zx, out.dtype, sy, zy)
                                                         : floatFunctionTable(x->dtype, sx, zx, out.dtype, sy, zy, *f)));
  return fused;
}

std::optional<onnx::Node> fuseSingleInput(QdqGraph& g, const onnx::Node& op, const QuantInfo& out, int64_t opset) {
  const bool average = isStandardOp(op, "AveragePool"), softmax = isStandardOp(op, "Softmax");
  if ((!average && !softmax) || op.inputs.empty() || out.scales.size() != 1) return std::nullopt;
  const auto x = dequantizedActivation(g, op.inputs[0]);
  // w8a16 softmax: int16 scores, uint16 probabilities
  const bool wideSoftmax = softmax && x && (isWideQuantizedType(x->dtype) || isWideQuantizedType(out.dtype));
  if (!x || (x->dtype != out.dtype && !wideSoftmax)) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.domain = "com.microsoft";
  fused.inputs = {x->value, x->scale, x->zeroPoint, out.scale, out.zeroPoint};
  if (average) {
    fused.opType = "QLinearAveragePool";
    fused.attributes = op.attributes;
  } else {
    fused.opType = "QLinearSoftmax";
    const onnx::Attribute* axis = op.attribute("axis");
    fused.attributes.push_back(intAttr("axis", axis ? axis->i : (opset >= 13 ? -1 : 1)));
    fused.attributes.push_back(intAttr("opset", opset));
  }
  return fused;
}

// DQ(x) + bias -> Softmax -> Q with the bias an additive attention mask computed from a graph
// input, or Where(cond, DQ(x), F) / Where(cond, F, DQ(x)) -> Softmax -> Q with F <= kMaskedBias:
// the keep mask's nodes go to `extra` (they run before the fused node). `keeps` maps each mask
// already turned into a keep mask to it (layers share one mask).
std::optional<onnx::Node> fuseMaskedSoftmax(QdqGraph& g, const onnx::Node& op, const QuantInfo& out, std::vector<onnx::Node>* extra,
                                            std::map<std::string, std::string>* keeps) {
  if (!isStandardOp(op, "Softmax") || op.inputs.empty() || out.scales.size() != 1) return std::nullopt;
  const onnx::Node* mix = g.producer(op.inputs[0]);
  if (!mix || !g.singleUse(op.inputs[0])) return std::nullopt;
  // (scores operand, mask value, mode) candidates
  std::vector<std::tuple<std::string, std::string, MaskMode>> candidates;
  if (isStandardOp(*mix, "Add") && mix->inputs.size() == 2) {
    candidates.emplace_back(mix->inputs[0], mix->inputs[1], MaskMode::AdditiveBias);
    candidates.emplace_back(mix->inputs[1], mix->inputs[0], MaskMode::AdditiveBias);
  } else if (isStandardOp(*mix, "Where") && mix->inputs.size() == 3) {
    const auto masked = [&](const std::string& v) {
      const Tensor* c = g.constant(v);
      return c && c->dtype == DType::Float32 && c->size() == 1 && c->floatAt(0) <= kMaskedBias;
    };
    if (masked(mix->inputs[2])) candidates.emplace_back(mix->inputs[1], mix->inputs[0], MaskMode::KeepWhenTrue);
    if (masked(mix->inputs[1])) candidates.emplace_back(mix->inputs[2], mix->inputs[0], MaskMode::KeepWhenFalse);
  }
  for (const auto& [scores, mask, mode] : candidates) {
    const auto x = dequantizedActivation(g, scores);
    // 16-bit (w8a16): int16 scores may give uint16 probabilities
    if (!x || (x->dtype != out.dtype && !isWideQuantizedType(x->dtype) && !isWideQuantizedType(out.dtype))) continue;
    const std::string key = mask + "#" + std::to_string(int64_t(mode));
    std::vector<onnx::Node> nodes;
    const auto known = keeps->find(key);
    const auto keep = known != keeps->end() ? std::optional<std::string>(known->second) : buildMaskKeep(g, mask, mode, &nodes);
    if (!keep) continue;
    (*keeps)[key] = *keep;
    onnx::Node fused;
    fused.name = op.name;
    fused.opType = "QLinearMaskedSoftmax";
    fused.domain = "bitexact";
    fused.inputs = {x->value, x->scale, x->zeroPoint, out.scale, out.zeroPoint, *keep};
    const onnx::Attribute* axis = op.attribute("axis");
    fused.attributes.push_back(intAttr("axis", axis ? axis->i : -1));
    *extra = std::move(nodes);
    return fused;
  }
  return std::nullopt;
}

std::optional<onnx::Node> fuseConcat(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  if (!isStandardOp(op, "Concat") || op.inputs.empty() || out.scales.size() != 1) return std::nullopt;
  onnx::Node fused;
  fused.name = op.name;
  fused.opType = "QLinearConcat";
  fused.domain = "com.microsoft";
  fused.attributes = op.attributes;
  fused.inputs = {out.scale, out.zeroPoint};
  for (const std::string& in : op.inputs) {
    auto x = dequantizedActivation(g, in);
    if (!x) { const auto c = dequantizedConstant(g, in); if (c && c->scales.size() == 1) x = c; }
    if (!x || x->dtype != out.dtype) return std::nullopt;
    fused.inputs.insert(fused.inputs.end(), {x->value, x->scale, x->zeroPoint});
  }
  return fused;
}

std::optional<onnx::Node> fuseStructural(QdqGraph& g, const onnx::Node& op, const QuantInfo& out) {
  static const char* ops[] = {"MaxPool", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "Pad", "Resize"};
  bool structural = false;
  for (const char* name : ops) structural = structural || isStandardOp(op, name);
  if (!structural || op.inputs.empty() || op.outputs.size() != 1) return std::nullopt;
  if (isStandardOp(op, "Resize")) {
    const onnx::Attribute* mode = op.attribute("mode");
    if (mode && mode->s != "nearest") return std::nullopt;
  }
  const auto x = dequantizedActivation(g, op.inputs[0]);
  if (!x || !sameQuantization(*x, out)) return std::nullopt;
  onnx::Node fused = op;
  fused.inputs[0] = x->value;
  if (isStandardOp(op, "Pad")) {
    // The float fill value (default 0) becomes its quantized value.
    float fill = 0.0f;
    if (const onnx::Attribute* v = op.attribute("value")) fill = v->f;
    if (op.inputs.size() > 2 && !op.inputs[2].empty()) {
      const Tensor* c = g.constant(op.inputs[2]);
      if (!c || c->dtype != DType::Float32 || c->size() != 1) return std::nullopt;
      fill = c->floatAt(0);
    }
    Tensor q = makeTensor(x->dtype, {});
    const int32_t filled = quantizeFloat(fill, x->scales[0], x->zeroPoints[0], rangeOf(x->dtype));
    // the low byte (two bytes for 16-bit types) encodes the signed and unsigned types alike
    if (dtypeSize(x->dtype) == 2) q.mutableData<uint16_t>()[0] = uint16_t(filled);
    else q.mutableData<uint8_t>()[0] = uint8_t(filled);
    const std::string name = g.freshName(op.outputs[0] + "_fill");
    g.addConstant(name, q);
    if (fused.inputs.size() < 3) fused.inputs.resize(3);
    fused.inputs[2] = name;
    fused.attributes.erase(std::remove_if(fused.attributes.begin(), fused.attributes.end(),
                                          [](const onnx::Attribute& a) { return a.name == "value"; }),
                           fused.attributes.end());
  }
  return fused;
}

std::optional<onnx::Node> fuseReduceMean(QdqGraph& g, const onnx::Node& q, const QuantInfo& out) {
  // Walk back through single-use ReduceMeans to a DequantizeLinear.
  std::vector<const onnx::Node*> chain;
  std::string value = q.inputs[0];
  for (;;) {
    const onnx::Node* p = g.producer(value);
    if (!p || !isStandardOp(*p, "ReduceMean") || !g.singleUse(value)) break;
    chain.insert(chain.begin(), p);
    value = p->inputs[0];
  }
  if (chain.empty() || out.scales.size() != 1) return std::nullopt;
  const auto x = dequantizedActivation(g, value);
  if (!x || !g.singleUse(value)) return std::nullopt;
  onnx::Node fused;
  fused.name = q.name.empty() ? q.outputs[0] : q.name;
  fused.opType = "QLinearReduceMean";
  fused.domain = "bitexact";
  fused.inputs = {x->value, x->scale, x->zeroPoint, out.scale, out.zeroPoint};
  fused.attributes.push_back(intAttr("stages", int64_t(chain.size())));
  for (size_t i = 0; i < chain.size(); ++i) {
    const onnx::Node& rm = *chain[i];
    onnx::Attribute axes;
    axes.name = "axes" + std::to_string(i);
    axes.kind = onnx::Attribute::Kind::Ints;
    if (const onnx::Attribute* a = rm.attribute("axes")) {
      axes.ints = a->ints;
    } else if (rm.inputs.size() > 1 && !rm.inputs[1].empty()) {
      const Tensor* t = g.constant(rm.inputs[1]);
      if (!t || t->dtype != DType::Int64) return std::nullopt;
      for (int64_t k = 0; k < t->size(); ++k) axes.ints.push_back(t->intAt(k));
    } else if (const onnx::Attribute* noop = rm.attribute("noop_with_empty_axes"); noop && noop->i != 0) {
      return std::nullopt;
    }
    const onnx::Attribute* keep = rm.attribute("keepdims");
    fused.attributes.push_back(axes);
    fused.attributes.push_back(intAttr("keepdims" + std::to_string(i), keep ? keep->i : 1));
  }
  return fused;
}

// uint8/int8 graph input -> Cast(float) -> Add/Sub/Mul/Div by scalar or per-channel constants ->
// Q: every input byte maps to one output byte per channel, so the chain becomes a table.
std::optional<onnx::Node> fusePreprocessing(QdqGraph& g, const onnx::Node& q, const QuantInfo& out) {
  struct Step { std::string op; const Tensor* constant; bool constantFirst; };
  std::vector<Step> steps;
  std::string value = q.inputs[0];
  const onnx::Node* p = g.producer(value);
  while (p && g.singleUse(value) && p->inputs.size() == 2 &&
         (isStandardOp(*p, "Add") || isStandardOp(*p, "Sub") || isStandardOp(*p, "Mul") || isStandardOp(*p, "Div"))) {
    const Tensor* c0 = g.constant(p->inputs[0]);
    const Tensor* c1 = g.constant(p->inputs[1]);
    if ((c0 == nullptr) == (c1 == nullptr)) return std::nullopt;
    const Tensor* c = c0 ? c0 : c1;
    if (c->dtype != DType::Float32) return std::nullopt;
    steps.insert(steps.begin(), Step{p->opType, c, c0 != nullptr});
    value = c0 ? p->inputs[1] : p->inputs[0];
    p = g.producer(value);
  }
  if (!p || !isStandardOp(*p, "Cast") || !g.singleUse(value) || out.scales.size() != 1) return std::nullopt;
  const onnx::Attribute* to = p->attribute("to");
  if (!to || to->i != int64_t(DType::Float32)) return std::nullopt;
  const std::string source = p->inputs[0];
  DType sourceType = DType::Float32;
  for (const onnx::ValueInfo& v : g.graph.inputs) if (v.name == source && isKnownDType(v.elemType)) sourceType = DType(v.elemType);
  if (sourceType != DType::UInt8 && sourceType != DType::Int8) return std::nullopt;
  if (out.dtype != DType::UInt8 && out.dtype != DType::Int8) return std::nullopt;
  // Constants must be scalars or per-channel [C, 1, ..., 1]; the channel axis counts from the end.
  int64_t channels = 1, axisFromEnd = 0;
  for (const Step& s : steps) {
    if (s.constant->size() == 1) continue;
    const Shape& shape = s.constant->shape;
    size_t first = 0;
    while (first < shape.size() && shape[first] == 1) ++first;
    for (size_t d = first + 1; d < shape.size(); ++d) if (shape[d] != 1) return std::nullopt;
    const int64_t fromEnd = int64_t(shape.size() - first);
    if ((channels != 1 && channels != shape[first]) || (axisFromEnd != 0 && axisFromEnd != fromEnd)) return std::nullopt;
    channels = shape[first];
    axisFromEnd = fromEnd;
  }
  const QRange in = rangeOf(sourceType), range = rangeOf(out.dtype);
  Tensor table = makeTensor(out.dtype, {channels, 256});
  for (int64_t c = 0; c < channels; ++c) {
    for (int32_t v = in.lo; v <= in.hi; ++v) {
      float x = float(v);
      for (const Step& s : steps) {
        const float k = s.constant->floatAt(s.constant->size() == 1 ? 0 : c);
        const float a = s.constantFirst ? k : x, b = s.constantFirst ? x : k;
        if (s.op == "Add") x = a + b;
        else if (s.op == "Sub") x = a - b;
        else if (s.op == "Mul") x = a * b;
        else x = a / b;
      }
      if (std::isnan(x)) return std::nullopt;
      table.mutableData<uint8_t>()[c * 256 + (v - in.lo)] = uint8_t(quantizeFloat(x, out.scales[0], out.zeroPoints[0], range));
    }
  }
  onnx::Node fused;
  fused.name = q.name.empty() ? q.outputs[0] : q.name;
  fused.opType = "QLinearLut";
  fused.domain = "bitexact";
  fused.inputs = {source};
  fused.attributes.push_back(tensorAttr("table", table));
  if (channels > 1) fused.attributes.push_back(intAttr("axis", -axisFromEnd));
  return fused;
}

// Cast(q, to = q's own type) is a no-op; readers read q.
void removeNoOpCasts(QdqGraph& g) {
  std::map<std::string, DType> types;
  for (const onnx::ValueInfo& v : g.graph.inputs) if (isKnownDType(v.elemType)) types[v.name] = DType(v.elemType);
  for (const onnx::Node& n : g.graph.nodes) {
    if (isQuantize(n) && n.outputs.size() == 1) {
      const Tensor* zp = n.inputs.size() > 2 && !n.inputs[2].empty() ? g.constant(n.inputs[2]) : nullptr;
      types[n.outputs[0]] = zp ? zp->dtype : DType::UInt8;
    }
  }
  for (const onnx::Node& n : g.graph.nodes) {
    if (!isStandardOp(n, "Cast") || n.inputs.size() != 1 || n.outputs.size() != 1 || g.isGraphOutput(n.outputs[0])) continue;
    const onnx::Attribute* to = n.attribute("to");
    const auto it = types.find(n.inputs[0]);
    if (to && it != types.end() && int64_t(it->second) == to->i) g.replaceUses(n.outputs[0], n.inputs[0]);
  }
  g.reindex();
}

void rewriteShapeOfDequantize(QdqGraph& g) {
  for (onnx::Node& n : g.graph.nodes) {
    if (!isStandardOp(n, "Shape") || n.inputs.size() != 1) continue;
    const onnx::Node* p = g.producer(n.inputs[0]);
    if (p && isDequantize(*p)) n.inputs[0] = p->inputs[0];
  }
  g.reindex();
}

}  // namespace

void rewriteQdqPatterns(onnx::Graph& graph, int64_t opset) {
  QdqGraph g(graph);
  foldSimpleConstants(g);
  removeNoOpCasts(g);
  rewriteShapeOfDequantize(g);
  std::map<std::string, std::string> maskKeeps;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const onnx::Node q = graph.nodes[i];
    if (!isQuantize(q) || q.outputs.size() != 1) continue;
    const auto out = quantInfo(g, q);
    if (!out) continue;
    bool throughActivation = false;
    const onnx::Node* op = opBeforeQuantize(g, q, *out, &throughActivation);
    std::optional<onnx::Node> fused;
    std::vector<onnx::Node> extra;  // nodes the fused one reads, inserted before it
    if (op) {
      const onnx::Node opCopy = *op;
      fused = fuseLinear(g, opCopy, *out);
      if (!fused) fused = fuseBinary(g, opCopy, *out);
      if (!fused && !throughActivation) {
        fused = fuseGlobalAveragePool(g, opCopy, *out);
        if (!fused) fused = fuseLut(g, opCopy, *out);
        if (!fused && opset >= 13) fused = fuseMaskedSoftmax(g, opCopy, *out, &extra, &maskKeeps);
        if (!fused) fused = fuseSingleInput(g, opCopy, *out, opset);
        if (!fused) fused = fuseConcat(g, opCopy, *out);
        if (!fused) fused = fuseLayerNorm(g, opCopy, *out);
        if (!fused) fused = fuseStructural(g, opCopy, *out);
      }
    }
    if (!fused) fused = fuseReduceMean(g, q, *out);
    if (!fused) fused = fusePreprocessing(g, q, *out);
    if (!fused) continue;
    fused->outputs = q.outputs;
    if (fused->name.empty()) fused->name = q.name.empty() ? q.outputs[0] : q.name;
    graph.nodes[i] = *fused;
    graph.nodes.insert(graph.nodes.begin() + std::ptrdiff_t(i), extra.begin(), extra.end());
    i += extra.size();
    g.reindex();
  }
}

}  // namespace bx
