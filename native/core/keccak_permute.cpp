// Baseline x86-64 build of the Keccak-f[1600] permutation.
#include "keccak_permute.h"

namespace bx::keccak_detail {

#define BX_KECCAK_PERMUTE permuteBaseline
#include "keccak_permute.inc"
#undef BX_KECCAK_PERMUTE

}  // namespace bx::keccak_detail
