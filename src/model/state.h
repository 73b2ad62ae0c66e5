// state.h: the recurrent state of the xLSTM LM for a batch of B independent rows (generation): per block the
// conv input window and the cell state (mLSTM C, n, m; sLSTM y, c, n, m), all in one flat buffer so a copy
// (branching) is one vector copy. Memory is constant in the generated length. Not the stepping (xlstm_lm.h).
#pragma once
#include <cstdint>
#include <vector>

#include "model/blocks.h"
#include "model/config.h"

namespace xm::model {

template <class T>
class LmState {
 public:
  LmState() = default;
  LmState(const XlstmConfig& cfg, int B);  // the official initial state: zeros everywhere (mLSTM m = 0)

  int batch() const { return B_; }
  size_t size() const { return data_.size(); }
  // Zeros every row (the official state=None).
  void reset();
  // Zeros one row b (a new sequence in that slot); other rows are untouched.
  void reset_row(int b);
  // Row dst_row of this state becomes a copy of row src_row of src (same config; src may be *this).
  void copy_row(int dst_row, const LmState& src, int src_row);

  // Views for block i (the type must match the block's type).
  MlstmBlockState<T> mlstm(int block);
  SlstmBlockState<T> slstm(int block);

  // Raw access, for inspection and tests. Layout per block, in block order: mLSTM conv (B, K, I), C (B, NH, DH,
  // DH), n (B, NH, DH), m (B, NH); sLSTM conv (B, K, D) (absent when K = 0), cell (4, B, D) = (y, c, n, m).
  const std::vector<T>& data() const { return data_; }

 private:
  struct Part {
    size_t offset = 0;
    size_t lead = 1;     // leading non-batch dimension (4 for the sLSTM cell state, else 1)
    size_t per_row = 0;  // elements per batch row inside one leading slice
  };
  struct Block {
    BlockType type = BlockType::mlstm;
    std::vector<Part> parts;  // mLSTM: conv, C, n, m; sLSTM: [conv], cell
    bool has_conv = true;
  };
  int B_ = 0;
  std::vector<Block> blocks_;
  std::vector<T> data_;
};

}  // namespace xm::model
