// BuildPlans: history follows name + labels + address index across reloads; group data shared;
// names take the resolver's latest answer and are probed unresolved until there is one.
// Engine: answers arriving after Apply() come into use without a reload, batched.

#include "planning/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util/fake_lookup.h"
#include "test_util/text.h"

namespace ping_exporter::planning {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// No name has an answer: literals only.
targets::Addresses NoAnswers(const targets::TargetSpec&) { return {}; }

SeriesOptionsOf Series() {
  auto options = std::make_shared<const metrics::SeriesOptions>();
  return [options](const config::ProbeOptions&) { return options; };
}

PlanContext Context(bool group_label = false) {
  PlanContext c;
  c.series = Series();
  c.group_label = group_label;
  return c;
}

targets::TargetSpec Spec(const std::string& host, std::shared_ptr<const config::Labels> labels =
                                                      std::make_shared<const config::Labels>()) {
  targets::TargetSpec s;
  s.host = host;
  s.labels = std::move(labels);
  return s;
}

// Default series options for every group, as a configuration without metrics keys makes them.
TEST(EngineTest, UnchangedTargetsKeepTheirEntryAndGroupDataIsShared) {
  config::SharedProbeOptions options(config::ProbeOptions{});
  auto labels = std::make_shared<const config::Labels>(config::Labels{{"site", "a"}});
  std::vector<targets::TargetSpec> specs;
  for (const char* h : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    specs.push_back(Spec(h, labels));
    specs.back().options = options;
  }
  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, Context(), NoAnswers);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].options.get(), first[2].options.get());
  EXPECT_EQ(first[0].entry.info->labels.size(), 1u);
  EXPECT_EQ(first[1].entry.info->label_text,
            "target=\"127.0.0.2\",address=\"127.0.0.2\",site=\"a\"");

  // Same specs again (a reload with new group objects): same entries, not just equal ones.
  auto labels2 = std::make_shared<const config::Labels>(config::Labels{{"site", "a"}});
  for (auto& s : specs) s.labels = labels2;
  std::vector<probe::TargetPlan> second = BuildPlans(specs, first, Context(), NoAnswers);
  ASSERT_EQ(second.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second[i].entry.info, first[i].entry.info) << i;
    EXPECT_EQ(second[i].entry.stats, first[i].entry.stats) << i;
  }

  // Changed labels: a new target with fresh stats; a new host: fresh too.
  specs[0].labels = std::make_shared<const config::Labels>(config::Labels{{"site", "b"}});
  specs[2] = Spec("127.0.0.9", labels2);
  std::vector<probe::TargetPlan> third = BuildPlans(specs, second, Context(), NoAnswers);
  ASSERT_EQ(third.size(), 3u);
  EXPECT_NE(third[0].entry.stats, second[0].entry.stats);
  EXPECT_EQ(third[1].entry.stats, second[1].entry.stats);
  EXPECT_NE(third[2].entry.stats, second[2].entry.stats);
  EXPECT_EQ(third[2].entry.info->address, "127.0.0.9");
}

TEST(EngineTest, GroupLabelComesFromTheSourceAndCanBeTurnedOff) {
  std::vector<targets::TargetSpec> specs{Spec("127.0.0.1"), Spec("::1")};
  specs[0].source = "core";
  specs[1].source = "edge";
  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, Context(true), NoAnswers);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].entry.info->label_text,
            "target=\"127.0.0.1\",address=\"127.0.0.1\",group=\"core\"");
  EXPECT_EQ(first[1].entry.info->group, "edge");

  // A host moved to another group keeps its history under a new identity.
  specs[1].source = "core";
  std::vector<probe::TargetPlan> moved = BuildPlans(specs, first, Context(true), NoAnswers);
  EXPECT_EQ(moved[0].entry.info, first[0].entry.info);
  EXPECT_NE(moved[1].entry.info, first[1].entry.info);
  EXPECT_EQ(moved[1].entry.info->group, "core");
  EXPECT_EQ(moved[1].entry.stats, first[1].entry.stats);

  // Opted out: no group label, history kept.
  std::vector<probe::TargetPlan> off = BuildPlans(specs, moved, Context(), NoAnswers);
  EXPECT_EQ(off[0].entry.info->label_text, "target=\"127.0.0.1\",address=\"127.0.0.1\"");
  EXPECT_EQ(off[0].entry.stats, moved[0].entry.stats);
}

