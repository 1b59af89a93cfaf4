#include "resp/parser.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "resp/number_parsing.h"

namespace tandem::resp {
namespace {

using Commands = std::vector<std::vector<std::string>>;

struct ParseResult {
  Commands commands;
  std::string error;  // empty when no protocol error
  bool operator==(const ParseResult&) const = default;
};

// Drains every complete command, copying the arguments out.
void Drain(RequestParser& parser, ParseResult* result) {
  std::vector<std::string_view> args;
  for (;;) {
    RequestParser::Outcome outcome = parser.Next(&args);
    if (outcome == RequestParser::Outcome::kNeedMore) return;
    if (outcome == RequestParser::Outcome::kError) {
      result->error = parser.error();
      return;
    }
    result->commands.emplace_back(args.begin(), args.end());
  }
}

// Feeds `input` in pieces of `piece` bytes (0 = all at once).
ParseResult Parse(std::string_view input, size_t piece = 0, RequestParserOptions options = {}) {
  RequestParser parser(options);
  ParseResult result;
  if (piece == 0) piece = input.size() + 1;
  for (size_t at = 0; at < input.size() && result.error.empty(); at += piece) {
    parser.Append(input.substr(at, piece));
    Drain(parser, &result);
    parser.Compact();
  }
  if (input.empty()) Drain(parser, &result);
  return result;
}

std::string ParseError(std::string_view input, RequestParserOptions options = {}) {
  return Parse(input, 0, options).error;
}

// Every split point and every piece size give the same outcome.
void ExpectSplitInvariant(std::string_view input) {
  ParseResult whole = Parse(input);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    RequestParser parser;
    ParseResult split;
    parser.Append(input.substr(0, cut));
    Drain(parser, &split);
    if (split.error.empty()) {
      parser.Append(input.substr(cut));
      Drain(parser, &split);
    }
    EXPECT_EQ(split, whole) << "cut at " << cut;
  }
  for (size_t piece = 1; piece <= 7; ++piece) {
    EXPECT_EQ(Parse(input, piece), whole) << "piece " << piece;
  }
}

TEST(RequestParserTest, SingleMultibulkCommand) {
  ParseResult r = Parse("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.commands, (Commands{{"GET", "key"}}));
}

TEST(RequestParserTest, BinarySafeBulks) {
  constexpr char kInput[] = "*2\r\n$4\r\na\r\n\0\r\n$0\r\n\r\n";
  std::string input(kInput, sizeof(kInput) - 1);
  ParseResult r = Parse(input);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0][0], std::string("a\r\n\0", 4));
  EXPECT_EQ(r.commands[0][1], "");
  ExpectSplitInvariant(input);
}

TEST(RequestParserTest, Pipelining) {
  std::string input;
  Commands expected;
  for (int i = 0; i < 50; ++i) {
    std::string key = "key" + std::to_string(i);
    input += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$1\r\nv\r\n";
    expected.push_back({"SET", key, "v"});
    input += "PING\r\n";
    expected.push_back({"PING"});
  }
  EXPECT_EQ(Parse(input).commands, expected);
  EXPECT_EQ(Parse(input, 1).commands, expected);
  EXPECT_EQ(Parse(input, 13).commands, expected);
}

TEST(RequestParserTest, ViewsOfABatchStayValidTogether) {
  RequestParser parser;
  parser.Append(
      "*1\r\n$4\r\nPING\r\nECHO \"x y\"\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$3\r\nG");
  std::vector<std::vector<std::string_view>> batch;
  std::vector<std::string_view> args;
  while (parser.Next(&args) == RequestParser::Outcome::kCommand) batch.push_back(args);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0][0], "PING");
  EXPECT_EQ(batch[1][1], "x y");
  EXPECT_EQ(batch[2][1], "hi");
  EXPECT_TRUE(parser.has_partial_command());
  EXPECT_EQ(parser.unparsed_bytes(), 9u);
  parser.Compact();
  EXPECT_EQ(parser.buffered_bytes(), 9u);
  parser.Append("ET\r\n");
  ASSERT_EQ(parser.Next(&args), RequestParser::Outcome::kCommand);
  EXPECT_EQ(args, (std::vector<std::string_view>{"GET"}));
  EXPECT_FALSE(parser.has_partial_command());
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kNeedMore);
  EXPECT_TRUE(args.empty());
}

TEST(RequestParserTest, SplitAtEveryByte) {
  ExpectSplitInvariant("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n");
  ExpectSplitInvariant("SET k \"a b\\x41\" 'c\\'d'\r\n\r\n  \nGET k\n");
  ExpectSplitInvariant("*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n");
  ExpectSplitInvariant("*1\r\n$3\r\nabc\r\n*1\r\nx3\r\n");  // ends in an error
  ExpectSplitInvariant("*2\r\n$1\r\na\r\n$-1\r\n");
  ExpectSplitInvariant("PING\r\n\"unbalanced\r\n");
}

