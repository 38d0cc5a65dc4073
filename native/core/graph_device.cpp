// CompiledModel::runOnDevice: the executor of graph.cpp over device memory. Every value lives on
// the host, on the device or both; an op with a device kernel gets its inputs on the device, any
// other op gets them on the host (views and Shape only need shapes, so no bytes move for them).
// Traces hash on the host, from the downloaded bytes, with the same code as a CPU run.
#include "graph.h"

namespace bx {
namespace {

struct Slot {
  Tensor host;
  DeviceTensor device;
  bool onHost = false, onDevice = false;
};

// The buffer of a host tensor that stands for device bytes in ops that read only shapes.
const std::shared_ptr<ByteBuffer>& phantomBuffer() {
  static const auto buffer = std::make_shared<ByteBuffer>();
  return buffer;
}

}  // namespace

DeviceConstants& CompiledModel::deviceConstants(DeviceBackend& device) const {
  std::lock_guard<std::mutex> lock(deviceMutex_);
  std::unique_ptr<DeviceConstants>& constants = deviceConstants_[device.index()];
  if (!constants) constants = device.newConstants();
  return *constants;
}

std::vector<NamedTensor> CompiledModel::runOnDevice(DeviceBackend& device, const std::vector<NamedTensor>& inputs,
                                                    const RunOptions& options, std::vector<TraceEntry>* trace) const {
  std::vector<Tensor> bound = bindInputs(inputs);
  std::vector<Slot> slots(valueCount_);
  for (size_t id = 0; id < valueCount_; ++id) {
    if (!bound[id].buffer) continue;
    slots[id].host = std::move(bound[id]);
    slots[id].onHost = true;
  }
  std::unique_ptr<DeviceContext> dev = device.beginRun(deviceConstants(device), maxMemoryBytes_, options.allowNonFinite);
  ExecContext hostCtx(*pool_, isa_, maxMemoryBytes_, options.allowNonFinite);

  const auto deviceValue = [&](int id) -> const DeviceTensor& {
    Slot& s = slots[size_t(id)];
    if (!s.onDevice) {
      s.device = isConstant_[size_t(id)] ? dev->constant(s.host) : dev->upload(s.host);
      s.onDevice = true;
    }
    return s.device;
  };
  const auto hostValue = [&](int id) -> const Tensor& {
    Slot& s = slots[size_t(id)];
    if (!s.onHost) {
      s.host = dev->download(s.device);
      s.onHost = true;
    }
    return s.host;
  };
  const auto named = [](const Step& step, const Error& e) {
    if (std::string(e.what()).rfind("node '", 0) == 0) throw e;
    fail(e.code(), step.label + ": " + e.what());
  };

  std::vector<Tensor> traced;
  std::vector<Tensor> shapeOnly;  // stand-ins for device values whose bytes a host op never reads
  for (const Step& step : steps_) {
    const size_t index = size_t(&step - steps_.data());
    checkCancelled(options, index);
    for (int id : step.inputs) {
      if (id >= 0 && !slots[size_t(id)].onHost && !slots[size_t(id)].onDevice) {
        fail(ErrorCode::Internal, step.label + ": input was released or never computed");
      }
    }
    const DataUse use = step.op->dataUse();
    bool ranOnDevice = false;
    if (use == DataUse::Elements && step.op->hasDeviceKernel()) {
      std::vector<const DeviceTensor*> in;
      for (int id : step.inputs) in.push_back(id < 0 ? nullptr : &deviceValue(id));
      std::vector<DeviceTensor> out(step.outputs.size());
      try {
        ranOnDevice = step.op->runDevice(*dev, in, out);
      } catch (const Error& e) {
        named(step, e);
      }
      if (ranOnDevice) {
        for (size_t i = 0; i < step.outputs.size(); ++i) {
          if (step.outputs[i] < 0) continue;
          Slot& s = slots[size_t(step.outputs[i])];
          s = Slot();
          s.device = std::move(out[i]);
          s.onDevice = true;
        }
      }
    }
    if (!ranOnDevice) {
      const bool firstOnDeviceOnly = !step.inputs.empty() && step.inputs[0] >= 0 && !slots[size_t(step.inputs[0])].onHost;
      const bool shapeOfFirst = use != DataUse::Elements && firstOnDeviceOnly;
      std::vector<const Tensor*> in;
      shapeOnly.clear();
      shapeOnly.reserve(1);
      for (size_t i = 0; i < step.inputs.size(); ++i) {
        const int id = step.inputs[i];
        if (id < 0) {
          in.push_back(nullptr);
        } else if (i == 0 && shapeOfFirst) {
          const DeviceTensor& d = slots[size_t(id)].device;
          Tensor stand;
          stand.dtype = d.dtype;
          stand.shape = d.shape;
          stand.buffer = phantomBuffer();
          shapeOnly.push_back(std::move(stand));
          in.push_back(&shapeOnly.back());
        } else {
          in.push_back(&hostValue(id));
        }
      }
      std::vector<Tensor> out(step.outputs.size());
      try {
        step.op->run(hostCtx, in, out);
      } catch (const Error& e) {
        named(step, e);
      }
      // Input 0's device bytes, for views of it (empty when it lives on the host only).
      const bool firstOnDevice = !step.inputs.empty() && step.inputs[0] >= 0 && slots[size_t(step.inputs[0])].onDevice;
      const DeviceTensor firstDevice = firstOnDevice ? slots[size_t(step.inputs[0])].device : DeviceTensor();
      for (size_t i = 0; i < step.outputs.size(); ++i) {
        if (step.outputs[i] < 0) continue;
        Slot& s = slots[size_t(step.outputs[i])];
        s = Slot();
        if (i == 0 && use == DataUse::ViewOfFirst && firstDevice.memory) {
          // The same device bytes under the new shape.
          s.device = firstDevice;
          s.device.shape = out[0].shape;
          s.onDevice = true;
          if (!shapeOfFirst) { s.host = std::move(out[0]); s.onHost = true; }
        } else {
          s.host = std::move(out[i]);
          s.onHost = true;
        }
      }
    }
    if (!step.outputs.empty() && step.outputs[0] >= 0) {
      const int id = step.outputs[0];
      if (options.faultNode == int64_t(index)) {
        Tensor victim = hostValue(id);
        if (victim.byteSize() > 0) {
          auto copy = std::make_shared<ByteBuffer>(*victim.buffer);
          (*copy)[0] ^= 1;
          victim.buffer = copy;
          slots[size_t(id)] = Slot();
          slots[size_t(id)].host = std::move(victim);
          slots[size_t(id)].onHost = true;
        }
      }
      if (trace) {
        const Tensor& result = hostValue(id);
        appendTraceEntry(step, result, trace);
        traced.push_back(result);
      }
    }
    for (int id : step.release) slots[size_t(id)] = Slot();
  }
  if (trace) hashTrace(traced, options, trace);
  std::vector<NamedTensor> result;
  for (size_t i = 0; i < outputs_.size(); ++i) result.push_back({outputs_[i].name, hostValue(outputIds_[i])});
  return result;
}

}  // namespace bx
