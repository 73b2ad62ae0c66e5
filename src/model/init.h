// init.h: the official initialisation of every xLSTM LM parameter (xLSTMLMModel.reset_parameters()) from a
// seed, with our own RNG (nn/rng.h): deterministic parts exact (zeros, ones, linspace, powerlaw), random parts
// with the official distributions (small_init, wang_init, torch-default conv). Not torch's random stream.
#pragma once
#include <cstdint>

#include "model/config.h"
#include "model/params.h"

namespace xm::model {

// small_init std for width dim: sqrt(2 / (5 dim)); wang_init std: 2 / num_blocks / sqrt(dim).
double small_init_std(int dim);
double wang_init_std(int dim, int num_blocks);
// The sLSTM forget-gate bias of block block_idx of num_blocks for head width DH (powerlaw_blockdependent):
// b[d] = 5 - 12 (d / (DH - 1))^(0.3 + 1.3 r), r = block_idx / (num_blocks - 1) (0 for one block).
double slstm_powerlaw_bias(int d, int DH, int block_idx, int num_blocks);

// Fills the flat buffer params (table.total() elements) as the official reset_parameters() would:
//  - token_embedding, lm_head: small_init(D); post_blocks_norm / xlstm_norm / ffn_norm / outnorm / group_norm: 0;
//  - mLSTM: proj_up, q/k/v small_init(D); proj_down wang_init(D, num_blocks); learnable_skip 1;
//    igate/fgate weight 0; fgate bias linspace(3, 6, NH); igate bias N(0, 0.1);
//  - sLSTM: gate weights small_init(D); _recurrent_kernel_ per recurrent_weight_init; _bias_ per bias_init;
//    FFN proj_up small_init(D), proj_down wang_init(D, num_blocks);
//  - conv weight and bias: torch's Conv1d default, U(-1/sqrt(K), 1/sqrt(K)).
template <class T>
void init_params(T* params, const ParamTable& table, const XlstmConfig& cfg, uint64_t seed);

}  // namespace xm::model