TEST(RequestParserTest, EmptyAndNegativeMultibulkAreSkipped) {
  EXPECT_EQ(Parse("*0\r\n*-1\r\n*-5\r\nPING\r\n").commands, (Commands{{"PING"}}));
}

TEST(RequestParserTest, TrailingBytesAfterBulkAreNotChecked) {
  // Redis skips the two bytes after a bulk payload without looking at them.
  EXPECT_EQ(Parse("*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n").commands,
            (Commands{{"PING"}, {"PING"}}));
  // Nor does it check the byte after '\r' in a header line.
  EXPECT_EQ(Parse("*1\rx$4\r\nPING\r\n").commands, (Commands{{"PING"}}));
}

TEST(RequestParserTest, IncompleteInputWaits) {
  for (std::string_view partial :
       {"*", "*1", "*1\r", "*1\r\n", "*1\r\n$", "*1\r\n$4", "*1\r\n$4\r", "*1\r\n$4\r\nPI",
        "*1\r\n$4\r\nPING", "*1\r\n$4\r\nPING\r", "PING", "PING\r", "\"a b", "*1\r\nx3"}) {
    ParseResult r = Parse(partial);
    EXPECT_EQ(r, ParseResult{}) << partial;
  }
}

TEST(RequestParserTest, InlineCommands) {
  EXPECT_EQ(Parse("PING\r\n").commands, (Commands{{"PING"}}));
  EXPECT_EQ(Parse("PING\n").commands, (Commands{{"PING"}}));
  EXPECT_EQ(Parse("  SET   k\tv  \r\n").commands, (Commands{{"SET", "k", "v"}}));
  // Empty and blank lines are skipped.
  EXPECT_EQ(Parse("\r\n\n   \r\nPING\r\n").commands, (Commands{{"PING"}}));
  // A lone '\r' inside the line separates arguments.
  EXPECT_EQ(Parse("a\rb\n").commands, (Commands{{"a", "b"}}));
  // \v and \f are skipped before an argument but belong to it afterwards.
  EXPECT_EQ(Parse("ECHO \vx\r\n").commands, (Commands{{"ECHO", "x"}}));
  EXPECT_EQ(Parse("ECHO a\vb\r\n").commands, (Commands{{"ECHO", "a\vb"}}));
  // A line starting with '$' is just an inline command.
  EXPECT_EQ(Parse("$4\r\n").commands, (Commands{{"$4"}}));
}

TEST(RequestParserTest, InlineQuoting) {
  EXPECT_EQ(Parse("ECHO \"a\\x41\\n\\q\" 'b\\'c'\r\n").commands,
            (Commands{{"ECHO", "aA\nq", "b'c"}}));
  EXPECT_EQ(Parse("ECHO \"\\r\\t\\b\\a\\\\\\\"\"\r\n").commands,
            (Commands{{"ECHO", "\r\t\b\a\\\""}}));
  EXPECT_EQ(Parse("ECHO \"\\x00\\xff\\xFf\"\r\n").commands,
            (Commands{{"ECHO", std::string("\0\xff\xff", 3)}}));
  // Incomplete hex escapes are literal 'x' plus the rest.
  EXPECT_EQ(Parse("ECHO \"\\x4\"\r\n").commands, (Commands{{"ECHO", "x4"}}));
  EXPECT_EQ(Parse("ECHO \"\\xzz\"\r\n").commands, (Commands{{"ECHO", "xzz"}}));
  // Single quotes keep backslashes other than \'.
  EXPECT_EQ(Parse("ECHO 'a\\nb'\r\n").commands, (Commands{{"ECHO", "a\\nb"}}));
  // A quote inside an unquoted word starts quoting in the same argument.
  EXPECT_EQ(Parse("ECHO a\"b c\"\r\n").commands, (Commands{{"ECHO", "ab c"}}));
  EXPECT_EQ(Parse("ECHO \"\" ''\r\n").commands, (Commands{{"ECHO", "", ""}}));
  // A NUL byte ends the inline line.
  EXPECT_EQ(Parse(std::string("PING\0 x\r\nECHO y\r\n", 17)).commands,
            (Commands{{"PING"}, {"ECHO", "y"}}));
}

