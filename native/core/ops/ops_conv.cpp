// QLinearConv and ConvInteger (1-D and 2-D, NCHW): groups/depthwise, strides, pads, dilations,
// per-channel weights, bias. 16-bit activations (w8a16) take one exact int32 path on every ISA.
#include <algorithm>
#include <memory>

#include "../../cpu/depthwise.h"
#include "linear_layer.h"
#include "ops_common.h"

namespace bx {
namespace {

struct ConvAttributes {
  int64_t spatialRank = 2;
  int64_t group = 1;
  std::string autoPad = "NOTSET";
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t dilation[2] = {1, 1};
  int64_t padBegin[2] = {0, 0};
  int64_t padEnd[2] = {0, 0};
};

ConvAttributes readConvAttributes(const BuildContext& ctx, const Shape& weightShape) {
  ConvAttributes a;
  if (weightShape.size() != 3 && weightShape.size() != 4) {
    ctx.unsupported("only 1-D and 2-D convolutions are supported (weight rank " + std::to_string(weightShape.size()) + ")");
  }
  a.spatialRank = int64_t(weightShape.size()) - 2;
  a.group = ctx.attrInt("group", 1);
  if (a.group < 1) ctx.invalid("group must be >= 1");
  a.autoPad = ctx.attrString("auto_pad", "NOTSET");
  if (a.autoPad != "NOTSET" && a.autoPad != "VALID" && a.autoPad != "SAME_UPPER" && a.autoPad != "SAME_LOWER") {
    ctx.invalid("unknown auto_pad '" + a.autoPad + "'");
  }
  const auto readPair = [&](const char* name, int64_t* dst, int64_t minimum) {
    const std::vector<int64_t> v = ctx.attrInts(name);
    if (v.empty()) return;
    if (int64_t(v.size()) != a.spatialRank) ctx.invalid(std::string(name) + " has the wrong length");
    for (int64_t i = 0; i < a.spatialRank; ++i) {
      if (v[size_t(i)] < minimum) ctx.invalid(std::string(name) + " must be >= " + std::to_string(minimum));
      dst[2 - a.spatialRank + i] = v[size_t(i)];
    }
  };
  // 1-D convolutions run as 2-D ones with a height of 1: attributes fill the last slot.
  for (int64_t i = 0; i < a.spatialRank; ++i) {
    if (weightShape[size_t(2 + i)] < 1) ctx.invalid("the weight's kernel dimensions must be >= 1");
    a.kernel[2 - a.spatialRank + i] = weightShape[size_t(2 + i)];
  }
  const std::vector<int64_t> kernelShape = ctx.attrInts("kernel_shape");
  if (!kernelShape.empty()) {
    for (int64_t i = 0; i < int64_t(kernelShape.size()) && i < a.spatialRank; ++i) {
      if (kernelShape[size_t(i)] != weightShape[size_t(2 + i)]) ctx.invalid("kernel_shape does not match the weight shape");
    }
  }
  readPair("strides", a.stride, 1);
  readPair("dilations", a.dilation, 1);
  const std::vector<int64_t> pads = ctx.attrInts("pads");
  if (!pads.empty()) {
    if (int64_t(pads.size()) != 2 * a.spatialRank) ctx.invalid("pads has the wrong length");
    for (int64_t i = 0; i < a.spatialRank; ++i) {
      if (pads[size_t(i)] < 0 || pads[size_t(i + a.spatialRank)] < 0) ctx.invalid("pads must be >= 0");
      a.padBegin[2 - a.spatialRank + i] = pads[size_t(i)];
      a.padEnd[2 - a.spatialRank + i] = pads[size_t(i + a.spatialRank)];
    }
  }
  return a;
}

class ConvOp : public Op {
 public:
  ConvOp(std::unique_ptr<LinearLayer> layer, ConvAttributes attrs, int64_t inputChannels, std::string where)
      : layer_(std::move(layer)), a_(attrs), inputChannels_(inputChannels), where_(std::move(where)) {
    if (inputChannels_ / a_.group == 1 && layer_->rowsPerGroup() == 1) {
      // Depthwise: the device kernel takes every channel's weights as one array.
      for (int64_t c = 0; c < layer_->groups(); ++c) {
        const cpu::PackedWeights& w = layer_->weights(c);
        depthwiseWeights_.insert(depthwiseWeights_.end(), w.plain.begin(), w.plain.end());
        depthwiseZeroPoints_.push_back(w.zeroPoints[0]);
        depthwiseBias_.push_back(layer_->bias(c, 0));
      }
      if (!layer_->wide()) {
        for (int64_t first = 0; first < layer_->groups(); first += cpu::kDepthwiseBlock) {
          const int count = int(std::min<int64_t>(cpu::kDepthwiseBlock, layer_->groups() - first));
          cpu::DepthwisePlane planes[cpu::kDepthwiseBlock];
          for (int c = 0; c < count; ++c) planes[c] = depthwisePlane(nullptr, first + c);
          blockWeights_.push_back(cpu::packDepthwiseBlock(a_.kernel[0], a_.kernel[1], planes, count));
        }
      }
    }
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    Shape outShape;
    const cpu::Conv2dGeometry g = geometry(x.dtype, x.shape, &outShape);
    const int64_t batch = x.shape[0];
    const int64_t groups = layer_->groups();
    const int64_t rowsPerGroup = layer_->rowsPerGroup();
    Tensor y = ctx.allocateForOverwrite(layer_->outputType(), outShape);
    const int64_t inPlane = g.inH * g.inW;
    const int64_t outPlane = g.outH * g.outW;
    const size_t inElement = dtypeSize(x.dtype), outElement = dtypeSize(y.dtype);
    const uint8_t* xData = x.bytes();
    uint8_t* yData = y.buffer->data();
    const auto imageOf = [&](int64_t n, int64_t group) {
      return xData + size_t((n * inputChannels_ + group * g.channels) * inPlane) * inElement;
    };
    const auto outputOf = [&](int64_t n, int64_t group) {
      return yData + size_t((n * groups + group) * rowsPerGroup * outPlane) * outElement;
    };

    const bool depthwise = g.channels == 1 && rowsPerGroup == 1;
    if (layer_->wide()) {
      runWide(ctx, g, batch, imageOf, outputOf);
    } else if (depthwise && ctx.isa != cpu::Isa::Scalar) {
      // At least this many outputs per task (a few microseconds of work): enough to outweigh
      // handing it to a worker, small enough that a batch-1 layer of 7 x 7 planes (576 channels
      // at stride 2: 28 224 outputs) still splits across the threads.
      constexpr int64_t kDepthwiseTaskOutputs = 4096;
      // Every CPU with a vector ISA here has AVX2. Maps under 16 columns go eight channels at a
      // time (MobileNetV2's 14 x 14 and 7 x 7 layers at batch 16, one thread: 35-60% less time
      // than plane by plane); from 28 columns up both kernels took about the same time, and the
      // plane kernel needs no transposes.
      if (g.outW < 16) {
        const int64_t blocks = int64_t(blockWeights_.size());
        parallelRange(ctx.pool, batch * blocks, std::max<int64_t>(1, kDepthwiseTaskOutputs / std::max<int64_t>(outPlane * cpu::kDepthwiseBlock, 1)), [&](int64_t begin, int64_t end) {
          cpu::DepthwiseBlockRunner runner(g);
          cpu::DepthwiseBlockInput block;
          block.signedInput = layer_->inputSigned();
          block.inputZeroPoint = layer_->inputZeroPoint();
          cpu::GemmEpilogue epilogues[cpu::kDepthwiseBlock];
          for (int64_t task = begin; task < end; ++task) {
            const int64_t n = task / blocks, first = task % blocks * cpu::kDepthwiseBlock;
            block.count = int(std::min<int64_t>(cpu::kDepthwiseBlock, groups - first));
            for (int c = 0; c < block.count; ++c) {
              block.images[c] = imageOf(n, first + c);
              epilogues[c] = layer_->epilogue(first + c, outputOf(n, first + c), outPlane, 1);
            }
            runner.run(block, blockWeights_[size_t(task % blocks)], epilogues);
          }
        });
      } else {
        // Hand each task a range of planes, not one (16 x 16 is a few hundred outputs).
        parallelRange(ctx.pool, batch * groups, std::max<int64_t>(1, kDepthwiseTaskOutputs / std::max<int64_t>(outPlane, 1)), [&](int64_t begin, int64_t end) {
          cpu::DepthwiseRunner runner(g);
          for (int64_t chunk = begin; chunk < end; ++chunk) {
            const int64_t n = chunk / groups, group = chunk % groups;
            runner.run(depthwisePlane(imageOf(n, group), group), layer_->epilogue(group, outputOf(n, group), outPlane, 1));
          }
        });
      }
    } else if (ctx.isa == cpu::Isa::Scalar) {
      // The scalar reference: one output plane per chunk, straight from the definition.
      ctx.pool.parallelFor(batch * groups * rowsPerGroup, [&](int64_t chunk) {
        const int64_t n = chunk / (groups * rowsPerGroup);
        const int64_t group = (chunk / rowsPerGroup) % groups;
        const int64_t row = chunk % rowsPerGroup;
        referencePlane(g, imageOf(n, group), group, row, layer_->epilogue(group, outputOf(n, group), outPlane, 1));
      });
    } else {
      const bool pointwise = g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1 &&
                             g.padTop == 0 && g.padLeft == 0 && g.outH == g.inH && g.outW == g.inW;
      const auto gemm = [&](cpu::ThreadPool& pool, int64_t n, int64_t group) {
        const cpu::GemmEpilogue e = layer_->epilogue(group, outputOf(n, group), outPlane, 1);
        if (pointwise) {
          cpu::MatrixSource src(imageOf(n, group), layer_->inputSigned(), g.channels, inPlane, 1);
          cpu::runPackedGemm(pool, layer_->weights(group), src, outPlane, e);
        } else {
          cpu::Im2colSource src(imageOf(n, group), layer_->inputSigned(), g, uint8_t(layer_->inputZeroPoint()));
          cpu::runPackedGemm(pool, layer_->weights(group), src, outPlane, e);
        }
      };
      // A batch of images (at least two per thread): one task per image and group, each GEMM on
      // its own thread, instead of splitting every GEMM across the pool and joining it per image
      // and layer. Measured on 2 cores, this wins for small maps (ResNet-8 at batch 16) and for
      // mid-size GEMMs too (MobileNetV2's 64 -> 384 pointwise layer at 14x14, batch 16: 2.8 ->
      // 1.5 ms), where the split GEMM scaled worse than whole images.
      const int64_t tasks = batch * groups;
      const bool perImage = ctx.pool.threads() > 1 && tasks >= 2 * ctx.pool.threads();
      if (perImage) {
        ctx.pool.parallelFor(tasks, [&](int64_t task) {
          thread_local cpu::ThreadPool serial(1);
          gemm(serial, task / groups, task % groups);
        });
      } else {
        for (int64_t n = 0; n < batch; ++n) {
          for (int64_t group = 0; group < groups; ++group) gemm(ctx.pool, n, group);
        }
      }
    }
    out[0] = std::move(y);
  }

