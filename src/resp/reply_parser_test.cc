#include "resp/reply_parser.h"

#include <cmath>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "resp/reply.h"
#include "resp/writer.h"

namespace tandem::resp {

// Readable failure messages.
void PrintTo(const Reply& reply, std::ostream* os) { *os << reply.DebugString(); }

namespace {

// Parses a complete reply that must use all of `input`.
Reply MustParse(std::string_view input) {
  Reply reply;
  Result<size_t> used = ParseReply(input, &reply);
  EXPECT_TRUE(used.ok()) << used.status().ToString() << " for " << input;
  if (used.ok()) {
    EXPECT_EQ(*used, input.size()) << input;
  }
  return reply;
}

std::string ParseErrorOf(std::string_view input, const ReplyParserLimits& limits = {}) {
  Reply reply;
  Result<size_t> used = ParseReply(input, &reply, limits);
  if (used.ok()) return "ok:" + std::to_string(*used);
  EXPECT_TRUE(used.status().IsCorruption());
  return used.status().message();
}

TEST(ReplyParserTest, Resp2Types) {
  EXPECT_EQ(MustParse("+OK\r\n"), Reply::SimpleString("OK"));
  EXPECT_EQ(MustParse("-ERR bad thing\r\n"), Reply::Error("ERR bad thing"));
  EXPECT_EQ(MustParse(":-42\r\n"), Reply::Integer(-42));
  EXPECT_EQ(MustParse("$3\r\nfoo\r\n"), Reply::Bulk("foo"));
  EXPECT_EQ(MustParse("$0\r\n\r\n"), Reply::Bulk(""));
  EXPECT_EQ(MustParse("$-1\r\n"), Reply::Null());
  EXPECT_EQ(MustParse("*-1\r\n"), Reply::Null());
  EXPECT_EQ(MustParse("*0\r\n"), Reply::Array({}));
  EXPECT_EQ(MustParse("*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n"),
            Reply::Array(
                {Reply::Integer(1), Reply::Bulk("a"), Reply::Array({Reply::SimpleString("x")})}));
  EXPECT_EQ(MustParse(std::string("$4\r\na\r\n\0\r\n", 10)).str, std::string("a\r\n\0", 4));
}

TEST(ReplyParserTest, Resp3Types) {
  EXPECT_TRUE(MustParse("_\r\n").is_null());
  Reply t = MustParse("#t\r\n");
  EXPECT_EQ(t.type, ReplyType::kBoolean);
  EXPECT_TRUE(t.boolean);
  EXPECT_FALSE(MustParse("#f\r\n").boolean);
  Reply d = MustParse(",1.5\r\n");
  EXPECT_EQ(d.type, ReplyType::kDouble);
  EXPECT_EQ(d.number, 1.5);
  EXPECT_EQ(d.str, "1.5");
  EXPECT_EQ(MustParse(",-inf\r\n").number, -INFINITY);
  EXPECT_EQ(MustParse(",inf\r\n").number, INFINITY);
  EXPECT_TRUE(std::isnan(MustParse(",nan\r\n").number));
  EXPECT_EQ(MustParse(",1e+20\r\n").number, 1e20);
  Reply big = MustParse("(-3492890328409238509324850943850943825024385\r\n");
  EXPECT_EQ(big.type, ReplyType::kBigNumber);
  EXPECT_EQ(big.str, "-3492890328409238509324850943850943825024385");
  Reply blob_error = MustParse("!21\r\nSYNTAX invalid syntax\r\n");
  EXPECT_EQ(blob_error, Reply::Error("SYNTAX invalid syntax"));
  Reply verbatim = MustParse("=15\r\ntxt:Some string\r\n");
  EXPECT_EQ(verbatim.type, ReplyType::kVerbatim);
  EXPECT_EQ(verbatim.format, "txt");
  EXPECT_EQ(verbatim.str, "Some string");
  Reply map = MustParse("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n");
  EXPECT_EQ(map.type, ReplyType::kMap);
  ASSERT_EQ(map.elements.size(), 4u);
  EXPECT_EQ(map.elements[2], Reply::SimpleString("second"));
  EXPECT_EQ(map.elements[3], Reply::Integer(2));
  Reply set = MustParse("~2\r\n+a\r\n+b\r\n");
  EXPECT_EQ(set.type, ReplyType::kSet);
  EXPECT_EQ(set.elements.size(), 2u);
  Reply push = MustParse(">2\r\n+message\r\n+hi\r\n");
  EXPECT_EQ(push.type, ReplyType::kPush);
  Reply with_attributes = MustParse("|1\r\n+ttl\r\n:3600\r\n*1\r\n:2\r\n");
  EXPECT_EQ(with_attributes.type, ReplyType::kArray);
  ASSERT_EQ(with_attributes.attributes.size(), 2u);
  EXPECT_EQ(with_attributes.attributes[1], Reply::Integer(3600));
}

TEST(ReplyParserTest, EveryPrefixIsIncomplete) {
  const std::string input =
      "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n,2.5\r\n|1\r\n+a\r\n#t\r\n=7\r\ntxt:abc\r\n";
  Reply full = MustParse(input);
  for (size_t cut = 0; cut < input.size(); ++cut) {
    Reply reply;
    Result<size_t> used = ParseReply(std::string_view(input).substr(0, cut), &reply);
    ASSERT_TRUE(used.ok()) << cut;
    EXPECT_EQ(*used, 0u) << cut;
  }
  // Trailing bytes are left for the next reply.
  Reply reply;
  Result<size_t> used = ParseReply(input + "+next\r\n", &reply);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, input.size());
  EXPECT_EQ(reply, full);
}

TEST(ReplyParserTest, MalformedReplies) {
  EXPECT_NE(ParseErrorOf("?x\r\n").find("unknown type byte 0x3f"), std::string::npos);
  EXPECT_NE(ParseErrorOf("+OK\rX").find("CRLF"), std::string::npos);
  EXPECT_NE(ParseErrorOf("$3\r\nfooXY").find("CRLF"), std::string::npos);
  EXPECT_NE(ParseErrorOf(":12a\r\n").find("invalid integer"), std::string::npos);
  EXPECT_NE(ParseErrorOf(":\r\n").find("invalid integer"), std::string::npos);
  EXPECT_NE(ParseErrorOf("$-2\r\n").find("invalid length"), std::string::npos);
  EXPECT_NE(ParseErrorOf("$?\r\n").find("streamed"), std::string::npos);
  EXPECT_NE(ParseErrorOf("*?\r\n").find("streamed"), std::string::npos);
  EXPECT_NE(ParseErrorOf("*-2\r\n").find("invalid aggregate length"), std::string::npos);
  EXPECT_NE(ParseErrorOf("%-1\r\n").find("invalid aggregate length"), std::string::npos);
  EXPECT_NE(ParseErrorOf("#x\r\n").find("invalid boolean"), std::string::npos);
  EXPECT_NE(ParseErrorOf("_x\r\n").find("null with a payload"), std::string::npos);
  EXPECT_NE(ParseErrorOf(",abc\r\n").find("invalid double"), std::string::npos);
  EXPECT_NE(ParseErrorOf(",0x10\r\n").find("invalid double"), std::string::npos);
  EXPECT_NE(ParseErrorOf(",1.5x\r\n").find("invalid double"), std::string::npos);
  EXPECT_NE(ParseErrorOf("(\r\n").find("invalid big number"), std::string::npos);
  EXPECT_NE(ParseErrorOf("(12a\r\n").find("invalid big number"), std::string::npos);
  EXPECT_NE(ParseErrorOf("=2\r\nab\r\n").find("verbatim"), std::string::npos);
  // An error inside a nested element fails the whole reply.
  EXPECT_NE(ParseErrorOf("*2\r\n:1\r\n:x\r\n").find("invalid integer"), std::string::npos);
}

TEST(ReplyParserTest, Limits) {
  ReplyParserLimits limits;
  limits.max_bulk_len = 4;
  limits.max_aggregate_len = 2;
  limits.max_depth = 3;
  EXPECT_EQ(ParseErrorOf("$4\r\nabcd\r\n", limits), "ok:10");
  EXPECT_NE(ParseErrorOf("$5\r\n", limits).find("over the limit"), std::string::npos);
  EXPECT_NE(ParseErrorOf("*3\r\n", limits).find("over the limit"), std::string::npos);
  EXPECT_EQ(ParseErrorOf("*1\r\n*1\r\n*1\r\n:1\r\n", limits), "ok:16");
  EXPECT_NE(ParseErrorOf("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits).find("too deep"),
            std::string::npos);
  // A huge announced count with no data is simply incomplete.
  EXPECT_EQ(ParseErrorOf("*2147483647\r\n:1\r\n"), "ok:0");
}

TEST(ReplyParserTest, DeepNestingIsRefusedNotACrash) {
  std::string input;
  for (int i = 0; i < 100000; ++i) input += "*1\r\n";
  EXPECT_NE(ParseErrorOf(input).find("too deep"), std::string::npos);
}

// Writes every kind of value with the writer, parses it back, rewrites it.
void WriteSample(Writer& w) {
  w.ArrayHeader(12);
  w.SimpleString("OK");
  w.Error("WRONGTYPE Operation against a key holding the wrong kind of value");
  w.Integer(-7);
  w.Bulk(std::string("bin\0ary\r\n", 9));
  w.Null();
  w.MapHeader(1);
  w.Bulk("field");
  w.Double(0.1);
  w.SetHeader(2);
  w.Bulk("a");
  w.Bulk("b");
  w.PushHeader(1);
  w.Boolean(true);
  w.Verbatim("hello world", "txt");
  w.BigNumber("123456789012345678901234567890");
  w.Double(-INFINITY);
  w.ArrayHeader(0);
}

TEST(ReplyParserTest, RoundTripsWithTheWriter) {
  for (Protocol proto : {Protocol::kResp2, Protocol::kResp3}) {
    std::string bytes;
    Writer writer(&bytes, proto);
    WriteSample(writer);
    Reply reply = MustParse(bytes);
    ASSERT_EQ(reply.type, ReplyType::kArray);
    ASSERT_EQ(reply.elements.size(), 12u);
    EXPECT_EQ(reply.elements[3].str, std::string("bin\0ary\r\n", 9));
    std::string rewritten;
    Writer rewriter(&rewritten, proto);
    WriteReply(reply, &rewriter);
    EXPECT_EQ(rewritten, bytes) << "protocol " << static_cast<int>(proto);
  }
}

TEST(ReplyParserTest, Resp3DegradesToResp2Shapes) {
  std::string bytes;
  Writer writer(&bytes, Protocol::kResp2);
  WriteSample(writer);
  Reply reply = MustParse(bytes);
  EXPECT_EQ(reply.elements[4], Reply::Null());
  EXPECT_EQ(reply.elements[5].type, ReplyType::kArray);  // map -> flat array
  EXPECT_EQ(reply.elements[5].elements.size(), 2u);
  EXPECT_EQ(reply.elements[5].elements[1], Reply::Bulk("0.1"));  // double -> bulk
  EXPECT_EQ(reply.elements[7].elements[0], Reply::Integer(1));   // boolean -> :1
  EXPECT_EQ(reply.elements[8], Reply::Bulk("hello world"));      // verbatim -> bulk
}

TEST(ReplyParserTest, DebugString) {
  std::string bytes;
  Writer writer(&bytes, Protocol::kResp3);
  WriteSample(writer);
  EXPECT_EQ(MustParse(bytes).DebugString(),
            "[\"OK\", (error) WRONGTYPE Operation against a key holding the wrong kind of value, "
            "-7, \"bin\\x00ary\\r\\n\", (nil), {\"field\": 0.1}, ~[\"a\", \"b\"], >[true], "
            "\"hello world\", 123456789012345678901234567890, -inf, []]");
}

TEST(ReplyReaderTest, StreamsRepliesFedByteByByte) {
  std::string bytes;
  Writer writer(&bytes, Protocol::kResp3);
  writer.Ok();
  WriteSample(writer);
  writer.Bulk(std::string(100000, 'z'));
  writer.Integer(5);
  ReplyReader reader;
  std::vector<Reply> replies;
  for (char c : bytes) {
    reader.Append(std::string_view(&c, 1));
    Reply reply;
    for (;;) {
      Result<bool> got = reader.Next(&reply);
      ASSERT_TRUE(got.ok());
      if (!*got) break;
      replies.push_back(reply);
    }
  }
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0], Reply::SimpleString("OK"));
  EXPECT_EQ(replies[1].elements.size(), 12u);
  EXPECT_EQ(replies[2].str.size(), 100000u);
  EXPECT_EQ(replies[3], Reply::Integer(5));
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(ReplyReaderTest, ErrorIsSticky) {
  ReplyReader reader;
  reader.Append(":1\r\n:x\r\n:2\r\n");
  Reply reply;
  Result<bool> first = reader.Next(&reply);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  EXPECT_FALSE(reader.Next(&reply).ok());
  EXPECT_FALSE(reader.Next(&reply).ok());
}

}  // namespace
}  // namespace tandem::resp
