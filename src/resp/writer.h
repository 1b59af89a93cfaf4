// resp::Writer: appends RESP2 or RESP3 replies to a byte buffer. Commands
// write replies through it without caring which protocol the client speaks:
// RESP3-only types degrade to their RESP2 equivalents as Redis does
// (map -> flat array, set -> array, double -> bulk string, null -> $-1 or *-1,
// boolean -> integer 0/1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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
  void Integer(int64_t v);        // :42
  void Bulk(std::string_view s);  // $3\r\nfoo
  // Only the header of a bulk string of n bytes ("$n\r\n"): the caller
  // sends the n bytes and the closing "\r\n" itself (e.g. from a buffer of
  // its own, without copying it here).
  void BulkHeader(size_t n) { Header('$', static_cast<int64_t>(n)); }
  void Null();                    // RESP2 $-1, RESP3 _
  void NullArray();               // RESP2 *-1, RESP3 _
  void ArrayHeader(int64_t n);    // *n
  void MapHeader(int64_t pairs);  // RESP3 %n, RESP2 *2n
  void SetHeader(int64_t n);      // RESP3 ~n, RESP2 *n
  void PushHeader(int64_t n);     // RESP3 >n, RESP2 *n
  // A double: RESP3 ",1.5", RESP2 bulk "1.5". Formatted as Redis does
  // (shortest round-trip repr, "inf"/"-inf").
  void Double(double v);
  void Boolean(bool v);  // RESP3 #t/#f, RESP2 :1/:0
  // RESP3 verbatim string "=len\r\ntxt:..."; RESP2 bulk string.
  void Verbatim(std::string_view s, std::string_view format = "txt");
  // RESP3 big number "(12345"; RESP2 bulk string. `digits` is an optional
  // '-' followed by decimal digits (not validated).
  void BigNumber(std::string_view digits);
  // An array of bulk strings, e.g. a command for a peer or the reply
  // ["a","b"]: *2 $1 a $1 b.
  void BulkArray(std::initializer_list<std::string_view> items);
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

// Formats a double for a double *reply* (RESP3 ",<d>" or its RESP2 bulk
// form, e.g. ZSCORE-style scores): the shortest decimal that parses back to
// exactly `v`, laid out with printf's %.17g rules: fixed notation when the
// decimal exponent is in [-4, 17), otherwise "d.ddde+XX"; no trailing zeros.
// Examples: 1.5 -> "1.5", 0.1 -> "0.1", 3 -> "3", 1e20 -> "1e+20",
// 1e-5 -> "1e-05" (where %.17g would print "1.0000000000000001e-05").
// Special values: "inf", "-inf", "nan"; negative zero is "-0".
// (Redis 7.0 prints %.17g verbatim, e.g. 0.1 -> "0.10000000000000001";
// Redis 7.2+ prints the shortest form as here. Both parse to the same double.)
std::string FormatDouble(double v);

// Formats a long double the way INCRBYFLOAT / HINCRBYFLOAT store and reply
// with their result (Redis's "human" long double format): printf "%.17Lf"
// (never an exponent) with trailing zeros after the point removed, and the
// point itself removed if nothing follows it; "-0" becomes "0".
// Examples: 10.5 -> "10.5", 5.0e3 -> "5000", 0.1 -> "0.1",
// 1e-20 -> "0". Infinities are "inf"/"-inf" (callers reject them first, as
// INCRBYFLOAT errors out on a NaN or infinite result).
std::string FormatDoubleHuman(long double v);

}  // namespace tandem::resp
