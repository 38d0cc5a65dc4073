// Long-lived threads for hashing a run's inputs while the model runs. Starting a thread per run
// (std::async) cost about 0.6 ms on the VMs measured, a tenth of a MobileNet run.
#pragma once

#include <functional>
#include <future>

#include "../core/keccak.h"

namespace bx::addon {

// Runs `task` on one of a few hashing threads. Tasks never wait on anything, so a run that waits
// for its hash cannot deadlock even when every job thread does the same.
std::future<Hash32> HashInBackground(std::function<Hash32()> task);

}  // namespace bx::addon
