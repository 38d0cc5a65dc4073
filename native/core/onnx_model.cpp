#include "onnx_model.h"

#include <cstring>

namespace bx::onnx {
namespace {

enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Bounds-checked protobuf wire-format reader over [begin, end).
class Reader {
 public:
  Reader(const uint8_t* begin, const uint8_t* end, const uint8_t* origin)
      : p_(begin), end_(end), origin_(origin) {}

  bool done() const { return p_ >= end_; }

  uint64_t varint() {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) broken("truncated varint");
      const uint8_t byte = *p_++;
      result |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
    }
    broken("varint longer than 10 bytes");
  }

  void tag(uint32_t* field, uint32_t* wire) {
    const uint64_t key = varint();
    *field = uint32_t(key >> 3);
    *wire = uint32_t(key & 7);
    if (*field == 0) broken("field number 0");
  }

  Reader sub() {
    const uint64_t length = varint();
    if (length > uint64_t(end_ - p_)) broken("length-delimited field runs past the end");
    Reader r(p_, p_ + length, origin_);
    p_ += length;
    return r;
  }

  std::string string() {
    Reader r = sub();
    return std::string(reinterpret_cast<const char*>(r.p_), size_t(r.end_ - r.p_));
  }

  uint32_t fixed32() {
    if (end_ - p_ < 4) broken("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, p_, 4);
    p_ += 4;
    return v;
  }

  float float32() {
    const uint32_t bits = fixed32();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }

  void skip(uint32_t wire) {
    switch (wire) {
      case kVarint: varint(); return;
      case kFixed64:
        if (end_ - p_ < 8) broken("truncated fixed64");
        p_ += 8;
        return;
      case kLengthDelimited: sub(); return;
      case kFixed32: fixed32(); return;
      default: broken("unsupported wire type " + std::to_string(wire));
    }
  }

  // Repeated scalar fields may arrive packed (one length-delimited run) or one per tag.
  template <typename Fn> void repeatedVarint(uint32_t wire, Fn push) {
    if (wire == kLengthDelimited) {
      Reader r = sub();
      while (!r.done()) push(r.varint());
    } else if (wire == kVarint) {
      push(varint());
    } else {
      broken("bad wire type for a repeated integer");
    }
  }

  template <typename Fn> void repeatedFloat(uint32_t wire, Fn push) {
    if (wire == kLengthDelimited) {
      Reader r = sub();
      while (!r.done()) push(r.float32());
    } else if (wire == kFixed32) {
      push(float32());
    } else {
      broken("bad wire type for a repeated float");
    }
  }

  [[noreturn]] void broken(const std::string& what) const {
    fail(ErrorCode::InvalidModel, "malformed ONNX protobuf at byte " + std::to_string(p_ - origin_) + ": " + what);
  }

  const uint8_t* position() const { return p_; }
  const uint8_t* end() const { return end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* origin_;
};

Tensor readTensor(Reader r, std::string* name) {
  Shape dims;
  int dataType = 0;
  std::string raw;
  bool hasRaw = false;
  std::vector<float> floats;
  std::vector<int64_t> ints;  // int32_data (widened) and int64_data
  bool external = false;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    switch (field) {
      case 1: r.repeatedVarint(wire, [&](uint64_t v) { dims.push_back(int64_t(v)); }); break;
      case 2: dataType = int(r.varint()); break;
      case 4: r.repeatedFloat(wire, [&](float v) { floats.push_back(v); }); break;
      case 5: r.repeatedVarint(wire, [&](uint64_t v) { ints.push_back(int64_t(int32_t(uint32_t(v)))); }); break;
      case 7: r.repeatedVarint(wire, [&](uint64_t v) { ints.push_back(int64_t(v)); }); break;
      case 8: if (name) *name = r.string(); else r.skip(wire); break;
      case 9: raw = r.string(); hasRaw = true; break;
      case 13: external = true; r.skip(wire); break;
      case 14: if (r.varint() == 1) external = true; break;
      default: r.skip(wire);
    }
  }
  const std::string label = name && !name->empty() ? "tensor '" + *name + "'" : "tensor";
  if (external) fail(ErrorCode::InvalidModel, label + " uses external data, which bitexact does not load");
  if (!isKnownDType(dataType)) {
    fail(ErrorCode::UnsupportedOp, label + " has element type " + std::to_string(dataType) + ", which bitexact does not support");
  }
  for (int64_t d : dims) if (d < 0) fail(ErrorCode::InvalidModel, label + " has a negative dimension");
  if (dims.size() > 64) fail(ErrorCode::InvalidModel, label + " has rank " + std::to_string(dims.size()));
  int64_t elements = 0;
  try {
    elements = elementCount(dims);
  } catch (const Error&) {
    fail(ErrorCode::InvalidModel, label + " has an impossible shape " + shapeToString(dims));
  }
  // Sizes are checked against the bytes actually present before anything is allocated, so a
  // corrupt shape cannot make us allocate (and zero) terabytes.
  const size_t count = size_t(elements);
  const size_t bytes = count * dtypeSize(DType(dataType));
  const size_t present = hasRaw ? raw.size() : (DType(dataType) == DType::Float32 ? floats.size() : ints.size());
  if (present != (hasRaw ? bytes : count)) {
    fail(ErrorCode::InvalidModel, label + " holds " + std::to_string(present) + (hasRaw ? " bytes" : " values") +
                                      " but shape " + shapeToString(dims) + " needs " + std::to_string(hasRaw ? bytes : count));
  }
  Tensor t = makeTensor(DType(dataType), dims);
  if (hasRaw) {
    std::memcpy(t.buffer->data(), raw.data(), bytes);
  } else if (t.dtype == DType::Float32) {
    std::memcpy(t.buffer->data(), floats.data(), bytes);
  } else {
    for (size_t i = 0; i < count; ++i) {
      const int64_t v = ints[i];
      switch (t.dtype) {
        case DType::UInt8: case DType::Bool: t.mutableData<uint8_t>()[i] = uint8_t(v); break;
        case DType::Int8: t.mutableData<int8_t>()[i] = int8_t(v); break;
        case DType::UInt16: t.mutableData<uint16_t>()[i] = uint16_t(v); break;
        case DType::Int16: t.mutableData<int16_t>()[i] = int16_t(v); break;
        case DType::Int32: t.mutableData<int32_t>()[i] = int32_t(v); break;
        case DType::Int64: t.mutableData<int64_t>()[i] = v; break;
        case DType::Float32: break;
      }
    }
  }
  return t;
}

void readShape(Reader r, ValueInfo* info) {
  info->hasShape = true;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    if (field != 1 || wire != kLengthDelimited) { r.skip(wire); continue; }
    Reader dimReader = r.sub();
    Dimension dim;
    while (!dimReader.done()) {
      uint32_t f, w;
      dimReader.tag(&f, &w);
      if (f == 1 && w == kVarint) dim.value = int64_t(dimReader.varint());
      else if (f == 2 && w == kLengthDelimited) dim.param = dimReader.string();
      else dimReader.skip(w);
    }
    info->dims.push_back(dim);
  }
}

