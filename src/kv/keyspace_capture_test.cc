// Keyspace::BeginCapture / CaptureStep / EndCapture: every key present at
// BeginCapture reaches the sink exactly once, with its value and expiry of
// that moment, whatever commands do to the keyspace meanwhile.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "kv/keyspace.h"
#include "kv/snapshot_entry.h"

namespace tandem::kv {
namespace {

std::string Key(int i) { return "key:" + std::to_string(i); }

// Key -> its snapshot entry (value and expiry in one canonical encoding).
using Image = std::map<std::string, std::string>;

std::string Entry(std::string_view key, const Object& value, int64_t expire_at) {
  std::string out;
  EncodeSnapshotEntry(key, value, expire_at, &out);
  return out;
}

Image ImageOf(const Keyspace& ks) {
  Image image;
  ks.ForEach([&](std::string_view key, const Object& value, int64_t expire_at) {
    image[std::string(key)] = Entry(key, value, expire_at);
  });
  return image;
}

// A capture started on construction: the keys handed out, and how many
// were handed out more than once. Not movable (the sink points at it).
struct Capturing {
  explicit Capturing(Keyspace& ks) {
    ks.BeginCapture([this](std::string_view key, const Object& value, int64_t expire_at) {
      if (!image.emplace(std::string(key), Entry(key, value, expire_at)).second) ++repeats;
    });
  }
  Capturing(const Capturing&) = delete;
  Capturing& operator=(const Capturing&) = delete;
  Image image;
  int repeats = 0;
};

// Steps the capture to its end, `step` keys at a time, and ends it.
void CaptureRest(Keyspace& ks, size_t step) {
  while (ks.CaptureStep(step)) {
  }
  ks.EndCapture();
}

void Fill(Keyspace& ks, int keys, std::mt19937_64& rng) {
  for (int i = 0; i < keys; ++i) {
    if (i % 5 == 0) {
      Object h = Object::NewHash();
      h.hash().Set("f", std::to_string(i));
      h.hash().Set("g", "x");
      ks.Set(Key(i), std::move(h));
    } else {
      ks.Set(Key(i), Object::String("v" + std::to_string(i)));
    }
    if (rng() % 3 == 0) ks.SetExpire(Key(i), 1000000 + static_cast<int64_t>(i));
  }
}

// One random change, through every kind of call that can change a key or
// hand out a mutable pointer to it.
void RandomChange(Keyspace& ks, std::mt19937_64& rng, int key_range) {
  std::string k = Key(static_cast<int>(rng() % key_range));
  switch (rng() % 9) {
    case 0:
      ks.Set(k, Object::String("new" + std::to_string(rng() % 100)), rng() % 2 == 0);
      break;
    case 1:
      ks.Erase(k);
      break;
    case 2: {  // RENAME
      int64_t at;
      auto v = ks.Extract(k, &at);
      if (v) {
        std::string to = Key(static_cast<int>(rng() % key_range));
        ks.Set(to, std::move(*v));
        if (at != kNoExpire) ks.SetExpire(to, at);
      }
      break;
    }
    case 3:
      ks.SetExpire(k, 2000000 + static_cast<int64_t>(rng() % 1000));
      break;
    case 4:
      ks.Persist(k);
      break;
    case 5:
      if (Object* o = ks.Find(k)) {
        if (o->is_string()) {
          o->str().append("+");
        } else {
          o->hash().Set("f", "changed");
        }
      }
      break;
    case 6: {
      int64_t at;
      if (Object* o = ks.Access(k, &at, 1000); o != nullptr && o->is_string()) {
        o->str() += "!";
      }
      break;
    }
    case 7:
      ks.RehashStep(64);
      break;
    default:
      ks.Set(k, Object::NewHash());
      ks.Find(k)->hash().Set("h", "1");
      break;
  }
}

TEST(KeyspaceCaptureTest, EveryKeyOnceWithItsStateAtTheStart) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    Keyspace ks;
    Fill(ks, 3000, rng);
    Image expected = ImageOf(ks);
    Capturing capture(ks);
    ASSERT_TRUE(ks.capturing());
    bool more = true;
    while (more) {
      for (int i = 0; i < 40; ++i) RandomChange(ks, rng, 4500);  // new keys too
      more = ks.CaptureStep(16);
    }
    ks.EndCapture();
    EXPECT_FALSE(ks.capturing());
    EXPECT_EQ(capture.repeats, 0) << "seed " << seed;
    EXPECT_EQ(capture.image, expected) << "seed " << seed;
  }
}

