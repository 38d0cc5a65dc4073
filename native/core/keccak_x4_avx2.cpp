// Four Keccak-256 streams at once, one per 64-bit AVX2 lane (built with -mavx2; only called when
// the CPU has AVX2). Each lane computes exactly the scalar Keccak of its own message: used to hash
// many tensors of a traced run in parallel. The permutation is the unrolled two-round form of
// keccak_permute.inc with every lane operation widened to four lanes.
#include <immintrin.h>

#include <cstring>

#include "keccak_permute.h"
#include "keccak_x4.h"

namespace bx {
namespace {

using keccak_detail::kRoundConstants;

inline __m256i rotl(__m256i x, int n) { return _mm256_or_si256(_mm256_slli_epi64(x, n), _mm256_srli_epi64(x, 64 - n)); }

inline __m256i xor5(__m256i a, __m256i b, __m256i c, __m256i d, __m256i e) {
  return _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)), e);
}

void permuteX4(__m256i* s) {
  __m256i Aba, Abe, Abi, Abo, Abu, Aga, Age, Agi, Ago, Agu, Aka, Ake, Aki, Ako, Aku, Ama, Ame, Ami, Amo, Amu, Asa, Ase, Asi, Aso, Asu;
  __m256i Eba, Ebe, Ebi, Ebo, Ebu, Ega, Ege, Egi, Ego, Egu, Eka, Eke, Eki, Eko, Eku, Ema, Eme, Emi, Emo, Emu, Esa, Ese, Esi, Eso, Esu;
  __m256i C0, C1, C2, C3, C4, D0, D1, D2, D3, D4, B0, B1, B2, B3, B4;
  Aba = s[0];
  Abe = s[1];
  Abi = s[2];
  Abo = s[3];
  Abu = s[4];
  Aga = s[5];
  Age = s[6];
  Agi = s[7];
  Ago = s[8];
  Agu = s[9];
  Aka = s[10];
  Ake = s[11];
  Aki = s[12];
  Ako = s[13];
  Aku = s[14];
  Ama = s[15];
  Ame = s[16];
  Ami = s[17];
  Amo = s[18];
  Amu = s[19];
  Asa = s[20];
  Ase = s[21];
  Asi = s[22];
  Aso = s[23];
  Asu = s[24];
  for (int round = 0; round < 24; round += 2) {
    C0 = xor5(Aba, Aga, Aka, Ama, Asa);
    C1 = xor5(Abe, Age, Ake, Ame, Ase);
    C2 = xor5(Abi, Agi, Aki, Ami, Asi);
    C3 = xor5(Abo, Ago, Ako, Amo, Aso);
    C4 = xor5(Abu, Agu, Aku, Amu, Asu);
    D0 = _mm256_xor_si256(C4, rotl(C1, 1));
    D1 = _mm256_xor_si256(C0, rotl(C2, 1));
    D2 = _mm256_xor_si256(C1, rotl(C3, 1));
    D3 = _mm256_xor_si256(C2, rotl(C4, 1));
    D4 = _mm256_xor_si256(C3, rotl(C0, 1));
    B0 = _mm256_xor_si256(Aba, D0);
    B1 = rotl(_mm256_xor_si256(Age, D1), 44);
    B2 = rotl(_mm256_xor_si256(Aki, D2), 43);
    B3 = rotl(_mm256_xor_si256(Amo, D3), 21);
    B4 = rotl(_mm256_xor_si256(Asu, D4), 14);
    Eba = _mm256_xor_si256(_mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2)), _mm256_set1_epi64x(int64_t(kRoundConstants[round])));
    Ebe = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Ebi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Ebo = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Ebu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Abo, D3), 28);
    B1 = rotl(_mm256_xor_si256(Agu, D4), 20);
    B2 = rotl(_mm256_xor_si256(Aka, D0), 3);
    B3 = rotl(_mm256_xor_si256(Ame, D1), 45);
    B4 = rotl(_mm256_xor_si256(Asi, D2), 61);
    Ega = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Ege = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Egi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Ego = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Egu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Abe, D1), 1);
    B1 = rotl(_mm256_xor_si256(Agi, D2), 6);
    B2 = rotl(_mm256_xor_si256(Ako, D3), 25);
    B3 = rotl(_mm256_xor_si256(Amu, D4), 8);
    B4 = rotl(_mm256_xor_si256(Asa, D0), 18);
    Eka = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Eke = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Eki = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Eko = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Eku = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Abu, D4), 27);
    B1 = rotl(_mm256_xor_si256(Aga, D0), 36);
    B2 = rotl(_mm256_xor_si256(Ake, D1), 10);
    B3 = rotl(_mm256_xor_si256(Ami, D2), 15);
    B4 = rotl(_mm256_xor_si256(Aso, D3), 56);
    Ema = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Eme = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Emi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Emo = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Emu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Abi, D2), 62);
    B1 = rotl(_mm256_xor_si256(Ago, D3), 55);
    B2 = rotl(_mm256_xor_si256(Aku, D4), 39);
    B3 = rotl(_mm256_xor_si256(Ama, D0), 41);
    B4 = rotl(_mm256_xor_si256(Ase, D1), 2);
    Esa = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Ese = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Esi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Eso = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Esu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    C0 = xor5(Eba, Ega, Eka, Ema, Esa);
    C1 = xor5(Ebe, Ege, Eke, Eme, Ese);
    C2 = xor5(Ebi, Egi, Eki, Emi, Esi);
    C3 = xor5(Ebo, Ego, Eko, Emo, Eso);
    C4 = xor5(Ebu, Egu, Eku, Emu, Esu);
    D0 = _mm256_xor_si256(C4, rotl(C1, 1));
    D1 = _mm256_xor_si256(C0, rotl(C2, 1));
    D2 = _mm256_xor_si256(C1, rotl(C3, 1));
    D3 = _mm256_xor_si256(C2, rotl(C4, 1));
    D4 = _mm256_xor_si256(C3, rotl(C0, 1));
    B0 = _mm256_xor_si256(Eba, D0);
    B1 = rotl(_mm256_xor_si256(Ege, D1), 44);
    B2 = rotl(_mm256_xor_si256(Eki, D2), 43);
    B3 = rotl(_mm256_xor_si256(Emo, D3), 21);
    B4 = rotl(_mm256_xor_si256(Esu, D4), 14);
    Aba = _mm256_xor_si256(_mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2)), _mm256_set1_epi64x(int64_t(kRoundConstants[round + 1])));
    Abe = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Abi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Abo = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Abu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Ebo, D3), 28);
    B1 = rotl(_mm256_xor_si256(Egu, D4), 20);
    B2 = rotl(_mm256_xor_si256(Eka, D0), 3);
    B3 = rotl(_mm256_xor_si256(Eme, D1), 45);
    B4 = rotl(_mm256_xor_si256(Esi, D2), 61);
    Aga = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Age = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Agi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Ago = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Agu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Ebe, D1), 1);
    B1 = rotl(_mm256_xor_si256(Egi, D2), 6);
    B2 = rotl(_mm256_xor_si256(Eko, D3), 25);
    B3 = rotl(_mm256_xor_si256(Emu, D4), 8);
    B4 = rotl(_mm256_xor_si256(Esa, D0), 18);
    Aka = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Ake = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Aki = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Ako = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Aku = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Ebu, D4), 27);
    B1 = rotl(_mm256_xor_si256(Ega, D0), 36);
    B2 = rotl(_mm256_xor_si256(Eke, D1), 10);
    B3 = rotl(_mm256_xor_si256(Emi, D2), 15);
    B4 = rotl(_mm256_xor_si256(Eso, D3), 56);
    Ama = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Ame = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Ami = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Amo = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Amu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
    B0 = rotl(_mm256_xor_si256(Ebi, D2), 62);
    B1 = rotl(_mm256_xor_si256(Ego, D3), 55);
    B2 = rotl(_mm256_xor_si256(Eku, D4), 39);
    B3 = rotl(_mm256_xor_si256(Ema, D0), 41);
    B4 = rotl(_mm256_xor_si256(Ese, D1), 2);
    Asa = _mm256_xor_si256(B0, _mm256_andnot_si256(B1, B2));
    Ase = _mm256_xor_si256(B1, _mm256_andnot_si256(B2, B3));
    Asi = _mm256_xor_si256(B2, _mm256_andnot_si256(B3, B4));
    Aso = _mm256_xor_si256(B3, _mm256_andnot_si256(B4, B0));
    Asu = _mm256_xor_si256(B4, _mm256_andnot_si256(B0, B1));
  }
  s[0] = Aba;
  s[1] = Abe;
  s[2] = Abi;
  s[3] = Abo;
  s[4] = Abu;
  s[5] = Aga;
  s[6] = Age;
  s[7] = Agi;
  s[8] = Ago;
  s[9] = Agu;
  s[10] = Aka;
  s[11] = Ake;
  s[12] = Aki;
  s[13] = Ako;
  s[14] = Aku;
  s[15] = Ama;
  s[16] = Ame;
  s[17] = Ami;
  s[18] = Amo;
  s[19] = Amu;
  s[20] = Asa;
  s[21] = Ase;
  s[22] = Asi;
  s[23] = Aso;
  s[24] = Asu;
}

}  // namespace

void keccakAbsorbX4Avx2(size_t blocks, BlockWriter writeBlock, void* context, uint64_t states[4][25]) {
  alignas(32) __m256i state[25];
  for (auto& lane : state) lane = _mm256_setzero_si256();
  alignas(8) uint8_t buffers[4][kKeccakRate];
  for (size_t b = 0; b < blocks; ++b) {
    for (int j = 0; j < 4; ++j) writeBlock(context, j, b, buffers[j]);
    for (size_t i = 0; i < kKeccakRate / 8; ++i) {
      uint64_t words[4];
      for (int j = 0; j < 4; ++j) std::memcpy(&words[j], buffers[j] + 8 * i, 8);
      state[i] = _mm256_xor_si256(state[i], _mm256_set_epi64x(int64_t(words[3]), int64_t(words[2]), int64_t(words[1]), int64_t(words[0])));
    }
    permuteX4(state);
  }
  alignas(32) uint64_t lanes[25][4];
  for (int i = 0; i < 25; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[i]), state[i]);
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 25; ++i) states[j][i] = lanes[i][j];
  }
}

}  // namespace bx
