#include "wal/log_format.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::wal {
namespace {

std::string MakeSegment(uint64_t first, uint64_t prev_term, int n, uint64_t term = 1) {
  std::string data;
  EncodeSegmentHeader(SegmentHeader{first, prev_term}, &data);
  for (int i = 0; i < n; ++i) {
    std::string payload = "payload-" + std::to_string(i);
    AppendRecord(EntryView{term, first + i, static_cast<EntryType>(i % 3), payload}, &data);
  }
  return data;
}

TEST(LogFormat, RecordRoundTrip) {
  std::string buf;
  AppendRecord(EntryView{7, 42, 3, "hello"}, &buf);
  AppendRecord(EntryView{8, 43, 0, ""}, &buf);
  ASSERT_EQ(buf.size(), EncodedRecordSize(5) + EncodedRecordSize(0));
  EntryView e;
  size_t size = 0;
  ASSERT_EQ(DecodeRecord(buf, &e, &size), RecordDecode::kOk);
  EXPECT_EQ(e.term, 7u);
  EXPECT_EQ(e.index, 42u);
  EXPECT_EQ(e.type, 3);
  EXPECT_EQ(e.payload, "hello");
  ASSERT_EQ(DecodeRecord(std::string_view(buf).substr(size), &e, &size), RecordDecode::kOk);
  EXPECT_EQ(e.index, 43u);
  EXPECT_EQ(e.payload, "");
}

TEST(LogFormat, EveryFlippedBitIsDetected) {
  std::string buf;
  AppendRecord(EntryView{5, 9, 1, "some payload bytes"}, &buf);
  for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
    std::string bad = buf;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EntryView e;
    size_t size = 0;
    EXPECT_NE(DecodeRecord(bad, &e, &size), RecordDecode::kOk) << "bit " << bit;
  }
}

TEST(LogFormat, TruncatedRecordsAreIncomplete) {
  std::string buf;
  AppendRecord(EntryView{1, 1, 0, "0123456789"}, &buf);
  for (size_t len = 0; len < buf.size(); ++len) {
    EntryView e;
    size_t size = 0;
    RecordDecode rd = DecodeRecord(std::string_view(buf).substr(0, len), &e, &size);
    EXPECT_EQ(rd, len < kRecordHeaderSize ? RecordDecode::kTruncatedHeader
                                          : RecordDecode::kTruncatedPayload);
  }
}

TEST(LogFormat, HeaderValidation) {
  std::string data;
  EncodeSegmentHeader(SegmentHeader{10, 3}, &data);
  SegmentHeader h;
  ASSERT_EQ(DecodeSegmentHeader(data, &h), HeaderDecode::kOk);
  EXPECT_EQ(h.first_index, 10u);
  EXPECT_EQ(h.prev_term, 3u);
  EXPECT_EQ(DecodeSegmentHeader(data.substr(0, 31), &h), HeaderDecode::kTooShort);
  std::string bad = data;
  bad[0] = 'X';
  EXPECT_EQ(DecodeSegmentHeader(bad, &h), HeaderDecode::kBadMagic);
  bad = data;
  bad[14] ^= 1;
  EXPECT_EQ(DecodeSegmentHeader(bad, &h), HeaderDecode::kBadChecksum);
}

TEST(LogFormat, ScanCleanSegment) {
  std::string data = MakeSegment(5, 2, 10, 3);
  std::vector<uint64_t> indexes;
  SegmentScan scan =
      ScanSegment(data, [&](const EntryView& e, uint64_t) { indexes.push_back(e.index); });
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kClean);
  EXPECT_EQ(scan.record_count, 10u);
  EXPECT_EQ(scan.last_index, 14u);
  EXPECT_EQ(scan.last_term, 3u);
  EXPECT_EQ(scan.valid_end, data.size());
  ASSERT_EQ(indexes.size(), 10u);
  EXPECT_EQ(indexes.front(), 5u);
}

