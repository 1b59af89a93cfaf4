// Encoding of Message to bytes and back (format: docs/replication.md,
// "Wire format"). The server frames the bytes itself (length prefix on TCP).
#pragma once

#include <string>
#include <string_view>

#include "replication/message.h"
#include "util/result.h"

namespace tandem::replication {

inline constexpr uint8_t kWireVersion = 1;

// Appends the encoding of `msg` to *out.
void EncodeMessage(const Message& msg, std::string* out);
std::string EncodeMessage(const Message& msg);

// Parses one whole message. Malformed, truncated, over-long or trailing
// bytes give a Corruption status; never crashes, never reads out of bounds.
// Entry payloads are copied into fresh shared strings.
Result<Message> DecodeMessage(std::string_view bytes);

}  // namespace tandem::replication
