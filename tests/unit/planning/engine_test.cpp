// BuildPlans: history follows name + labels + address index across reloads; group data shared.

#include "planning/engine.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace ping_exporter::planning {
namespace {

targets::TargetSpec Spec(const std::string& host, std::shared_ptr<const config::Labels> labels =
                                                      std::make_shared<const config::Labels>()) {
  targets::TargetSpec s;
  s.host = host;
  s.labels = std::move(labels);
  return s;
}

// Default series options for every group, as a configuration without metrics keys makes them.
SeriesOptionsOf Series() {
  auto options = std::make_shared<const metrics::SeriesOptions>();
  return [options](const config::ProbeOptions&) { return options; };
}

TEST(EngineTest, UnchangedTargetsKeepTheirEntryAndGroupDataIsShared) {
  std::ostringstream sink;
  Logger log(sink, LogLevel::kError, LogFormat::kLogfmt);
  config::SharedProbeOptions options(config::ProbeOptions{});
  auto labels = std::make_shared<const config::Labels>(config::Labels{{"site", "a"}});
  std::vector<targets::TargetSpec> specs;
  for (const char* h : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    specs.push_back(Spec(h, labels));
    specs.back().options = options;
  }
  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, Series(), Shard{}, log);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].options.get(), first[2].options.get());
  EXPECT_EQ(first[0].entry.info->labels.size(), 1u);
  EXPECT_EQ(first[1].entry.info->label_text,
            "target=\"127.0.0.2\",address=\"127.0.0.2\",site=\"a\"");

  // Same specs again (a reload with new group objects): same entries, not just equal ones.
  auto labels2 = std::make_shared<const config::Labels>(config::Labels{{"site", "a"}});
  for (auto& s : specs) s.labels = labels2;
  std::vector<probe::TargetPlan> second = BuildPlans(specs, first, Series(), Shard{}, log);
  ASSERT_EQ(second.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second[i].entry.info, first[i].entry.info) << i;
    EXPECT_EQ(second[i].entry.stats, first[i].entry.stats) << i;
  }

  // Changed labels: a new target with fresh stats; a new host: fresh too.
  specs[0].labels = std::make_shared<const config::Labels>(config::Labels{{"site", "b"}});
  specs[2] = Spec("127.0.0.9", labels2);
  std::vector<probe::TargetPlan> third = BuildPlans(specs, second, Series(), Shard{}, log);
  ASSERT_EQ(third.size(), 3u);
  EXPECT_NE(third[0].entry.stats, second[0].entry.stats);
  EXPECT_EQ(third[1].entry.stats, second[1].entry.stats);
  EXPECT_NE(third[2].entry.stats, second[2].entry.stats);
  EXPECT_EQ(third[2].entry.info->address, "127.0.0.9");
}

TEST(EngineTest, LiteralOfTheWrongFamilyIsUnresolvedNotProbed) {
  std::ostringstream sink;
  Logger log(sink, LogLevel::kError, LogFormat::kLogfmt);
  std::vector<targets::TargetSpec> specs{Spec("::1")};
  specs[0].family = config::Family::kIp4;
  std::vector<std::string> unresolved;
  std::vector<probe::TargetPlan> plans = BuildPlans(specs, {}, Series(), Shard{}, log, &unresolved);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_FALSE(plans[0].address);
  EXPECT_EQ(unresolved, std::vector<std::string>{"::1"});
}

}  // namespace
}  // namespace ping_exporter::planning
