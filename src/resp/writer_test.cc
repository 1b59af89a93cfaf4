#include "resp/writer.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace tandem::resp {
namespace {

std::string Write2(void (*fn)(Writer&)) {
  std::string out;
  Writer w(&out, Protocol::kResp2);
  fn(w);
  return out;
}

std::string Write3(void (*fn)(Writer&)) {
  std::string out;
  Writer w(&out, Protocol::kResp3);
  fn(w);
  return out;
}

TEST(WriterTest, SimpleStringAndOk) {
  EXPECT_EQ(Write2([](Writer& w) { w.SimpleString("PONG"); }), "+PONG\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Ok(); }), "+OK\r\n");
}

TEST(WriterTest, ErrorReplacesLineBreaks) {
  EXPECT_EQ(Write2([](Writer& w) { w.Error("ERR syntax error"); }), "-ERR syntax error\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Error("ERR a\r\nb\nc"); }), "-ERR a  b c\r\n");
}

TEST(WriterTest, Integers) {
  EXPECT_EQ(Write2([](Writer& w) { w.Integer(0); }), ":0\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Integer(-42); }), ":-42\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Integer(std::numeric_limits<int64_t>::min()); }),
            ":-9223372036854775808\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Integer(std::numeric_limits<int64_t>::max()); }),
            ":9223372036854775807\r\n");
}

TEST(WriterTest, BulkStrings) {
  EXPECT_EQ(Write2([](Writer& w) { w.Bulk("foo"); }), "$3\r\nfoo\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Bulk(""); }), "$0\r\n\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Bulk(std::string_view("a\r\n\0b", 5)); }),
            std::string("$5\r\na\r\n\0b\r\n", 11));
  EXPECT_EQ(Write2([](Writer& w) { w.BulkOrNull(nullptr); }), "$-1\r\n");
  EXPECT_EQ(Write2([](Writer& w) {
              std::string s = "x";
              w.BulkOrNull(&s);
            }),
            "$1\r\nx\r\n");
}

TEST(WriterTest, BulkHeaderAloneIsBulksPrefix) {
  EXPECT_EQ(Write2([](Writer& w) { w.BulkHeader(0); }), "$0\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.BulkHeader(1048576); }), "$1048576\r\n");
  EXPECT_EQ(Write2([](Writer& w) {
              w.BulkHeader(3);
              w.Raw("foo\r\n");
            }),
            Write2([](Writer& w) { w.Bulk("foo"); }));
}

TEST(WriterTest, NullsDependOnProtocol) {
  EXPECT_EQ(Write2([](Writer& w) { w.Null(); }), "$-1\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.NullArray(); }), "*-1\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Null(); }), "_\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.NullArray(); }), "_\r\n");
}

TEST(WriterTest, AggregateHeaders) {
  EXPECT_EQ(Write2([](Writer& w) { w.ArrayHeader(3); }), "*3\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.ArrayHeader(0); }), "*0\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.MapHeader(2); }), "*4\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.MapHeader(2); }), "%2\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.SetHeader(5); }), "*5\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.SetHeader(5); }), "~5\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.PushHeader(3); }), "*3\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.PushHeader(3); }), ">3\r\n");
}

TEST(WriterTest, Doubles) {
  EXPECT_EQ(Write2([](Writer& w) { w.Double(1.5); }), "$3\r\n1.5\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Double(1.5); }), ",1.5\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Double(INFINITY); }), ",inf\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Double(-INFINITY); }), ",-inf\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Double(-INFINITY); }), "$4\r\n-inf\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Double(NAN); }), ",nan\r\n");
}

TEST(WriterTest, Booleans) {
  EXPECT_EQ(Write2([](Writer& w) { w.Boolean(true); }), ":1\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.Boolean(false); }), ":0\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Boolean(true); }), "#t\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Boolean(false); }), "#f\r\n");
}