TEST(EngineTest, LiteralOfTheWrongFamilyIsUnresolvedNotProbed) {
  std::vector<targets::TargetSpec> specs{Spec("::1")};
  specs[0].family = config::Family::kIp4;
  std::vector<targets::NameRequest> names;
  std::vector<probe::TargetPlan> plans = BuildPlans(specs, {}, Context(), NoAnswers, &names);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_FALSE(plans[0].address);
  // Handed to the resolver service, which reports it as a resolve error.
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].host, "::1");
  EXPECT_EQ(names[0].family, config::Family::kIp4);
}

TEST(EngineTest, NamesTakeTheLatestAnswerAndMovedAddressesKeepTheirStats) {
  config::ProbeOptions po;
  po.resolve_interval = seconds(30);
  po.resolve_timeout = milliseconds(700);
  std::vector<targets::TargetSpec> specs{Spec("127.0.0.1"), Spec("multi.test"), Spec("one.test")};
  for (auto& s : specs) s.options = po;
  specs[1].all_addresses = true;
  std::map<std::string, targets::Addresses> answers;
  auto known = [&](const targets::TargetSpec& s) { return answers[s.host]; };

  // Nothing known yet: one unresolved plan per name, and both names go to the resolver.
  std::vector<targets::NameRequest> names;
  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, Context(), known, &names);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].address, IpAddress::Parse("127.0.0.1"));
  EXPECT_FALSE(first[1].address);
  EXPECT_FALSE(first[2].address);
  EXPECT_EQ(first[1].entry.info->address, "");
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].host, "multi.test");
  EXPECT_EQ(names[0].interval, seconds(30));
  EXPECT_EQ(names[0].timeout, milliseconds(700));

  // Answers: all_addresses gives one plan per address; the first address keeps the stats the
  // unresolved plan had, under a new identity.
  answers["multi.test"] = {*IpAddress::Parse("127.0.0.2"), *IpAddress::Parse("::1")};
  answers["one.test"] = {*IpAddress::Parse("127.0.0.3"), *IpAddress::Parse("127.0.0.4")};
  std::vector<probe::TargetPlan> second = BuildPlans(specs, first, Context(), known);
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[0].entry.info, first[0].entry.info);
  EXPECT_EQ(second[1].entry.info->address, "127.0.0.2");
  EXPECT_EQ(second[1].entry.stats, first[1].entry.stats);
  EXPECT_EQ(second[2].entry.info->address, "::1");
  EXPECT_NE(second[2].entry.stats, first[1].entry.stats);
  EXPECT_EQ(second[3].entry.info->address, "127.0.0.3");  // only the first without all_addresses
  EXPECT_EQ(second[3].entry.stats, first[2].entry.stats);

  // one.test moves: same stats, new address label; multi.test unchanged: same entries.
  answers["one.test"] = {*IpAddress::Parse("127.0.0.5")};
  std::vector<probe::TargetPlan> third = BuildPlans(specs, second, Context(), known);
  ASSERT_EQ(third.size(), 4u);
  EXPECT_EQ(third[1].entry.info, second[1].entry.info);
  EXPECT_EQ(third[2].entry.info, second[2].entry.info);
  EXPECT_EQ(third[3].entry.info->address, "127.0.0.5");
  EXPECT_EQ(third[3].entry.stats, second[3].entry.stats);
  EXPECT_EQ(third[3].entry.info->label_text, "target=\"one.test\",address=\"127.0.0.5\"");
}