  // Channel `group`'s plane of a depthwise layer (image may be null when only weights are wanted).
  cpu::DepthwisePlane depthwisePlane(const uint8_t* image, int64_t group) const {
    const cpu::PackedWeights& w = layer_->weights(group);
    cpu::DepthwisePlane plane;
    plane.image = image;
    plane.signedInput = layer_->inputSigned();
    plane.inputZeroPoint = layer_->inputZeroPoint();
    plane.weights = w.plain.data();
    plane.weightZeroPoint = w.zeroPoints[0];
    plane.bias = layer_->bias(group, 0);
    return plane;
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    Shape outShape;
    const cpu::Conv2dGeometry g = geometry(x.dtype, x.shape, &outShape);
    DeviceTensor y = ctx.allocate(layer_->outputType(), outShape);
    const int64_t batch = x.shape[0], groups = layer_->groups(), rowsPerGroup = layer_->rowsPerGroup();
    const int64_t inPlane = g.inH * g.inW, outPlane = g.outH * g.outW;
    if (g.channels == 1 && rowsPerGroup == 1 && !layer_->wide()) {
      DepthwiseDeviceArgs a;
      a.hostWeights = depthwiseWeights_.data();
      a.hostZeroPoints = depthwiseZeroPoints_.data();
      a.hostBias = depthwiseBias_.data();
      a.hostMultipliers = layer_->requantizes() ? layer_->multipliers().data() : nullptr;
      a.channels = groups;
      a.batch = batch;
      a.conv = g;
      a.input = x.data();
      a.inputSigned = layer_->inputSigned();
      a.inputZeroPoint = layer_->inputZeroPoint();
      a.outputZeroPoint = layer_->outputZeroPoint();
      const LinearDeviceArgs common = layer_->deviceArgs(0);
      a.range = common.range;
      a.signedOutput = common.signedOutput;
      a.output = y.data();
      ctx.depthwise(a);
    } else {
      const size_t inElement = dtypeSize(x.dtype), outElement = dtypeSize(y.dtype);
      for (int64_t group = 0; group < groups; ++group) {
        LinearDeviceArgs a = layer_->deviceArgs(group);
        a.im2col = true;
        a.input = x.data() + size_t(group * g.channels * inPlane) * inElement;
        a.columns = batch * outPlane;
        a.conv = g;
        a.imageStride = inputChannels_ * inPlane;
        a.output = y.data() + size_t(group * rowsPerGroup * outPlane) * outElement;
        a.colsPerImage = outPlane;
        a.imageOutStride = groups * rowsPerGroup * outPlane;
        a.rowStride = outPlane;
        a.colStride = 1;
        ctx.linear(a);
      }
    }
    out[0] = std::move(y);
    return true;
  }