TEST(LogFormat, ScanClassifiesTornAndCorrupt) {
  std::string data = MakeSegment(1, 0, 5);
  size_t last_start = data.size() - EncodedRecordSize(9);
  // Every cut inside the last record is a torn tail.
  for (size_t len = last_start + 1; len < data.size(); ++len) {
    SegmentScan scan = ScanSegment(std::string_view(data).substr(0, len));
    EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn) << len;
    EXPECT_EQ(scan.valid_end, last_start);
    EXPECT_EQ(scan.last_index, 4u);
  }
  // The same cuts followed by zeros (a torn write into preallocated space:
  // the bytes not written stay zero) are torn too.
  for (size_t len = last_start + 1; len < data.size(); ++len) {
    std::string padded = data.substr(0, len) + std::string(300, '\0');
    SegmentScan scan = ScanSegment(padded);
    EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn) << len;
    EXPECT_EQ(scan.valid_end, last_start);
    EXPECT_EQ(scan.error_offset, last_start);
    EXPECT_EQ(scan.last_index, 4u);
  }
  // A zero-filled tail after the last record is preallocated space.
  std::string zeros = data + std::string(100, '\0');
  SegmentScan zscan = ScanSegment(zeros);
  EXPECT_EQ(zscan.tail, SegmentScan::Tail::kZeroTail);
  EXPECT_EQ(zscan.valid_end, data.size());
  EXPECT_EQ(zscan.error_offset, data.size());
  EXPECT_EQ(zscan.last_index, 5u);
  EXPECT_EQ(zscan.record_count, 5u);
  // Header only, then zeros.
  EXPECT_EQ(ScanSegment(MakeSegment(1, 0, 0) + std::string(5000, '\0')).tail,
            SegmentScan::Tail::kZeroTail);
  // A non-zero byte anywhere in the zeros is not preallocated space.
  for (size_t at : {size_t{0}, size_t{40}, size_t{99}}) {
    std::string junk = zeros;
    junk[data.size() + at] = 1;
    EXPECT_EQ(ScanSegment(junk).tail, at < kRecordHeaderSize ? SegmentScan::Tail::kTorn
                                                              : SegmentScan::Tail::kCorrupt)
        << at;
  }
  // A flipped payload bit in a middle record is corruption at that offset.
  std::string bad = data;
  size_t second = kSegmentHeaderSize + EncodedRecordSize(9);
  bad[second + kRecordHeaderSize + 2] ^= 0x10;
  SegmentScan scan = ScanSegment(bad);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
  EXPECT_EQ(scan.error_offset, second);
  EXPECT_EQ(scan.last_index, 1u);
  // ... also with zeros after the data (a preallocated file).
  bad += std::string(4096, '\0');
  scan = ScanSegment(bad);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
  EXPECT_EQ(scan.error_offset, second);
  // A flipped bit in the last record's payload (it ends at EOF) is torn.
  bad = data;
  bad[data.size() - 1] ^= 1;
  EXPECT_EQ(ScanSegment(bad).tail, SegmentScan::Tail::kTorn);
  // ... also when only zeros follow it.
  bad += std::string(4096, '\0');
  scan = ScanSegment(bad);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn);
  EXPECT_EQ(scan.valid_end, last_start);
  // Part of the last record's payload never written (zeros), zeros after it.
  bad = data + std::string(4096, '\0');
  for (size_t i = last_start + kRecordHeaderSize + 2; i < data.size(); ++i) bad[i] = 0;
  EXPECT_EQ(ScanSegment(bad).tail, SegmentScan::Tail::kTorn);
  // The end of the last record's header never written, zeros after it.
  bad = data + std::string(4096, '\0');
  for (size_t i = last_start + 12; i < data.size(); ++i) bad[i] = 0;
  EXPECT_EQ(ScanSegment(bad).tail, SegmentScan::Tail::kTorn);
  // A damaged (checksum) record followed by zeros and then data is corrupt.
  bad = data + std::string(4096, '\0');
  bad[last_start + kRecordHeaderSize] ^= 1;
  bad.back() = 7;
  EXPECT_EQ(ScanSegment(bad).tail, SegmentScan::Tail::kCorrupt);
}

TEST(LogFormat, RecordEndingInZerosBeforeZeroTail) {
  // A valid record whose payload ends in zero bytes stays valid.
  std::string data;
  EncodeSegmentHeader(SegmentHeader{1, 0}, &data);
  AppendRecord(EntryView{1, 1, 0, std::string(50, '\0')}, &data);
  size_t end = data.size();
  SegmentScan scan = ScanSegment(data + std::string(1000, '\0'));
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kZeroTail);
  EXPECT_EQ(scan.record_count, 1u);
  EXPECT_EQ(scan.valid_end, end);
}

TEST(LogFormat, ScanRejectsIndexGapAndTermRegression) {
  std::string data;
  EncodeSegmentHeader(SegmentHeader{1, 0}, &data);
  AppendRecord(EntryView{2, 1, 0, "a"}, &data);
  AppendRecord(EntryView{2, 3, 0, "b"}, &data);  // gap
  SegmentScan scan = ScanSegment(data);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
  EXPECT_EQ(scan.error_offset, kSegmentHeaderSize + EncodedRecordSize(1));

  data.clear();
  EncodeSegmentHeader(SegmentHeader{1, 5}, &data);
  AppendRecord(EntryView{4, 1, 0, "a"}, &data);  // term < prev_term
  EXPECT_EQ(ScanSegment(data).tail, SegmentScan::Tail::kCorrupt);
}

TEST(LogFormat, SegmentFileNames) {
  EXPECT_EQ(SegmentFileName(42), "00000000000000000042.log");
  uint64_t v = 0;
  ASSERT_TRUE(ParseSegmentFileName("00000000000000000042.log", &v));
  EXPECT_EQ(v, 42u);
  EXPECT_FALSE(ParseSegmentFileName("00000000000000000042.log.tmp", &v));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000004x.log", &v));
  EXPECT_FALSE(ParseSegmentFileName("99999999999999999999.log", &v));  // overflow
}

}  // namespace
}  // namespace tandem::wal