TEST(EngineTest, SourceNameLabelsEveryTargetAfterItsGroup) {
  std::vector<targets::TargetSpec> specs{Spec("127.0.0.1"), Spec("peers.test")};
  specs[0].source = "core";
  specs[1].source = "mesh";
  auto known = [](const targets::TargetSpec&) {
    return targets::Addresses{*IpAddress::Parse("127.0.0.2")};
  };
  PlanContext context = Context(true);
  context.source_name = "node-\"a\"";
  std::vector<probe::TargetPlan> plans = BuildPlans(specs, {}, context, known);
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].entry.info->source, "node-\"a\"");
  EXPECT_EQ(plans[0].entry.info->label_text,
            "target=\"127.0.0.1\",address=\"127.0.0.1\",group=\"core\",source=\"node-\\\"a\\\"\"");
  EXPECT_EQ(plans[1].entry.info->label_text,
            "target=\"peers.test\",address=\"127.0.0.2\",group=\"mesh\",source=\"node-\\\"a\\\"\"");
  // Unchanged on the next plan: same entries.
  std::vector<probe::TargetPlan> again = BuildPlans(specs, plans, context, known);
  EXPECT_EQ(again[1].entry.info, plans[1].entry.info);
  // Empty: no source label at all.
  std::vector<probe::TargetPlan> none = BuildPlans(specs, {}, Context(), known);
  EXPECT_EQ(none[0].entry.info->label_text, "target=\"127.0.0.1\",address=\"127.0.0.1\"");
}

TEST(EngineTest, ExcludeLocalDropsThisMachinesAddresses) {
  std::vector<targets::TargetSpec> specs{Spec("127.0.0.1"), Spec("127.0.0.9"), Spec("peers.test"),
                                         Spec("self.test"), Spec("single.test")};
  for (auto& s : specs) s.exclude_local = true;
  specs[2].all_addresses = true;
  std::map<std::string, targets::Addresses> answers;
  answers["peers.test"] = {*IpAddress::Parse("127.0.0.2"), *IpAddress::Parse("127.0.0.1"),
                           *IpAddress::Parse("::1"), *IpAddress::Parse("127.0.0.3")};
  answers["self.test"] = {*IpAddress::Parse("127.0.0.1")};
  answers["single.test"] = {*IpAddress::Parse("::1"), *IpAddress::Parse("127.0.0.4"),
                            *IpAddress::Parse("127.0.0.5")};
  auto known = [&](const targets::TargetSpec& s) { return answers[s.host]; };
  PlanContext context = Context();
  context.local_addresses = {*IpAddress::Parse("127.0.0.1"), *IpAddress::Parse("::1")};

  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, context, known);
  std::vector<std::string> got;
  for (const auto& p : first) got.push_back(p.entry.info->name + " " + p.entry.info->address);
  // A local literal and a name that only resolves to this machine have no plan at all; a
  // single-address name probes its first address that is not local.
  EXPECT_EQ(got, (std::vector<std::string>{"127.0.0.9 127.0.0.9", "peers.test 127.0.0.2",
                                           "peers.test 127.0.0.3", "single.test 127.0.0.4"}));

  // Re-resolved: this machine now has 127.0.0.2 too, and a new peer joined.
  answers["peers.test"].push_back(*IpAddress::Parse("127.0.0.6"));
  context.local_addresses.push_back(*IpAddress::Parse("127.0.0.2"));
  std::vector<probe::TargetPlan> second = BuildPlans(specs, first, context, known);
  got.clear();
  for (const auto& p : second) got.push_back(p.entry.info->name + " " + p.entry.info->address);
  EXPECT_EQ(got, (std::vector<std::string>{"127.0.0.9 127.0.0.9", "peers.test 127.0.0.3",
                                           "peers.test 127.0.0.6", "single.test 127.0.0.4"}));

  // Without exclude_local every address is probed.
  for (auto& s : specs) s.exclude_local = false;
  EXPECT_EQ(BuildPlans(specs, {}, context, known).size(), 2u + 5u + 1u + 1u);
}