 private:
  // Checks the input and derives the convolution's geometry and output shape.
  cpu::Conv2dGeometry geometry(DType dtype, const Shape& shape, Shape* outShape) const {
    if (dtype != layer_->inputType()) {
      fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", expected " + dtypeName(layer_->inputType()));
    }
    if (int64_t(shape.size()) != 2 + a_.spatialRank) {
      fail(ErrorCode::Input, where_ + ": input shape " + shapeToString(shape) + " has the wrong rank");
    }
    if (shape[1] != inputChannels_) {
      fail(ErrorCode::Input, where_ + ": input has " + std::to_string(shape[1]) + " channels, expected " +
                                 std::to_string(inputChannels_));
    }
    cpu::Conv2dGeometry g;
    g.channels = inputChannels_ / a_.group;
    g.inH = a_.spatialRank == 2 ? shape[2] : 1;
    g.inW = shape[size_t(1 + a_.spatialRank)];
    g.kernelH = a_.kernel[0];
    g.kernelW = a_.kernel[1];
    g.strideH = a_.stride[0];
    g.strideW = a_.stride[1];
    g.dilationH = a_.dilation[0];
    g.dilationW = a_.dilation[1];
    int64_t outDims[2];
    int64_t padBegin[2];
    const int64_t inDims[2] = {g.inH, g.inW};
    for (int i = 0; i < 2; ++i) {
      const WindowDim d = windowDim(inDims[i], a_.kernel[i], a_.stride[i], a_.dilation[i], a_.padBegin[i], a_.padEnd[i], a_.autoPad, false, where_);
      outDims[i] = d.out;
      padBegin[i] = d.padBegin;
    }
    g.outH = outDims[0];
    g.outW = outDims[1];
    g.padTop = padBegin[0];
    g.padLeft = padBegin[1];
    *outShape = {shape[0], layer_->groups() * layer_->rowsPerGroup()};
    if (a_.spatialRank == 2) outShape->push_back(g.outH);
    outShape->push_back(g.outW);
    return g;
  }