ValueInfo readValueInfo(Reader r) {
  ValueInfo info;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    if (field == 1 && wire == kLengthDelimited) { info.name = r.string(); continue; }
    if (field != 2 || wire != kLengthDelimited) { r.skip(wire); continue; }
    Reader typeReader = r.sub();  // TypeProto
    while (!typeReader.done()) {
      uint32_t f, w;
      typeReader.tag(&f, &w);
      if (f != 1 || w != kLengthDelimited) { typeReader.skip(w); continue; }
      Reader tensorType = typeReader.sub();  // TypeProto.Tensor
      while (!tensorType.done()) {
        uint32_t tf, tw;
        tensorType.tag(&tf, &tw);
        if (tf == 1 && tw == kVarint) info.elemType = int(tensorType.varint());
        else if (tf == 2 && tw == kLengthDelimited) readShape(tensorType.sub(), &info);
        else tensorType.skip(tw);
      }
    }
  }
  return info;
}

Attribute readAttribute(Reader r) {
  Attribute a;
  int declaredType = 0;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    switch (field) {
      case 1: a.name = r.string(); break;
      case 2: a.f = r.float32(); a.kind = Attribute::Kind::Float; break;
      case 3: a.i = int64_t(r.varint()); a.kind = Attribute::Kind::Int; break;
      case 4: a.s = r.string(); a.kind = Attribute::Kind::String; break;
      case 5: a.t = readTensor(r.sub(), nullptr); a.kind = Attribute::Kind::Tensor; break;
      case 7: r.repeatedFloat(wire, [&](float v) { a.floats.push_back(v); }); a.kind = Attribute::Kind::Floats; break;
      case 8: r.repeatedVarint(wire, [&](uint64_t v) { a.ints.push_back(int64_t(v)); }); a.kind = Attribute::Kind::Ints; break;
      case 20: declaredType = int(r.varint()); break;
      default: r.skip(wire);
    }
  }
  // An empty list carries no payload field; the declared type still says what it is.
  if (a.kind == Attribute::Kind::Undefined && declaredType == 7) a.kind = Attribute::Kind::Ints;
  if (a.kind == Attribute::Kind::Undefined && declaredType == 6) a.kind = Attribute::Kind::Floats;
  return a;
}