TEST(EngineTest, PeersJoiningAndLeavingKeepTheirOwnHistory) {
  std::vector<targets::TargetSpec> specs{Spec("peers.test")};
  specs[0].all_addresses = true;
  auto a = *IpAddress::Parse("127.0.0.1"), b = *IpAddress::Parse("127.0.0.2"),
       c = *IpAddress::Parse("127.0.0.3"), d = *IpAddress::Parse("127.0.0.4");
  targets::Addresses answer{a, b, c};
  auto known = [&](const targets::TargetSpec&) { return answer; };
  std::vector<probe::TargetPlan> first = BuildPlans(specs, {}, Context(), known);
  ASSERT_EQ(first.size(), 3u);

  // b leaves: c keeps its own counters, not b's (which sat at c's new position).
  answer = {a, c};
  std::vector<probe::TargetPlan> second = BuildPlans(specs, first, Context(), known);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].entry.info, first[0].entry.info);
  EXPECT_EQ(second[1].entry.info, first[2].entry.info);

  // d joins in front and b comes back: both new; a and c keep theirs.
  answer = {d, a, b, c};
  std::vector<probe::TargetPlan> third = BuildPlans(specs, second, Context(), known);
  ASSERT_EQ(third.size(), 4u);
  EXPECT_EQ(third[1].entry.stats, first[0].entry.stats);
  EXPECT_EQ(third[3].entry.stats, first[2].entry.stats);
  EXPECT_NE(third[0].entry.stats, first[0].entry.stats);
  EXPECT_NE(third[2].entry.stats, first[1].entry.stats);
  EXPECT_NE(third[0].entry.stats, third[2].entry.stats);

  // A repeated address in an answer is probed once.
  answer = {a, a, c};
  EXPECT_EQ(BuildPlans(specs, third, Context(), known).size(), 2u);
}

// Polls `pred` every 20 ms until it holds or `limit` passes.
template <typename Pred>
bool WaitFor(Pred pred, Duration limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

using test_util::CountOf;

TEST(EngineTest, AnswersComeIntoUseWithoutAReloadInOneBatch) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  auto dns = std::make_shared<test_util::FakeDns>();
  EngineOptions options{icmp::SocketKind::kRaw, 1, Shard{},
                        std::make_unique<test_util::FakeLookup>(dns)};
  config::Config c;
  config::TargetGroup g;
  g.options.interval = milliseconds(200);
  g.options.timeout = milliseconds(100);
  g.options.count = 1;
  g.hosts.push_back("127.0.0.1");
  for (int i = 1; i <= 50; ++i) g.hosts.push_back("n" + std::to_string(i) + ".test");
  c.groups.push_back(g);

  Engine engine(std::move(options), log);
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine.Apply(c));
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(500));  // waited for none
  EXPECT_EQ(engine.target_count(), 51u);
  ASSERT_TRUE(dns->WaitStarted(50, seconds(5)));
  // Unresolved targets complete rounds too (ping_up 0, send_errors{reason="resolve"}).
  ASSERT_TRUE(WaitFor([&] { return engine.rounds_completed() >= 2 * 51; }, seconds(5)));

  // Answers trickle in one by one.
  for (int i = 1; i <= 50; ++i) {
    dns->Answer("n" + std::to_string(i) + ".test",
                targets::Addresses{*IpAddress::Parse("127.0.1." + std::to_string(i))});
  }
  auto all_resolved = [&] {
    auto list = engine.store().Current();
    return std::all_of(list->begin(), list->end(),
                       [](const metrics::TargetEntry& e) { return !e.info->address.empty(); });
  };
  ASSERT_TRUE(WaitFor(all_resolved, seconds(5)));
  engine.Stop();
  EXPECT_EQ(CountOf(logs.str(), "targets changed, restarting probes"), 1u) << logs.str();
  metrics::TargetSnapshot s;
  for (const metrics::TargetEntry& e : *engine.store().Current()) {
    if (e.info->name == "127.0.0.1") continue;
    EXPECT_EQ(e.info->address.rfind("127.0.1.", 0), 0u) << e.info->name;
    e.stats->Read(&s);
    // History from the unresolved rounds is kept under the resolved address.
    EXPECT_GT(s.send_errors[static_cast<size_t>(metrics::SendError::kResolve)], 0u) << e.info->name;
  }
}

}  // namespace
}  // namespace ping_exporter::planning