TEST(RequestParserTest, UnbalancedQuotes) {
  const std::string kError = "ERR Protocol error: unbalanced quotes in request";
  EXPECT_EQ(ParseError("\"PING\r\n"), kError);
  EXPECT_EQ(ParseError("ECHO \"a\"b\r\n"), kError);
  EXPECT_EQ(ParseError("ECHO 'a'b\r\n"), kError);
  EXPECT_EQ(ParseError("ECHO 'a\r\n"), kError);
  EXPECT_EQ(ParseError("ECHO \"x\\\"\r\n"), kError);
  EXPECT_EQ(ParseError("ECHO \"x\\\r\n"), kError);
  // Commands before the bad line are still returned.
  ParseResult r = Parse("PING\r\n'x\r\nPING\r\n");
  EXPECT_EQ(r.commands, (Commands{{"PING"}}));
  EXPECT_EQ(r.error, kError);
}

TEST(RequestParserTest, InlineSizeLimit) {
  const std::string kError = "ERR Protocol error: too big inline request";
  EXPECT_EQ(ParseError(std::string(kMaxInlineRequestSize + 1, 'A')), kError);
  EXPECT_EQ(ParseError(std::string(kMaxInlineRequestSize + 1, 'A') + "\r\n"), kError);
  EXPECT_EQ(Parse(std::string(kMaxInlineRequestSize, 'A')), ParseResult{});
  ParseResult r = Parse("ECHO " + std::string(kMaxInlineRequestSize - 5, 'A') + "\n");
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0][1].size(), kMaxInlineRequestSize - 5);
}

TEST(RequestParserTest, MultibulkLengthErrors) {
  const std::string kError = "ERR Protocol error: invalid multibulk length";
  for (std::string_view bad :
       {"*01\r\n", "*+1\r\n", "*\r\n", "* 1\r\n", "*1 \r\n", "*-0\r\n", "*2147483648\r\n",
        "*99999999999999999999\r\n", "*x\r\n", "*123456789012345678901\r\n"}) {
    EXPECT_EQ(ParseError(bad), kError) << bad;
  }
  // INT_MAX itself is accepted (and allocates nothing for it).
  EXPECT_EQ(Parse("*2147483647\r\n$1\r\nx\r\n"), ParseResult{});
  EXPECT_EQ(ParseError("*" + std::string(kMaxInlineRequestSize, '1')),
            "ERR Protocol error: too big mbulk count string");
  EXPECT_EQ(ParseError("*" + std::string(kMaxInlineRequestSize, '1') + "\r\n"),
            "ERR Protocol error: too big mbulk count string");
}

TEST(RequestParserTest, BulkLengthErrors) {
  const std::string kError = "ERR Protocol error: invalid bulk length";
  for (std::string_view bad :
       {"*1\r\n$-1\r\n", "*1\r\n$-0\r\n", "*1\r\n$04\r\n", "*1\r\n$\r\n", "*1\r\n$4x\r\n",
        "*1\r\n$536870913\r\n", "*1\r\n$9223372036854775808\r\n"}) {
    EXPECT_EQ(ParseError(bad), kError) << bad;
  }
  EXPECT_EQ(ParseError("*1\r\n$" + std::string(kMaxInlineRequestSize, '1')),
            "ERR Protocol error: too big bulk count string");
  EXPECT_EQ(ParseError("*1\r\n" + std::string(kMaxInlineRequestSize + 1, 'x')),
            "ERR Protocol error: too big bulk count string");
}

TEST(RequestParserTest, ExpectedDollar) {
  EXPECT_EQ(ParseError("*1\r\nx3\r\n"), "ERR Protocol error: expected '$', got 'x'");
  EXPECT_EQ(ParseError("*1\r\n*4\r\n"), "ERR Protocol error: expected '$', got '*'");
  EXPECT_EQ(ParseError("*2\r\n$1\r\na\r\n:1\r\n"), "ERR Protocol error: expected '$', got ':'");
  // CR and LF are shown as spaces, as Redis does.
  EXPECT_EQ(ParseError("*1\r\n\r\n"), "ERR Protocol error: expected '$', got ' '");
  EXPECT_EQ(ParseError("*1\r\n\n\r\n"), "ERR Protocol error: expected '$', got ' '");
}

TEST(RequestParserTest, ConfigurableBulkLimit) {
  RequestParserOptions options;
  options.max_bulk_len = 3;
  EXPECT_EQ(Parse("*1\r\n$3\r\nabc\r\n", 0, options).commands, (Commands{{"abc"}}));
  EXPECT_EQ(ParseError("*1\r\n$4\r\nabcd\r\n", options), "ERR Protocol error: invalid bulk length");
}

TEST(RequestParserTest, UnauthenticatedLimits) {
  RequestParserOptions options;
  options.require_auth = true;
  EXPECT_EQ(ParseError("*11\r\n", options), "ERR Protocol error: unauthenticated multibulk length");
  EXPECT_EQ(ParseError("*1\r\n$16385\r\n", options),
            "ERR Protocol error: unauthenticated bulk length");
  std::string big(16384, 'v');
  std::string input = "*10\r\n";
  for (int i = 0; i < 9; ++i) input += "$1\r\nx\r\n";
  input += "$16384\r\n" + big + "\r\n";
  ParseResult r = Parse(input, 0, options);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0][9], big);

  RequestParser parser(options);
  parser.set_require_auth(false);
  parser.Append("*11\r\n");
  std::vector<std::string_view> args;
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kNeedMore);
}

