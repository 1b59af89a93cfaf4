// Parsing RESP2/RESP3 replies (the client side of the protocol) into Reply
// trees: used by tandemctl, peer links and tests.
//
// Accepted: every RESP2 type, and the RESP3 types _ , # ( ! = % ~ > |
// (attributes are attached to the reply that follows them). Not accepted:
// RESP3 streamed strings/aggregates ("$?", "*?"), which Redis never sends.
// Unlike the request parser, replies must use exact "\r\n" line ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "resp/reply.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::resp {

struct ReplyParserLimits {
  int64_t max_bulk_len = 512LL * 1024 * 1024;  // largest bulk/verbatim/blob error
  int64_t max_aggregate_len = 2147483647;      // largest element count
  int max_depth = 128;                         // nesting of aggregates
};

// Parses one reply from the front of `input`. Returns the number of bytes it
// used (> 0) with *out filled; 0 when `input` is only a prefix of a reply
// (read more and call again with the longer input); a Corruption status when
// the bytes are not valid RESP or exceed `limits`. Memory use is bounded by
// the input's size, never by an announced length.
Result<size_t> ParseReply(std::string_view input, Reply* out, const ReplyParserLimits& limits = {});

// A buffered reader of a stream of replies (e.g. a peer link, tandemctl).
class ReplyReader {
 public:
  explicit ReplyReader(ReplyParserLimits limits = {}) : limits_(limits) {}

  void Append(std::string_view bytes);
  // Returns true with *out set when a complete reply was buffered, false
  // when more bytes are needed, or the (sticky) Corruption error.
  Result<bool> Next(Reply* out);
  // Bytes received and not yet returned as replies.
  size_t buffered_bytes() const { return buffer_.size() - pos_; }

 private:
  ReplyParserLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;
  // Do not retry parsing before this many bytes past pos_ are buffered.
  size_t min_needed_ = 1;
  Status error_;
};

}  // namespace tandem::resp
