// init.cpp: see init.h. Each tensor draws from its own RNG stream (seed, tensor index), so adding a tensor does
// not change the others' values. Not a loader of pretrained weights.
#include "model/init.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "nn/rng.h"

namespace xm::model {

double small_init_std(int dim) { return std::sqrt(2.0 / (5.0 * dim)); }
double wang_init_std(int dim, int num_blocks) { return 2.0 / num_blocks / std::sqrt(double(dim)); }

double slstm_powerlaw_bias(int d, int DH, int block_idx, int num_blocks) {
  const double r = num_blocks > 1 ? double(block_idx) / double(num_blocks - 1) : 0.0;
  return 5.0 - 12.0 * std::pow(double(d) / double(DH - 1), 0.3 + 1.3 * r);
}

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// linspace(start, end, n) as torch: n == 1 gives [start].
double linspace_at(double start, double end, int n, int i) {
  return n == 1 ? start : start + (end - start) * double(i) / double(n - 1);
}
}  // namespace

template <class T>
void init_params(T* params, const ParamTable& table, const XlstmConfig& cfg, uint64_t seed) {
  const int D = cfg.embedding_dim, NB = cfg.num_blocks;
  const auto types = cfg.block_types();
  const auto& entries = table.entries();
  for (size_t idx = 0; idx < entries.size(); ++idx) {
    const ParamEntry& e = entries[idx];
    const std::string& n = e.name;
    T* p = params + e.offset;
    nn::Rng rng(seed * 0x100000001B3ull + idx + 1);
    auto fill = [&](double v) {
      for (int64_t i = 0; i < e.numel; ++i) p[i] = T(v);
    };
    auto normal = [&](double std) {
      for (int64_t i = 0; i < e.numel; ++i) p[i] = T(rng.normal(0.0, std));
    };
    auto uniform = [&](double bound) {
      for (int64_t i = 0; i < e.numel; ++i) p[i] = T(rng.uniform(-bound, bound));
    };
    // block index and type, for names under xlstm_block_stack.blocks.<b>.
    int b = -1;
    const std::string pre = "xlstm_block_stack.blocks.";
    if (n.compare(0, pre.size(), pre) == 0) b = std::stoi(n.substr(pre.size()));
    const bool is_s = b >= 0 && types[size_t(b)] == BlockType::slstm;

    if (n == "token_embedding.weight" || n == "lm_head.weight") {
      normal(small_init_std(D));
    } else if (ends_with(n, "norm.weight")) {  // xlstm_norm, ffn_norm, post_blocks_norm, outnorm, group_norm
      fill(0.0);
    } else if (ends_with(n, "learnable_skip")) {
      fill(1.0);
    } else if (ends_with(n, "conv1d.conv.weight") || ends_with(n, "conv1d.conv.bias")) {
      const int K = is_s ? cfg.slstm->conv1d_kernel_size : cfg.mlstm->conv1d_kernel_size;
      uniform(1.0 / std::sqrt(double(K)));  // kaiming_uniform(a=sqrt 5) with fan_in = K; bias the same bound
    } else if (ends_with(n, "proj_down.weight")) {  // mLSTM proj_down and FFN proj_down
      normal(wang_init_std(D, NB));
    } else if (ends_with(n, "proj_up.weight") || ends_with(n, "q_proj.weight") || ends_with(n, "k_proj.weight") ||
               ends_with(n, "v_proj.weight")) {
      normal(small_init_std(D));
    } else if (ends_with(n, "mlstm_cell.igate.weight") || ends_with(n, "mlstm_cell.fgate.weight")) {
      fill(0.0);
    } else if (ends_with(n, "mlstm_cell.fgate.bias")) {
      const int NH = int(e.numel);
      for (int h = 0; h < NH; ++h) p[h] = T(linspace_at(3.0, 6.0, NH, h));
    } else if (ends_with(n, "mlstm_cell.igate.bias")) {
      normal(0.1);
    } else if (is_s && (ends_with(n, "xlstm.fgate.weight") || ends_with(n, "xlstm.igate.weight") ||
                        ends_with(n, "xlstm.zgate.weight") || ends_with(n, "xlstm.ogate.weight"))) {
      normal(small_init_std(D));
    } else if (ends_with(n, "slstm_cell._recurrent_kernel_")) {
      if (cfg.slstm->recurrent_weight_init == "zeros")
        fill(0.0);
      else
        uniform(1.0 / std::sqrt(double(D)));
    } else if (ends_with(n, "slstm_cell._bias_")) {
      const auto& s = *cfg.slstm;
      const int NH = s.num_heads, DH = D / NH;
      if (s.bias_init == "standard") {
        uniform(1.0 / std::sqrt(double(D)));
      } else {
        fill(0.0);
        for (int h = 0; h < NH; ++h)
          for (int d = 0; d < DH; ++d) {
            double v = 0;
            if (s.bias_init == "powerlaw_blockdependent")
              v = slstm_powerlaw_bias(d, DH, b, NB);
            else if (s.bias_init == "small_init")
              v = linspace_at(3.0, 6.0, DH, d);
            p[1 * D + h * DH + d] = T(v);  // forget gate block of the gate-major vanilla layout
          }
      }
    } else {
      throw Error("init: no initialisation rule for parameter \"" + n + "\" (internal error)");
    }
  }
}

template void init_params<float>(float*, const ParamTable&, const XlstmConfig&, uint64_t);
template void init_params<double>(double*, const ParamTable&, const XlstmConfig&, uint64_t);

}  // namespace xm::model