  // 16-bit activations (w8a16), on every ISA: per image and group the centred im2col matrix
  // [depth][outPlane] once, then each output channel's exact int32 sums over it (rows in parallel).
  template <typename ImageOf, typename OutputOf>
  void runWide(ExecContext& ctx, const cpu::Conv2dGeometry& g, int64_t batch, const ImageOf& imageOf, const OutputOf& outputOf) const {
    const int64_t depth = layer_->depth(), plane = g.outH * g.outW, rowsPerGroup = layer_->rowsPerGroup();
    const DType inputType = layer_->inputType();
    const int32_t zx = layer_->inputZeroPoint();
    // Scratch through the run's allocator, so the memory cap counts it (depth x plane int32 can be
    // tens of MB on a large layer).
    Tensor columnsTensor = ctx.allocate(DType::Int32, {depth, plane});
    Tensor centredTensor = ctx.allocate(DType::Int32, {g.channels * g.inH * g.inW});
    int32_t* const columns = columnsTensor.mutableData<int32_t>();
    int32_t* const centred = centredTensor.mutableData<int32_t>();
    const int64_t imageSize = centredTensor.size();
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t group = 0; group < layer_->groups(); ++group) {
        const uint8_t* image = imageOf(n, group);
        for (int64_t i = 0; i < imageSize; ++i) centred[i] = quantizedAt(image, inputType, i) - zx;
        int64_t k = 0;
        for (int64_t c = 0; c < g.channels; ++c) {
          for (int64_t ky = 0; ky < g.kernelH; ++ky) {
            for (int64_t kx = 0; kx < g.kernelW; ++kx, ++k) {
              int32_t* dst = columns + k * plane;
              for (int64_t oy = 0; oy < g.outH; ++oy) {
                const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
                int32_t* row = dst + oy * g.outW;
                if (iy < 0 || iy >= g.inH) {
                  std::fill(row, row + g.outW, 0);  // padding is the zero point, i.e. a real 0
                  continue;
                }
                const int32_t* src = centred + (c * g.inH + iy) * g.inW;
                for (int64_t ox = 0; ox < g.outW; ++ox) {
                  const int64_t ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
                  row[ox] = ix >= 0 && ix < g.inW ? src[ix] : 0;
                }
              }
            }
          }
        }
        const cpu::GemmEpilogue e = layer_->epilogue(group, outputOf(n, group), plane, 1);
        constexpr int64_t kRows = 8;  // wide_accumulate.h's row block
        parallelRange(ctx.pool, (rowsPerGroup + kRows - 1) / kRows, 1, [&](int64_t begin, int64_t end) {
          std::vector<int32_t> acc(static_cast<size_t>(kRows * plane));
          for (int64_t block = begin; block < end; ++block) {
            const int64_t row0 = block * kRows, rows = std::min(kRows, rowsPerGroup - row0);
            layer_->accumulateColumns(ctx.isa, group, row0, rows, columns, plane, acc.data());
            for (int64_t r = 0; r < rows; ++r) {
              for (int64_t p = 0; p < plane; ++p) cpu::storeAccumulator(e, row0 + r, p, acc[size_t(r * plane + p)]);
            }
          }
        });
      }
    }
  }

  void referencePlane(const cpu::Conv2dGeometry& g, const uint8_t* image, int64_t group, int64_t row,
                      const cpu::GemmEpilogue& e) const {
    const DType inputType = layer_->inputType();
    const int32_t zx = layer_->inputZeroPoint();
    std::vector<int32_t> centred(size_t(layer_->depth()));
    for (int64_t oy = 0; oy < g.outH; ++oy) {
      for (int64_t ox = 0; ox < g.outW; ++ox) {
        size_t k = 0;
        for (int64_t c = 0; c < g.channels; ++c) {
          for (int64_t ky = 0; ky < g.kernelH; ++ky) {
            for (int64_t kx = 0; kx < g.kernelW; ++kx, ++k) {
              const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
              const int64_t ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
              const bool inside = iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW;
              // Padding is the zero point, i.e. a real 0.
              centred[k] = inside ? quantizedAt(image, inputType, (c * g.inH + iy) * g.inW + ix) - zx : 0;
            }
          }
        }
        cpu::storeAccumulator(e, row, oy * g.outW + ox, layer_->referenceDot(group, row, centred.data()));
      }
    }
  }

  std::unique_ptr<LinearLayer> layer_;
  ConvAttributes a_;
  int64_t inputChannels_;
  std::string where_;
  std::vector<int8_t> depthwiseWeights_;
  std::vector<int32_t> depthwiseZeroPoints_, depthwiseBias_;
  std::vector<cpu::DepthwiseBlockWeights> blockWeights_;  // 8-bit depthwise: per block of channels
};

