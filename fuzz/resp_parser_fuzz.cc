// libFuzzer target for the RESP request parser (and the reply parser).
//
// Input layout: byte 0 = option flags, byte 1 = seed of the piece sizes,
// the rest = bytes a client sends. Checked invariants:
//   - no crash, leak or undefined behaviour (ASan + UBSan);
//   - feeding the bytes in random-sized pieces, through either Append() or
//     PrepareRead()/CommitRead(), with or without Compact() between pieces,
//     yields exactly the commands and the error of a one-shot parse;
//   - every command has at least one argument; every error is one of the
//     documented "ERR Protocol error: ..." texts;
//   - ReplyReader fed in pieces agrees with ParseReply on the same bytes.
// Run: ./build-fuzz/resp_parser_fuzz -max_total_time=20 fuzz/corpus/resp_parser
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "resp/parser.h"
#include "resp/reply.h"
#include "resp/reply_parser.h"

namespace {

using tandem::resp::ReplyReader;
using tandem::resp::RequestParser;
using tandem::resp::RequestParserOptions;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool IsKnownError(const std::string& e) {
  static const char* const kKnown[] = {
      "ERR Protocol error: too big inline request",
      "ERR Protocol error: unbalanced quotes in request",
      "ERR Protocol error: too big mbulk count string",
      "ERR Protocol error: invalid multibulk length",
      "ERR Protocol error: unauthenticated multibulk length",
      "ERR Protocol error: too big bulk count string",
      "ERR Protocol error: invalid bulk length",
      "ERR Protocol error: unauthenticated bulk length",
  };
  for (const char* known : kKnown) {
    if (e == known) return true;
  }
  return e.size() == std::strlen("ERR Protocol error: expected '$', got 'x'") &&
         e.starts_with("ERR Protocol error: expected '$', got '") && e.ends_with("'");
}

// Returns false when the parser reported an error.
bool Drain(RequestParser& parser, Outcome* out) {
  std::vector<std::string_view> args;
  for (;;) {
    RequestParser::Outcome r = parser.Next(&args);
    if (r == RequestParser::Outcome::kNeedMore) return true;
    if (r == RequestParser::Outcome::kError) {
      out->error = parser.error();
      Check(IsKnownError(out->error), "unknown error text");
      return false;
    }
    Check(!args.empty(), "command without arguments");
    out->commands.emplace_back(args.begin(), args.end());
  }
}

// A tiny deterministic generator for piece sizes.
struct Rng {
  uint32_t state;
  uint32_t Next() {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  }
};

void FuzzRequests(std::string_view data, uint8_t flags, uint8_t seed) {
  RequestParserOptions options;
  options.require_auth = (flags & 1) != 0;
  if (flags & 2) options.max_bulk_len = 16;

  Outcome whole;
  {
    RequestParser parser(options);
    parser.Append(data);
    Drain(parser, &whole);
  }

  Outcome pieces;
  RequestParser parser(options);
  Rng rng{seed};
  size_t at = 0;
  while (at < data.size()) {
    size_t piece = 1 + rng.Next() % ((flags & 4) ? 3 : 64);
    piece = std::min(piece, data.size() - at);
    if (flags & 8) {
      size_t hint = parser.ReadSizeHint();
      Check(hint >= 1, "zero read hint");
      std::span<char> space = parser.PrepareRead(std::min(hint, piece));
      Check(space.size() >= std::min(hint, piece), "PrepareRead too small");
      piece = std::min(piece, space.size());
      std::memcpy(space.data(), data.data() + at, piece);
      parser.CommitRead(piece);
    } else {
      parser.Append(data.substr(at, piece));
    }
    at += piece;
    if (!Drain(parser, &pieces)) break;
    if (rng.Next() % 2 == 0) parser.Compact();
  }
  Check(pieces == whole, "piecewise parse differs from one-shot parse");
}

void FuzzReplies(std::string_view data, uint8_t seed) {
  std::vector<std::string> whole;
  bool whole_error = false;
  size_t at = 0;
  while (at < data.size()) {
    tandem::resp::Reply reply;
    tandem::Result<size_t> used = tandem::resp::ParseReply(data.substr(at), &reply);
    if (!used.ok()) {
      whole_error = true;
      break;
    }
    if (*used == 0) break;
    whole.push_back(reply.DebugString());
    at += *used;
  }

  std::vector<std::string> pieces;
  bool pieces_error = false;
  ReplyReader reader;
  Rng rng{seed ^ 0x5au};
  at = 0;
  while (at < data.size() && !pieces_error) {
    size_t piece = std::min<size_t>(1 + rng.Next() % 16, data.size() - at);
    reader.Append(data.substr(at, piece));
    at += piece;
    tandem::resp::Reply reply;
    for (;;) {
      tandem::Result<bool> got = reader.Next(&reply);
      if (!got.ok()) {
        pieces_error = true;
        break;
      }
      if (!*got) break;
      pieces.push_back(reply.DebugString());
    }
  }
  Check(pieces == whole && pieces_error == whole_error, "ReplyReader differs from ParseReply");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  uint8_t flags = bytes[0];
  uint8_t seed = bytes[1];
  std::string_view data(reinterpret_cast<const char*>(bytes) + 2, size - 2);
  FuzzRequests(data, flags, seed);
  if (flags & 16) FuzzReplies(data, seed);
  return 0;
}
