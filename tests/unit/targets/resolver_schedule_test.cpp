// NameSchedule: when names are looked up, back-off, the in-flight bound, what counts as a change.
// Time is passed in, so every case is exact.

#include "targets/resolver_schedule.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ping_exporter::targets {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime() + std::chrono::hours(1);

NameRequest Name(const std::string& host, Duration interval = minutes(5)) {
  NameRequest n;
  n.host = host;
  n.interval = interval;
  n.timeout = seconds(2);
  return n;
}

Addresses Ips(std::initializer_list<const char*> texts) {
  Addresses out;
  for (const char* t : texts) out.push_back(*IpAddress::Parse(t));
  return out;
}

LookupResult Failed(const std::string& why) { return MakeUnexpected(why); }

TEST(NameScheduleTest, NewNamesAreDueAtOnceThenEveryInterval) {
  NameSchedule s(8);
  EXPECT_EQ(s.NextDue(), SteadyTime::max());
  s.Track({Name("a.test", seconds(30))}, kT0);
  EXPECT_EQ(s.NextDue(), kT0);
  std::vector<LookupStart> due = s.TakeDue(kT0);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].host, "a.test");
  EXPECT_EQ(due[0].timeout, seconds(2));
  EXPECT_TRUE(s.TakeDue(kT0).empty());  // in flight: not due twice
  EXPECT_EQ(s.NextDue(), SteadyTime::max());

  auto change = s.Finish(due[0].id, Ips({"198.18.0.1"}), kT0 + seconds(1));
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->addresses_changed());  // a first answer is a change
  EXPECT_TRUE(change->before.empty());
  EXPECT_FALSE(change->started_failing);
  EXPECT_EQ(s.AddressesOf("a.test", config::Family::kAny), Ips({"198.18.0.1"}));
  EXPECT_TRUE(s.AddressesOf("a.test", config::Family::kIp4).empty());  // keyed by family too
  EXPECT_EQ(s.NextDue(), kT0 + seconds(31));
  EXPECT_TRUE(s.TakeDue(kT0 + seconds(30)).empty());

  // The same answer again is no change.
  due = s.TakeDue(kT0 + seconds(31));
  ASSERT_EQ(due.size(), 1u);
  change = s.Finish(due[0].id, Ips({"198.18.0.1"}), kT0 + seconds(31));
  ASSERT_TRUE(change);
  EXPECT_FALSE(change->addresses_changed());
  // A moved address is.
  due = s.TakeDue(kT0 + seconds(61));
  ASSERT_EQ(due.size(), 1u);
  change = s.Finish(due[0].id, Ips({"198.18.0.2", "198.18.0.3"}), kT0 + seconds(61));
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->addresses_changed());
  EXPECT_EQ(change->before, Ips({"198.18.0.1"}));
  // Round-robin DNS rotating the same records is not: the order in use stays.
  due = s.TakeDue(kT0 + seconds(91));
  ASSERT_EQ(due.size(), 1u);
  change = s.Finish(due[0].id, Ips({"198.18.0.3", "198.18.0.2"}), kT0 + seconds(91));
  ASSERT_TRUE(change);
  EXPECT_FALSE(change->addresses_changed());
  EXPECT_EQ(s.AddressesOf("a.test", config::Family::kAny), Ips({"198.18.0.2", "198.18.0.3"}));
}