TEST(WriterTest, Verbatim) {
  EXPECT_EQ(Write2([](Writer& w) { w.Verbatim("hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Verbatim("hello"); }), "=9\r\ntxt:hello\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Verbatim("x", "mkd"); }), "=5\r\nmkd:x\r\n");
  // A malformed format is padded/cut to three characters.
  EXPECT_EQ(Write3([](Writer& w) { w.Verbatim("x", "m"); }), "=5\r\nm  :x\r\n");
  EXPECT_EQ(Write3([](Writer& w) { w.Verbatim("x", "markdown"); }), "=5\r\nmar:x\r\n");
}

TEST(WriterTest, BigNumberAndBulkArray) {
  EXPECT_EQ(Write3([](Writer& w) { w.BigNumber("-123456789012345678901234567890"); }),
            "(-123456789012345678901234567890\r\n");
  EXPECT_EQ(Write2([](Writer& w) { w.BigNumber("12"); }), "$2\r\n12\r\n");
  EXPECT_EQ(Write2([](Writer& w) {
              w.BulkArray({"SET", "k", ""});
            }),
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(WriterTest, RawAndProtocolSwitch) {
  std::string out;
  Writer w(&out);
  EXPECT_EQ(w.protocol(), Protocol::kResp2);
  w.Raw("+X\r\n");
  w.set_protocol(Protocol::kResp3);
  w.Null();
  EXPECT_EQ(out, "+X\r\n_\r\n");
  EXPECT_EQ(w.buffer(), &out);
}

TEST(FormatDoubleTest, ShortestRoundTrip) {
  EXPECT_EQ(FormatDouble(0), "0");
  EXPECT_EQ(FormatDouble(-0.0), "-0");
  EXPECT_EQ(FormatDouble(1), "1");
  EXPECT_EQ(FormatDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatDouble(100), "100");
  EXPECT_EQ(FormatDouble(123456789), "123456789");
  EXPECT_EQ(FormatDouble(0.0001), "0.0001");
  EXPECT_EQ(FormatDouble(0.00001), "1e-05");
  EXPECT_EQ(FormatDouble(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatDouble(1e16), "10000000000000000");
  EXPECT_EQ(FormatDouble(1e17), "1e+17");
  EXPECT_EQ(FormatDouble(1.25e20), "1.25e+20");
  EXPECT_EQ(FormatDouble(1e300), "1e+300");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::denorm_min()), "5e-324");
  EXPECT_EQ(FormatDouble(INFINITY), "inf");
  EXPECT_EQ(FormatDouble(-INFINITY), "-inf");
  EXPECT_EQ(FormatDouble(NAN), "nan");
}

TEST(FormatDoubleTest, RoundTripsManyValues) {
  double v = 1e-310;
  for (int i = 0; i < 2000; ++i) {
    for (double x : {v, -v, v * 3.7, 1 / v}) {
      if (std::isinf(x)) continue;
      std::string text = FormatDouble(x);
      EXPECT_EQ(std::strtod(text.c_str(), nullptr), x) << text;
    }
    v *= 1.7;
    if (std::isinf(v)) break;
  }
}

TEST(FormatDoubleHumanTest, IncrByFloatSemantics) {
  EXPECT_EQ(FormatDoubleHuman(10.5L), "10.5");
  EXPECT_EQ(FormatDoubleHuman(5.0e3L), "5000");
  EXPECT_EQ(FormatDoubleHuman(0.1L), "0.1");
  EXPECT_EQ(FormatDoubleHuman(10.6L), "10.6");
  EXPECT_EQ(FormatDoubleHuman(3.0L), "3");
  EXPECT_EQ(FormatDoubleHuman(-0.0L), "0");
  EXPECT_EQ(FormatDoubleHuman(0.0L), "0");
  EXPECT_EQ(FormatDoubleHuman(-1.25L), "-1.25");
  EXPECT_EQ(FormatDoubleHuman(1e-20L), "0");
  EXPECT_EQ(FormatDoubleHuman(-1e-20L), "0");
  EXPECT_EQ(FormatDoubleHuman(1e20L), "100000000000000000000");
  EXPECT_EQ(FormatDoubleHuman(INFINITY), "inf");
  EXPECT_EQ(FormatDoubleHuman(-INFINITY), "-inf");
  // Huge values are printed in full, without an exponent.
  EXPECT_EQ(FormatDoubleHuman(1e300L).size(), 301u);
}

TEST(FormatDoubleHumanTest, IncrementsLikeRedis) {
  // redis> SET x 10.50; INCRBYFLOAT x 0.1 -> "10.6"
  long double x = std::strtold("10.50", nullptr);
  x += std::strtold("0.1", nullptr);
  EXPECT_EQ(FormatDoubleHuman(x), "10.6");
  // INCRBYFLOAT x -5e3 on the stored "10.6": real Redis 7.0 replies
  // "-4989.39999999999999991" (17 fractional digits of the long double).
  x = std::strtold("10.6", nullptr) + std::strtold("-5e3", nullptr);
  EXPECT_EQ(FormatDoubleHuman(x), "-4989.39999999999999991");
}

}  // namespace
}  // namespace tandem::resp
