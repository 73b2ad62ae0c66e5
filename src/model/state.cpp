// state.cpp: see state.h. Layout bookkeeping for the flat recurrent state and its row operations.
// Not the step math (xlstm_lm.cpp, blocks).
#include "model/state.h"

#include <algorithm>

#include "core/error.h"

namespace xm::model {

template <class T>
LmState<T>::LmState(const XlstmConfig& cfg, int B) : B_(B) {
  if (B <= 0) throw Error("LmState: batch size " + std::to_string(B) + " must be positive");
  size_t off = 0;
  auto part = [&](size_t lead, size_t per_row) {
    Part p{off, lead, per_row};
    off += lead * size_t(B) * per_row;
    return p;
  };
  for (BlockType t : cfg.block_types()) {
    Block blk;
    blk.type = t;
    if (t == BlockType::mlstm) {
      const size_t I = size_t(cfg.mlstm_inner_dim()), NH = size_t(cfg.mlstm->num_heads), DH = I / NH;
      const size_t K = size_t(cfg.mlstm->conv1d_kernel_size);
      blk.parts = {part(1, K * I), part(1, NH * DH * DH), part(1, NH * DH), part(1, NH)};
    } else {
      const size_t D = size_t(cfg.embedding_dim), K = size_t(cfg.slstm->conv1d_kernel_size);
      blk.has_conv = K > 0;
      if (blk.has_conv) blk.parts.push_back(part(1, K * D));
      blk.parts.push_back(part(4, D));
    }
    blocks_.push_back(blk);
  }
  data_.assign(off, T(0));
}

template <class T>
void LmState<T>::reset() {
  std::fill(data_.begin(), data_.end(), T(0));
}

template <class T>
void LmState<T>::reset_row(int b) {
  if (b < 0 || b >= B_) throw Error("LmState: row " + std::to_string(b) + " outside [0, " + std::to_string(B_) + ")");
  for (const auto& blk : blocks_)
    for (const auto& p : blk.parts)
      for (size_t l = 0; l < p.lead; ++l) {
        T* row = data_.data() + p.offset + (l * size_t(B_) + size_t(b)) * p.per_row;
        std::fill(row, row + p.per_row, T(0));
      }
}

template <class T>
void LmState<T>::copy_row(int dst_row, const LmState& src, int src_row) {
  if (src.blocks_.size() != blocks_.size() || src.data_.size() / size_t(src.B_) != data_.size() / size_t(B_))
    throw Error("LmState: copy_row between states of different models");
  if (dst_row < 0 || dst_row >= B_ || src_row < 0 || src_row >= src.B_)
    throw Error("LmState: copy_row rows out of range (dst " + std::to_string(dst_row) + " of " +
                std::to_string(B_) + ", src " + std::to_string(src_row) + " of " + std::to_string(src.B_) + ")");
  for (size_t i = 0; i < blocks_.size(); ++i)
    for (size_t j = 0; j < blocks_[i].parts.size(); ++j) {
      const Part& pd = blocks_[i].parts[j];
      const Part& ps = src.blocks_[i].parts[j];
      for (size_t l = 0; l < pd.lead; ++l) {
        const T* s = src.data_.data() + ps.offset + (l * size_t(src.B_) + size_t(src_row)) * ps.per_row;
        T* d = data_.data() + pd.offset + (l * size_t(B_) + size_t(dst_row)) * pd.per_row;
        if (s != d) std::copy(s, s + pd.per_row, d);
      }
    }
}

template <class T>
MlstmBlockState<T> LmState<T>::mlstm(int block) {
  const Block& blk = blocks_.at(size_t(block));
  if (blk.type != BlockType::mlstm) throw Error("LmState: block " + std::to_string(block) + " is not an mLSTM block");
  T* base = data_.data();
  return {base + blk.parts[0].offset, {base + blk.parts[1].offset, base + blk.parts[2].offset, base + blk.parts[3].offset}};
}

template <class T>
SlstmBlockState<T> LmState<T>::slstm(int block) {
  const Block& blk = blocks_.at(size_t(block));
  if (blk.type != BlockType::slstm) throw Error("LmState: block " + std::to_string(block) + " is not an sLSTM block");
  T* base = data_.data();
  if (blk.has_conv) return {base + blk.parts[0].offset, base + blk.parts[1].offset};
  return {nullptr, base + blk.parts[0].offset};
}

template class LmState<float>;
template class LmState<double>;

}  // namespace xm::model