TEST(NameScheduleTest, FailuresBackOffAndKeepTheLastGoodAddresses) {
  EXPECT_EQ(NameSchedule::RetryDelay(1, minutes(5)), seconds(1));
  EXPECT_EQ(NameSchedule::RetryDelay(2, minutes(5)), seconds(2));
  EXPECT_EQ(NameSchedule::RetryDelay(5, minutes(5)), seconds(16));
  EXPECT_EQ(NameSchedule::RetryDelay(9, minutes(5)), seconds(256));
  EXPECT_EQ(NameSchedule::RetryDelay(10, minutes(5)), minutes(5));   // capped by the interval
  EXPECT_EQ(NameSchedule::RetryDelay(500, minutes(5)), minutes(5));  // no overflow
  EXPECT_EQ(NameSchedule::RetryDelay(3, milliseconds(500)), milliseconds(500));

  NameSchedule s(8);
  s.Track({Name("a.test")}, kT0);
  auto change = s.Finish(s.TakeDue(kT0)[0].id, Ips({"198.18.0.1", "198.18.0.2"}), kT0);
  ASSERT_TRUE(change);

  SteadyTime t = kT0 + minutes(5);
  change = s.Finish(s.TakeDue(t)[0].id, Failed("Timeout while contacting DNS servers"), t);
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->started_failing);
  EXPECT_FALSE(change->addresses_changed());
  EXPECT_EQ(change->state.error, "Timeout while contacting DNS servers");
  EXPECT_EQ(change->state.failures, 1u);
  EXPECT_EQ(change->state.failing_since, t);
  EXPECT_EQ(s.AddressesOf("a.test", config::Family::kAny), Ips({"198.18.0.1", "198.18.0.2"}));
  EXPECT_EQ(s.NextDue(), t + seconds(1));

  t += seconds(1);
  change = s.Finish(s.TakeDue(t)[0].id, Failed("again"), t);
  ASSERT_TRUE(change);
  EXPECT_FALSE(change->started_failing);  // logged once, not every retry
  EXPECT_EQ(change->state.failures, 2u);
  EXPECT_EQ(change->state.failing_since, t - seconds(1));  // since the first failure
  EXPECT_EQ(s.NextDue(), t + seconds(2));

  // An empty answer is a failure too.
  t += seconds(2);
  change = s.Finish(s.TakeDue(t)[0].id, Addresses{}, t);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->state.error, "no addresses");
  EXPECT_EQ(change->state.failures, 3u);

  t += seconds(4);
  change = s.Finish(s.TakeDue(t)[0].id, Ips({"198.18.0.1", "198.18.0.2"}), t);
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->recovered);
  EXPECT_FALSE(change->addresses_changed());
  EXPECT_EQ(change->state.error, "");
  EXPECT_EQ(change->state.failures, 3u);  // a counter: it never goes back
  EXPECT_FALSE(change->state.failing_since);
  EXPECT_EQ(s.NextDue(), t + minutes(5));  // back on its interval

  // The back-off starts over after a success.
  t += minutes(5);
  ASSERT_TRUE(s.Finish(s.TakeDue(t)[0].id, Failed("x"), t));
  EXPECT_EQ(s.NextDue(), t + seconds(1));
}

TEST(NameScheduleTest, AtMostMaxInFlightEarliestFirst) {
  NameSchedule s(2);
  s.Track({Name("a.test"), Name("b.test"), Name("c.test"), Name("d.test")}, kT0);
  std::vector<LookupStart> first = s.TakeDue(kT0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(s.in_flight(), 2u);
  EXPECT_EQ(s.NextDue(), SteadyTime::max());  // full: nothing can start
  EXPECT_TRUE(s.TakeDue(kT0 + seconds(1)).empty());

  ASSERT_TRUE(s.Finish(first[0].id, Failed("x"), kT0 + seconds(1)));
  EXPECT_EQ(s.NextDue(), kT0);  // the waiting names are overdue
  std::vector<LookupStart> next = s.TakeDue(kT0 + seconds(1));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0].host, first[0].host);
  EXPECT_NE(next[0].host, first[1].host);
}

TEST(NameScheduleTest, ForgottenNamesIgnoreLateAnswersButHoldTheirSlot) {
  NameSchedule s(1);
  s.Track({Name("a.test"), Name("b.test")}, kT0);
  std::vector<LookupStart> a = s.TakeDue(kT0);
  ASSERT_EQ(a.size(), 1u);
  s.Track({Name("b.test")}, kT0);  // a.test dropped while its lookup runs
  EXPECT_EQ(s.States().size(), 1u);
  EXPECT_TRUE(s.TakeDue(kT0).empty());  // the abandoned lookup still runs: the bound holds
  EXPECT_FALSE(s.Finish(a[0].id, Ips({"198.18.0.1"}), kT0));
  EXPECT_TRUE(s.AddressesOf(a[0].host, config::Family::kAny).empty());
  EXPECT_FALSE(s.Finish(a[0].id, Ips({"198.18.0.1"}), kT0));  // unknown id: ignored
  ASSERT_EQ(s.TakeDue(kT0).size(), 1u);
}

TEST(NameScheduleTest, KeptNamesKeepTheirAnswersAndAShorterIntervalTakesEffect) {
  NameSchedule s(8);
  s.Track({Name("a.test", minutes(5))}, kT0);
  ASSERT_TRUE(s.Finish(s.TakeDue(kT0)[0].id, Ips({"198.18.0.1"}), kT0));
  s.Track({Name("a.test", seconds(10)), Name("b.test")}, kT0 + seconds(1));
  EXPECT_EQ(s.AddressesOf("a.test", config::Family::kAny), Ips({"198.18.0.1"}));
  std::vector<LookupStart> due = s.TakeDue(kT0 + seconds(1));
  ASSERT_EQ(due.size(), 1u);  // only the new name
  EXPECT_EQ(due[0].host, "b.test");
  due = s.TakeDue(kT0 + seconds(11));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].host, "a.test");

  // The same host with another family is another name.
  s.Track({Name("a.test")}, kT0 + seconds(12));
  NameRequest v6 = Name("a.test");
  v6.family = config::Family::kIp6;
  s.Track({v6}, kT0 + seconds(12));
  std::vector<NameState> states = s.States();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].family, config::Family::kIp6);
  EXPECT_TRUE(states[0].addresses.empty());
}

}  // namespace
}  // namespace ping_exporter::targets