Node readNode(Reader r) {
  Node n;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    switch (field) {
      case 1: n.inputs.push_back(r.string()); break;
      case 2: n.outputs.push_back(r.string()); break;
      case 3: n.name = r.string(); break;
      case 4: n.opType = r.string(); break;
      case 5: n.attributes.push_back(readAttribute(r.sub())); break;
      case 7: n.domain = r.string(); break;
      default: r.skip(wire);
    }
  }
  if (n.opType.empty()) r.broken("node without op_type");
  return n;
}

Graph readGraph(Reader r) {
  Graph g;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    switch (field) {
      case 1: g.nodes.push_back(readNode(r.sub())); break;
      case 5: {
        std::string name;
        Tensor t = readTensor(r.sub(), &name);
        g.initializers.emplace_back(name, std::move(t));
        break;
      }
      case 11: g.inputs.push_back(readValueInfo(r.sub())); break;
      case 12: g.outputs.push_back(readValueInfo(r.sub())); break;
      default: r.skip(wire);
    }
  }
  return g;
}

}  // namespace

const Attribute* Node::attribute(const std::string& attrName) const {
  for (const Attribute& a : attributes) if (a.name == attrName) return &a;
  return nullptr;
}

Model parseModel(const uint8_t* data, size_t size) {
  if (size == 0) fail(ErrorCode::InvalidModel, "model is empty (0 bytes)");
  Reader r(data, data + size, data);
  Model m;
  bool hasGraph = false;
  while (!r.done()) {
    uint32_t field, wire;
    r.tag(&field, &wire);
    if (field == 1 && wire == kVarint) {
      m.irVersion = int64_t(r.varint());
    } else if (field == 7 && wire == kLengthDelimited) {
      m.graph = readGraph(r.sub());
      hasGraph = true;
    } else if (field == 8 && wire == kLengthDelimited) {
      Reader o = r.sub();
      std::string domain;
      int64_t version = 0;
      while (!o.done()) {
        uint32_t f, w;
        o.tag(&f, &w);
        if (f == 1 && w == kLengthDelimited) domain = o.string();
        else if (f == 2 && w == kVarint) version = int64_t(o.varint());
        else o.skip(w);
      }
      m.opsets[domain == "ai.onnx" ? "" : domain] = version;
    } else {
      r.skip(wire);
    }
  }
  if (!hasGraph) fail(ErrorCode::InvalidModel, "not an ONNX model: no graph found");
  if (m.irVersion <= 0) fail(ErrorCode::InvalidModel, "not an ONNX model: missing ir_version");
  if (m.graph.outputs.empty()) fail(ErrorCode::InvalidModel, "ONNX graph declares no outputs");
  return m;
}

Tensor parseTensor(const uint8_t* data, size_t size, std::string* name) {
  Reader r(data, data + size, data);
  return readTensor(r, name);
}

}  // namespace bx::onnx
