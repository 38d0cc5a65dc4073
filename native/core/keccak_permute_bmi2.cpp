// BMI1/BMI2 build (andn, rorx) of the Keccak-f[1600] permutation.
#include "keccak_permute.h"

namespace bx::keccak_detail {

#define BX_KECCAK_PERMUTE permuteBmi2
#include "keccak_permute.inc"
#undef BX_KECCAK_PERMUTE

}  // namespace bx::keccak_detail
