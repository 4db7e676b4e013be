#include "probe/round.h"

#include <gtest/gtest.h>

#include "metrics/round_state.h"

namespace ping_exporter::probe {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(RoundTest, AllRepliesCompleteTheRound) {
  Round r(3);
  r.Begin(100);
  for (int i = 0; i < 3; ++i) r.OnSent(i * 100 * kMs, true);
  EXPECT_TRUE(r.all_sent());
  Duration rtt{};
  EXPECT_EQ(r.OnReply(100, 5 * kMs, &rtt), Verdict::kCounted);
  EXPECT_EQ(rtt, Duration(5 * kMs));
  EXPECT_EQ(r.OnReply(101, 107 * kMs, &rtt), Verdict::kCounted);
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(r.OnReply(102, 209 * kMs, &rtt), Verdict::kCounted);
  EXPECT_TRUE(r.complete());
  RoundResult res;
  r.Finish(&res);
  EXPECT_EQ(res.sent, 3u);
  EXPECT_EQ(res.received, 3u);
  EXPECT_NEAR(res.rtt_min, 0.005, 1e-12);
  EXPECT_NEAR(res.rtt_max, 0.009, 1e-12);
  EXPECT_NEAR(res.rtt_avg, 0.007, 1e-12);
  EXPECT_NEAR(res.rtt_stddev, 0.0016329931618554523, 1e-9);
  EXPECT_EQ(metrics::StateOf(res.sent, res.received), metrics::RoundState::kAlive);
}

TEST(RoundTest, DuplicatesAndUnknownAreNotCounted) {
  Round r(2);
  r.Begin(7);
  r.OnSent(0, true);
  Duration rtt{};
  EXPECT_EQ(r.OnReply(7, kMs, &rtt), Verdict::kCounted);
  EXPECT_EQ(r.OnReply(7, 2 * kMs, &rtt), Verdict::kDuplicate);
  EXPECT_EQ(r.OnReply(8, 2 * kMs, &rtt), Verdict::kUnknown);  // not sent yet
  EXPECT_EQ(r.OnReply(500, 2 * kMs, &rtt), Verdict::kUnknown);
  EXPECT_EQ(r.received(), 1u);
}

TEST(RoundTest, RepliesAfterFinishAreLateThenDuplicate) {
  Round r(2);
  r.Begin(65535);  // sequence wraps inside the round
  r.OnSent(0, true);
  r.OnSent(kMs, true);
  Duration rtt{};
  EXPECT_EQ(r.OnReply(65535, kMs, &rtt), Verdict::kCounted);
  RoundResult res;
  r.Finish(&res);
  EXPECT_EQ(res.received, 1u);
  EXPECT_EQ(metrics::StateOf(res.sent, res.received), metrics::RoundState::kPartial);
  EXPECT_EQ(r.OnReply(0, 900 * kMs, &rtt), Verdict::kLate);
  EXPECT_EQ(r.OnReply(0, 901 * kMs, &rtt), Verdict::kDuplicate);
  EXPECT_EQ(r.OnReply(65535, 901 * kMs, &rtt), Verdict::kDuplicate);
  // The next round's requests are judged against the new round.
  r.Begin(1);
  r.OnSent(1000 * kMs, true);
  EXPECT_EQ(r.OnReply(1, 1001 * kMs, &rtt), Verdict::kCounted);
  EXPECT_EQ(r.OnReply(0, 1002 * kMs, &rtt), Verdict::kDuplicate);
}

TEST(RoundTest, RepliesRoundsLateAreLateAsFarAsTheHistoryReaches) {
  Round r(1);
  RoundResult res;
  for (uint16_t seq = 100; seq < 100 + 70; ++seq) {
    r.Begin(seq);
    r.OnSent(seq * 1000 * kMs, true);
    r.Finish(&res);
  }
  // The round of 169 is over; 170 - 64 = 106 is the oldest request still known.
  Duration rtt{};
  EXPECT_EQ(r.OnReply(167, 170'000 * kMs, &rtt), Verdict::kLate);
  EXPECT_EQ(r.OnReply(167, 170'001 * kMs, &rtt), Verdict::kDuplicate);
  EXPECT_EQ(r.OnReply(106, 170'002 * kMs, &rtt), Verdict::kLate);
  EXPECT_EQ(r.OnReply(105, 170'003 * kMs, &rtt), Verdict::kUnknown);
  EXPECT_TRUE(r.Sent(106));
  EXPECT_FALSE(r.Sent(105));
  // A new round keeps the window moving: 107 is now the oldest.
  r.Begin(170);
  r.OnSent(170'000 * kMs, true);
  r.Finish(&res);
  EXPECT_EQ(r.OnReply(106, 171'000 * kMs, &rtt), Verdict::kUnknown);
  EXPECT_EQ(r.OnReply(107, 171'000 * kMs, &rtt), Verdict::kLate);
}

TEST(RoundTest, NoReplyIsNoResponse) {
  Round r(2);
  r.Begin(1);
  r.OnSent(0, true);
  r.OnSent(0, true);
  RoundResult res;
  r.Finish(&res);
  EXPECT_EQ(res.received, 0u);
  EXPECT_EQ(res.rtt_avg, 0);
  EXPECT_EQ(metrics::StateOf(res.sent, res.received), metrics::RoundState::kNoResponse);
}

TEST(RoundTest, FailedSendCannotBeAnswered) {
  Round r(2);
  r.Begin(10);
  r.OnSent(0, true);
  r.MarkFailed(10);
  Duration rtt{};
  EXPECT_EQ(r.OnReply(10, kMs, &rtt), Verdict::kUnknown);
  EXPECT_EQ(r.received(), 0u);
}

TEST(RoundTest, KnowsWhichRequestsWentOutAndWhichFailed) {
  // ICMP errors are matched to requests this way when they carry no cookie.
  Round r(2);
  EXPECT_FALSE(r.Sent(10));
  r.Begin(10);
  r.OnSent(0, true);
  r.OnSent(0, false);
  EXPECT_TRUE(r.Sent(10));
  EXPECT_TRUE(r.Sent(11));
  EXPECT_FALSE(r.Sent(12));
  EXPECT_FALSE(r.SendFailed(10));
  EXPECT_TRUE(r.SendFailed(11));
  RoundResult out;
  r.Finish(&out);
  r.Begin(12);
  r.OnSent(0, true);
  // The previous round is still known; anything older is not.
  EXPECT_TRUE(r.Sent(11));
  EXPECT_TRUE(r.SendFailed(11));
  EXPECT_TRUE(r.Sent(12));
  EXPECT_FALSE(r.SendFailed(12));
  EXPECT_FALSE(r.Sent(9));
  EXPECT_FALSE(r.Sent(13));
}

TEST(RoundTest, SendTimeCorrectionMovesRtt) {
  Round r(1);
  r.Begin(3);
  r.OnSent(0, true);
  r.SetSendTime(3, 2 * kMs);
  Duration rtt{};
  EXPECT_EQ(r.OnReply(3, 5 * kMs, &rtt), Verdict::kCounted);
  EXPECT_EQ(rtt, Duration(3 * kMs));
}

TEST(RoundTest, SteppedClockNeverGivesNegativeRtt) {
  Round r(1);
  r.Begin(3);
  r.OnSent(10 * kMs, true);
  Duration rtt{};
  EXPECT_EQ(r.OnReply(3, 1 * kMs, &rtt), Verdict::kCounted);
  EXPECT_EQ(rtt, Duration(0));
}

TEST(RoundTest, ReplayOfAWrappedSequenceIsNotCounted) {
  Round r(1);
  r.Begin(9);
  r.OnSent(50 * kMs, true);
  Duration rtt{};
  // Same sequence, but the cookie says it was sent 65 536 requests ago.
  EXPECT_EQ(r.OnReply(9, 51 * kMs, 3 * kMs, &rtt), Verdict::kUnknown);
  EXPECT_EQ(r.received(), 0u);
  EXPECT_EQ(r.OnReply(9, 51 * kMs, 50 * kMs, &rtt), Verdict::kCounted);
}

TEST(RoundTest, CountIsClamped) {
  EXPECT_EQ(Round(0).count(), 1u);
  EXPECT_EQ(Round(1000).count(), Round::kMaxCount);
}

}  // namespace
}  // namespace ping_exporter::probe
