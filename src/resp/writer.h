// resp::Writer: appends RESP2 or RESP3 replies to a byte buffer. Commands
// write replies through it without caring which protocol the client speaks:
// RESP3-only types degrade to their RESP2 equivalents as Redis does
// (map -> flat array, set -> array, double -> bulk string, null -> $-1 or *-1,
// boolean -> integer 0/1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::resp {

enum class Protocol { kResp2 = 2, kResp3 = 3 };

class Writer {
 public:
  explicit Writer(std::string* out, Protocol proto = Protocol::kResp2) : out_(out), proto_(proto) {}

  Protocol protocol() const { return proto_; }
  void set_protocol(Protocol p) { proto_ = p; }
  std::string* buffer() { return out_; }

  void SimpleString(std::string_view s);  // +OK
  // An error reply. `msg` is the full text after '-', e.g.
  // "ERR syntax error" or "WRONGTYPE Operation against ...". CR/LF in msg
  // are replaced by spaces so the reply stays one line.
  void Error(std::string_view msg);
  void Integer(int64_t v);                // :42
  void Bulk(std::string_view s);          // $3\r\nfoo
  void Null();                            // RESP2 $-1, RESP3 _
  void NullArray();                       // RESP2 *-1, RESP3 _
  void ArrayHeader(int64_t n);            // *n
  void MapHeader(int64_t pairs);          // RESP3 %n, RESP2 *2n
  void SetHeader(int64_t n);              // RESP3 ~n, RESP2 *n
  void PushHeader(int64_t n);             // RESP3 >n, RESP2 *n
  // A double: RESP3 ",1.5", RESP2 bulk "1.5". Formatted as Redis does
  // (shortest round-trip repr, "inf"/"-inf").
  void Double(double v);
  void Boolean(bool v);                   // RESP3 #t/#f, RESP2 :1/:0
  // RESP3 verbatim string "=len\r\ntxt:..."; RESP2 bulk string.
  void Verbatim(std::string_view s, std::string_view format = "txt");
  // Appends bytes that are already valid RESP (e.g. a cached reply).
  void Raw(std::string_view bytes) { out_->append(bytes); }

  // Common replies.
  void Ok() { SimpleString("OK"); }
  void BulkOrNull(const std::string* s) { s ? Bulk(*s) : Null(); }

 private:
  void Header(char type, int64_t n);
  std::string* out_;
  Protocol proto_;
};

// Formats a double the way Redis replies with one (INCRBYFLOAT, HINCRBYFLOAT,
// RESP3 doubles): up to 17 significant digits, no trailing zeros, no
// exponent for values representable in long double %.17Lg style.
std::string FormatDouble(double v);

}  // namespace tandem::resp