// Builds the weight side of a convolution. `bias` may be empty.
std::unique_ptr<Op> buildConv(BuildContext& ctx, const Tensor& w, DType inputType, int32_t inputZeroPoint,
                              const std::vector<int32_t>& weightZeroPoints, std::vector<int32_t> bias,
                              bool requantize, const std::vector<double>& multipliers, DType outputType,
                              int32_t outputZeroPoint, bool allowWide) {
  if (w.dtype != DType::Int8 && w.dtype != DType::UInt8) ctx.unsupported(std::string("weights of type ") + dtypeName(w.dtype));
  const ConvAttributes attrs = readConvAttributes(ctx, w.shape);
  const int64_t outChannels = w.shape[0];
  if (outChannels % attrs.group != 0) ctx.invalid("output channels are not divisible by group");
  LinearLayerSpec spec;
  spec.weights = w.bytes();
  spec.weightsSigned = w.dtype == DType::Int8;
  spec.groups = attrs.group;
  spec.rowsPerGroup = outChannels / attrs.group;
  spec.depth = w.shape[1] * attrs.kernel[0] * attrs.kernel[1];
  spec.weightZeroPoints = weightZeroPoints;
  spec.bias = std::move(bias);
  spec.inputType = inputType;
  spec.inputZeroPoint = inputZeroPoint;
  spec.allowWide = allowWide;  // QLinearConv (w8a16); ConvInteger is 8-bit by definition
  spec.requantize = requantize;
  spec.realMultipliers = multipliers;
  spec.outputType = outputType;
  spec.outputZeroPoint = outputZeroPoint;
  auto layer = std::make_unique<LinearLayer>(ctx, spec);
  return std::make_unique<ConvOp>(std::move(layer), attrs, w.shape[1] * attrs.group, ctx.where());
}