TEST(KeyspaceCaptureTest, TheNextCaptureSeesEveryKeyAgainAfterOneEndedEarly) {
  std::mt19937_64 rng(7);
  Keyspace ks;
  Fill(ks, 2000, rng);
  {
    Capturing first(ks);
    ks.CaptureStep(500);
    for (int i = 0; i < 300; ++i) RandomChange(ks, rng, 2500);
    ks.EndCapture();  // abandoned part-way
    EXPECT_LT(first.image.size(), 2000u);
  }
  Image expected = ImageOf(ks);
  Capturing second(ks);
  CaptureRest(ks, 100);
  EXPECT_EQ(second.repeats, 0);
  EXPECT_EQ(second.image, expected);
}

TEST(KeyspaceCaptureTest, KeysCreatedDuringACaptureAreNotInIt) {
  Keyspace ks;
  ks.Set("old", Object::String("1"));
  Capturing capture(ks);
  ks.Set("new", Object::String("2"));
  ks.Find("new")->str() = "3";
  ks.Erase("new");
  ks.Set("new", Object::String("4"));
  CaptureRest(ks, 1);
  EXPECT_EQ(capture.image, (Image{{"old", Entry("old", Object::String("1"), kNoExpire)}}));
  EXPECT_EQ(ks.Find("new")->str(), "4");
}

TEST(KeyspaceCaptureTest, ADeletedKeyIsHandedOutBeforeItGoes) {
  Keyspace ks;
  ks.Set("a", Object::String("1"));
  ks.SetExpire("a", 5000);
  Capturing capture(ks);
  EXPECT_TRUE(ks.Erase("a"));
  // Handed out at once, with the expiry it had.
  EXPECT_EQ(capture.image, (Image{{"a", Entry("a", Object::String("1"), 5000)}}));
  EXPECT_FALSE(ks.CaptureStep(10));
  ks.EndCapture();
  EXPECT_EQ(capture.repeats, 0);
}

TEST(KeyspaceCaptureTest, ClearKeepsTheKeysNotHandedOutForTheCapture) {
  std::mt19937_64 rng(3);
  Keyspace ks;
  Fill(ks, 1000, rng);
  {
    Image expected = ImageOf(ks);
    Capturing capture(ks);
    ks.CaptureStep(100);
    ks.Erase(Key(999));
    ks.Clear();  // FLUSHALL
    EXPECT_EQ(ks.size(), 0u);
    EXPECT_EQ(ks.expires_count(), 0u);
    ks.Set("after", Object::String("x"));
    ks.CaptureStep(300);
    ks.Set(Key(5), Object::String("new"));
    ks.Clear();  // again, part-way through the detached keys
    ks.Set("later", Object::String("y"));
    CaptureRest(ks, 7);
    EXPECT_EQ(capture.repeats, 0);
    EXPECT_EQ(capture.image, expected);
  }
  EXPECT_EQ(ks.size(), 1u);
  // The keyspace works as before, and the next capture is complete.
  for (int i = 0; i < 50; ++i) RandomChange(ks, rng, 100);
  Capturing again(ks);
  CaptureRest(ks, 10);
  EXPECT_EQ(again.image, ImageOf(ks));
  EXPECT_EQ(again.repeats, 0);
}

TEST(KeyspaceCaptureTest, AKeyspaceDestroyedDuringACaptureFreesItsNodes) {
  // Runs under ASan/LeakSanitizer in the debug build: a leak fails it.
  std::mt19937_64 rng(5);
  Keyspace ks;
  Fill(ks, 500, rng);
  Capturing capture(ks);
  ks.CaptureStep(100);
  ks.Erase(Key(300));
  ks.Clear();
  ks.Set("x", Object::String("1"));
}

}  // namespace
}  // namespace tandem::kv
