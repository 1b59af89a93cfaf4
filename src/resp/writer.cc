#include "resp/writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <system_error>

namespace tandem::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

void AppendInt(std::string* out, int64_t v) {
  std::array<char, 24> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;  // 24 bytes always fit an int64.
  out->append(buf.data(), end);
}

// Lays out the shortest round-trip decimal digits of a finite, nonzero `v`
// following printf's %g rules with precision 17: scientific notation when the
// decimal exponent is < -4 or >= 17, fixed otherwise, no trailing zeros.
std::string LayOutShortest(double v) {
  // std::to_chars in scientific mode without precision yields the shortest
  // digit string that round-trips, e.g. "-1.2345e+02".
  std::array<char, 64> buf;
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  (void)ec;
  std::string_view sci(buf.data(), static_cast<size_t>(end - buf.data()));

  std::string out;
  size_t pos = 0;
  if (sci[pos] == '-') {
    out.push_back('-');
    ++pos;
  }
  size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e_pos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  if (exponent < -4 || exponent >= 17) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    int magnitude = std::abs(exponent);
    if (magnitude < 10) out.push_back('0');
    out.append(std::to_string(magnitude));
    return out;
  }
  if (exponent < 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out.append(digits);
    return out;
  }
  size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out.append(digits);
    out.append(int_digits - digits.size(), '0');
  } else {
    out.append(digits, 0, int_digits);
    out.push_back('.');
    out.append(digits, int_digits);
  }
  return out;
}

}  // namespace

void Writer::Header(char type, int64_t n) {
  out_->push_back(type);
  AppendInt(out_, n);
  out_->append(kCrlf);
}

void Writer::SimpleString(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append(kCrlf);
}

void Writer::Error(std::string_view msg) {
  out_->push_back('-');
  size_t start = out_->size();
  out_->append(msg);
  for (size_t i = start; i < out_->size(); ++i) {
    char& c = (*out_)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out_->append(kCrlf);
}

void Writer::Integer(int64_t v) { Header(':', v); }

void Writer::Bulk(std::string_view s) {
  BulkHeader(s.size());
  out_->append(s);
  out_->append(kCrlf);
}

void Writer::Null() {
  if (proto_ == Protocol::kResp3) {
    out_->append("_\r\n");
  } else {
    out_->append("$-1\r\n");
  }
}

void Writer::NullArray() {
  if (proto_ == Protocol::kResp3) {
    out_->append("_\r\n");
  } else {
    out_->append("*-1\r\n");
  }
}

void Writer::ArrayHeader(int64_t n) { Header('*', n); }

void Writer::MapHeader(int64_t pairs) {
  if (proto_ == Protocol::kResp3) {
    Header('%', pairs);
  } else {
    Header('*', pairs * 2);
  }
}

void Writer::SetHeader(int64_t n) { Header(proto_ == Protocol::kResp3 ? '~' : '*', n); }

void Writer::PushHeader(int64_t n) { Header(proto_ == Protocol::kResp3 ? '>' : '*', n); }

void Writer::Double(double v) {
  std::string text = FormatDouble(v);
  if (proto_ == Protocol::kResp3) {
    out_->push_back(',');
    out_->append(text);
    out_->append(kCrlf);
  } else {
    Bulk(text);
  }
}

void Writer::Boolean(bool v) {
  if (proto_ == Protocol::kResp3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n");
  }
}

void Writer::Verbatim(std::string_view s, std::string_view format) {
  if (proto_ != Protocol::kResp3) {
    Bulk(s);
    return;
  }
  // The format is exactly three characters; pad or cut anything else so the
  // frame stays well formed.
  std::string fmt3(format.substr(0, 3));
  fmt3.resize(3, ' ');
  Header('=', static_cast<int64_t>(s.size() + 4));
  out_->append(fmt3);
  out_->push_back(':');
  out_->append(s);
  out_->append(kCrlf);
}

void Writer::BigNumber(std::string_view digits) {
  if (proto_ == Protocol::kResp3) {
    out_->push_back('(');
    out_->append(digits);
    out_->append(kCrlf);
  } else {
    Bulk(digits);
  }
}

void Writer::BulkArray(std::initializer_list<std::string_view> items) {
  ArrayHeader(static_cast<int64_t>(items.size()));
  for (std::string_view item : items) Bulk(item);
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  return LayOutShortest(v);
}

std::string FormatDoubleHuman(long double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // %.17Lf never uses an exponent; for the largest long doubles that is
  // thousands of digits, so size the buffer from snprintf's own answer.
  int needed = std::snprintf(nullptr, 0, "%.17Lf", v);
  if (needed <= 0) return "nan";
  std::string text(static_cast<size_t>(needed) + 1, '\0');
  std::snprintf(text.data(), text.size(), "%.17Lf", v);
  text.resize(static_cast<size_t>(needed));
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

}  // namespace tandem::resp