TEST(RequestParserTest, ErrorIsSticky) {
  RequestParser parser;
  parser.Append("*1\r\n$-1\r\n*1\r\n$4\r\nPING\r\n");
  std::vector<std::string_view> args;
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kError);
  EXPECT_TRUE(parser.has_error());
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kError);
  parser.Append("PING\r\n");
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kError);
  parser.Reset();
  EXPECT_FALSE(parser.has_error());
  parser.Append("PING\r\n");
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kCommand);
}

TEST(RequestParserTest, HugeAnnouncedBulkDoesNotAllocate) {
  RequestParser parser;
  parser.Append("*1\r\n$536870912\r\nabc");
  std::vector<std::string_view> args;
  EXPECT_EQ(parser.Next(&args), RequestParser::Outcome::kNeedMore);
  EXPECT_EQ(parser.BytesNeededHint(), 536870912u + 2 - 3);
  // The read hint grows with the data received, not with the announcement.
  EXPECT_EQ(parser.ReadSizeHint(), kDefaultReadSize);
  std::span<char> space = parser.PrepareRead(parser.ReadSizeHint());
  EXPECT_GE(space.size(), kDefaultReadSize);
  EXPECT_LT(space.size(), 1024u * 1024u);
}

TEST(RequestParserTest, BigBulkThroughReadHints) {
  const size_t kSize = 3 * 1024 * 1024 + 17;
  std::string payload(kSize, 'p');
  for (size_t i = 0; i < kSize; i += 4099) payload[i] = static_cast<char>('a' + i % 26);
  std::string input =
      "*2\r\n$3\r\nSET\r\n$" + std::to_string(kSize) + "\r\n" + payload + "\r\nPING\r\n";
  RequestParser parser;
  std::vector<std::string_view> args;
  ParseResult result;
  size_t offset = 0;
  size_t max_hint = 0;
  while (offset < input.size()) {
    size_t hint = parser.ReadSizeHint();
    max_hint = std::max(max_hint, hint);
    std::span<char> space = parser.PrepareRead(hint);
    ASSERT_GE(space.size(), hint);
    size_t n = std::min({space.size(), input.size() - offset, hint});
    std::memcpy(space.data(), input.data() + offset, n);
    parser.CommitRead(n);
    offset += n;
    Drain(parser, &result);
    parser.Compact();
  }
  ASSERT_EQ(result.error, "");
  ASSERT_EQ(result.commands.size(), 2u);
  EXPECT_EQ(result.commands[0][1], payload);
  EXPECT_EQ(result.commands[1][0], "PING");
  // Hints grew beyond the default read size but never past the payload.
  EXPECT_GT(max_hint, kDefaultReadSize);
  EXPECT_LE(max_hint, kSize + 2);
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(RequestParserTest, ByteByByteLongCommandIsLinear) {
  // 20000 arguments fed one byte at a time, compacting after every byte:
  // the partial-command offsets must survive every compaction.
  std::string input = "*20000\r\n";
  for (int i = 0; i < 20000; ++i) input += "$1\r\nz\r\n";
  ParseResult r = Parse(input, 1);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0].size(), 20000u);
}

TEST(SplitInlineArgsTest, Basics) {
  std::vector<std::string> args;
  ASSERT_TRUE(SplitInlineArgs("", &args));
  EXPECT_TRUE(args.empty());
  ASSERT_TRUE(SplitInlineArgs("set \"a b\" 'c'", &args));
  EXPECT_EQ(args, (std::vector<std::string>{"set", "a b", "c"}));
  EXPECT_FALSE(SplitInlineArgs("\"abc", &args));
  EXPECT_FALSE(SplitInlineArgs("'abc", &args));
  ASSERT_TRUE(SplitInlineArgs("\"a\"\t'b' ", &args));
  EXPECT_EQ(args, (std::vector<std::string>{"a", "b"}));
}

TEST(ParseStrictInt64Test, RedisString2llRules) {
  int64_t v = 0;
  EXPECT_TRUE(ParseStrictInt64("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseStrictInt64("-1", &v));
  EXPECT_EQ(v, -1);
  EXPECT_TRUE(ParseStrictInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_TRUE(ParseStrictInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  for (std::string_view bad :
       {"", "-", "-0", "00", "01", "+1", " 1", "1 ", "1a", "9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "000000000000000000001"}) {
    EXPECT_FALSE(ParseStrictInt64(bad, &v)) << bad;
  }
}

}  // namespace
}  // namespace tandem::resp
