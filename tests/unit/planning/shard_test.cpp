#include <gtest/gtest.h>

#include <set>
#include <string>

#include "planning/engine.h"

namespace ping_exporter::planning {
namespace {

TEST(ShardTest, ParsesOnlyValidSpecs) {
  EXPECT_EQ(ParseShard("0/1")->count, 1u);
  EXPECT_EQ(ParseShard("2/3")->index, 2u);
  for (const char* bad : {"", "1", "3/3", "1/0", "-1/2", "a/b", "1/2/3", "0/99999999"}) {
    EXPECT_FALSE(ParseShard(bad)) << bad;
  }
}

TEST(ShardTest, ShardsAreDisjointAndCoverTheList) {
  constexpr uint32_t kShards = 5;
  std::set<std::string> seen;
  size_t per_shard[kShards] = {};
  for (int i = 0; i < 10000; ++i) {
    std::string host = "host-" + std::to_string(i) + ".example.test";
    int owners = 0;
    for (uint32_t s = 0; s < kShards; ++s) {
      if (Shard{s, kShards}.Owns(host)) {
        ++owners;
        ++per_shard[s];
      }
    }
    EXPECT_EQ(owners, 1) << host;
  }
  for (size_t n : per_shard) {
    EXPECT_GT(n, 1800u);  // 2000 expected each
    EXPECT_LT(n, 2200u);
  }
  EXPECT_TRUE(Shard{}.Owns("anything"));
}

}  // namespace
}  // namespace ping_exporter::planning
