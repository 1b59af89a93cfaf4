// resp::RequestParser: an incremental, zero-copy parser for client requests
// (the server side of RESP). It accepts exactly what Redis 7.0 accepts:
// multibulk requests ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline requests
// ("GET k\r\n", with Redis's quoting rules), with Redis's limits and error
// texts. See docs/protocol.md for the full list.
//
// The parser owns the read buffer. A server read loop looks like:
//
//   RequestParser parser;
//   std::vector<std::string_view> args;
//   for (;;) {
//     std::span<char> space = parser.PrepareRead(parser.ReadSizeHint());
//     size_t n = read(fd, space.data(), space.size());   // n > 0
//     parser.CommitRead(n);
//     for (;;) {
//       RequestParser::Outcome r = parser.Next(&args);
//       if (r == RequestParser::Outcome::kNeedMore) break;
//       if (r == RequestParser::Outcome::kError) {
//         reply with "-" + parser.error() and close the connection;
//       }
//       execute(args);                    // args view into the buffer
//     }
//     parser.Compact();                   // optional: PrepareRead compacts too
//   }
//
// Lifetime contract: the string_views that Next() yields stay valid until the
// next call to PrepareRead(), Append(), Compact() or Reset(), whichever comes
// first. Next() itself never moves the buffer, so every command parsed from
// one read can be held at the same time (e.g. to execute a pipeline batch).
//
// The parser never allocates according to a length the client announced:
// the buffer grows only with bytes actually received (ReadSizeHint() is at
// most about the size of the command received so far, or 16 KiB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::resp {

struct RequestParserOptions {
  // Largest accepted bulk argument ($<len>), Redis's proto-max-bulk-len.
  int64_t max_bulk_len = 512LL * 1024 * 1024;
  // When true the client has not authenticated yet (requirepass is set):
  // Redis then refuses multibulk counts above 10 and bulk lengths above
  // 16384 with "unauthenticated multibulk/bulk length" errors. The server
  // flips this with set_require_auth() after a successful AUTH.
  bool require_auth = false;
};

// Limits that are not configurable in Redis either.
inline constexpr size_t kMaxInlineRequestSize = 64 * 1024;      // PROTO_INLINE_MAX_SIZE
inline constexpr int64_t kMaxMultibulkLen = 2147483647;         // INT_MAX
inline constexpr int64_t kMaxUnauthenticatedMultibulkLen = 10;  // before AUTH
inline constexpr int64_t kMaxUnauthenticatedBulkLen = 16384;    // before AUTH
inline constexpr size_t kDefaultReadSize = 16 * 1024;           // PROTO_IOBUF_LEN

class RequestParser {
 public:
  enum class Outcome {
    kCommand,   // *args holds one complete command (at least one argument)
    kNeedMore,  // every complete command was returned; read more bytes
    kError,     // protocol error; see error(). Sticky: the connection is done.
  };

  explicit RequestParser(RequestParserOptions options = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Returns writable space of at least `min_bytes` bytes (at least 1) at the
  // end of the buffered data; fill a prefix of it and call CommitRead().
  // May compact and move the buffer: invalidates views from Next().
  std::span<char> PrepareRead(size_t min_bytes);
  // Marks `n` bytes of the space from PrepareRead() as received.
  // `n` must not exceed that space's size.
  void CommitRead(size_t n);
  // Copies `bytes` in (PrepareRead + memcpy + CommitRead).
  void Append(std::string_view bytes);

  // Parses the next complete command from the buffered bytes into *args
  // (cleared first). Empty inline lines and multibulk counts <= 0 ("*0",
  // "*-1") are skipped as Redis does, so a kCommand always has args.
  Outcome Next(std::vector<std::string_view>* args);

  // The protocol error text to send after '-', e.g.
  // "ERR Protocol error: invalid bulk length". Empty unless Next() failed.
  const std::string& error() const { return error_; }
  bool has_error() const { return !error_.empty(); }

  // Drops bytes of commands already returned by Next(), keeping a partial
  // command. Invalidates views from Next(). Releases a grown buffer's memory
  // when nothing is left in it.
  void Compact();
  // Forgets everything, including an error.
  void Reset();

  // A good size for the next read: the bytes still missing from a big bulk
  // argument being received, capped so the buffer at most doubles per read
  // (never trusting the announced length for allocation), and at least
  // kDefaultReadSize.
  size_t ReadSizeHint() const;
  // Bytes known to be missing before the current command can complete
  // (0 when unknown, e.g. while waiting for a line end). A lower bound.
  size_t BytesNeededHint() const;

  // Bytes received and not yet compacted away / not yet consumed by Next().
  size_t buffered_bytes() const { return end_; }
  size_t unparsed_bytes() const { return end_ - command_start_; }
  // True when some bytes of a not yet complete command are buffered.
  bool has_partial_command() const { return end_ > command_start_; }

  void set_require_auth(bool v) { options_.require_auth = v; }
  const RequestParserOptions& options() const { return options_; }

 private:
  enum class State { kCommandStart, kBulkHeader, kBulkBody };
  // Result of one parsing step.
  enum class Step { kProgress, kNeedMore, kError };
  struct ArgSpan {
    size_t offset;
    size_t length;
  };

  Step ParseInline(std::vector<std::string_view>* args);
  Step ParseMultibulkHeader();
  Step ParseBulkHeader();
  Step ParseBulkBody();
  // Finds `terminator` in [pos_, end_), resuming a previous scan. Returns the
  // index or npos.
  size_t FindFromScan(char terminator);
  Step Fail(std::string message);
  void FinishCommand();

  RequestParserOptions options_;
  std::string buffer_;        // size() is the capacity; bytes [0, end_) valid
  size_t end_ = 0;            // end of received bytes
  size_t command_start_ = 0;  // first byte of the command being parsed
  size_t pos_ = 0;            // parse position inside that command
  size_t scan_pos_ = 0;       // resume point of a terminator search
  State state_ = State::kCommandStart;
  int64_t args_remaining_ = 0;  // multibulk arguments still expected
  int64_t bulk_len_ = 0;        // length of the bulk being read
  std::vector<ArgSpan> pending_args_;
  // Decoded inline arguments that contained quotes (the others are views
  // into buffer_). Stable addresses until Compact().
  std::deque<std::string> inline_storage_;
  std::string error_;
};

// Splits an inline request line into arguments with Redis's rules
// (sdssplitargs): blanks separate arguments; "double quotes" allow \n \r \t
// \b \a \xHH and \<any> escapes; 'single quotes' allow only \'; a closing
// quote must be followed by a blank or the end of the line. The line ends at
// its first NUL byte. Returns false on unbalanced quotes. Exposed for tests
// and for tandemctl's command line.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* args);

}  // namespace tandem::resp