std::vector<int32_t> readBias(const BuildContext& ctx, size_t index, int64_t channels) {
  if (!ctx.hasInput(index)) return {};
  const Tensor& b = ctx.requireConstant(index, "bias");
  if (b.dtype != DType::Int32) ctx.unsupported("bias must be int32");
  if (b.size() != channels) ctx.invalid("bias has " + std::to_string(b.size()) + " entries for " + std::to_string(channels) + " channels");
  return std::vector<int32_t>(b.data<int32_t>(), b.data<int32_t>() + channels);
}

}  // namespace

std::unique_ptr<Op> createQLinearConv(BuildContext& ctx) {
  ctx.requireInputs(8, 9);
  const QuantParams x = readQuantParams(ctx, 1, 2, DType::UInt8, "input");
  const Tensor& w = ctx.requireConstant(3, "weight");
  const QuantParams wq = readQuantParams(ctx, 4, 5, w.dtype, "weight");
  const QuantParams y = readQuantParams(ctx, 6, 7, DType::UInt8, "output");
  if (!x.perTensor() || !y.perTensor()) ctx.unsupported("per-channel input or output quantisation");
  if (w.shape.empty()) ctx.invalid("weight has rank 0");
  const int64_t channels = w.shape[0];
  std::vector<double> multipliers;
  const std::vector<int32_t> wzp = expandPerChannel(ctx, wq.zeroPoints, channels, "weight zero point");
  const std::vector<float> wScales = expandPerChannel(ctx, wq.scales, channels, "weight scale");
  for (int64_t c = 0; c < channels; ++c) {
    // float64 products of float32 values: exact up to the one rounding of the division.
    multipliers.push_back(double(x.scales[0]) * double(wScales[size_t(c)]) / double(y.scales[0]));
  }
  return buildConv(ctx, w, x.dtype, x.zeroPoints[0], wzp, readBias(ctx, 8, channels), true, multipliers, y.dtype,
                   y.zeroPoints[0], true);
}

std::unique_ptr<Op> createConvInteger(BuildContext& ctx) {
  ctx.requireInputs(2, 4);
  const Tensor& w = ctx.requireConstant(1, "weight");
  if (w.shape.empty()) ctx.invalid("weight has rank 0");
  const int64_t channels = w.shape[0];
  const IntegerInputZeroPoint xzp = readIntegerInputZeroPoint(ctx, 2, "input zero point");
  std::vector<int32_t> wzp(size_t(channels), 0);
  if (ctx.hasInput(3)) {
    const Tensor& z = ctx.requireConstant(3, "weight zero point");
    std::vector<int32_t> values;
    for (int64_t i = 0; i < z.size(); ++i) values.push_back(int32_t(z.intAt(i)));
    wzp = expandPerChannel(ctx, values, channels, "weight zero point");
  }
  return buildConv(ctx, w, xzp.type, xzp.value, wzp, {}, false, {}, DType::Int32, 0, false);
}

}  // namespace bx
