#include "metrics/round_state.h"

#include <gtest/gtest.h>

#include <string>

namespace ping_exporter::metrics {
namespace {

TEST(RoundStateTest, ThreeStatesOfTheSeed) {
  EXPECT_EQ(StateOf(3, 3), RoundState::kAlive);
  EXPECT_EQ(StateOf(3, 1), RoundState::kPartial);
  EXPECT_EQ(StateOf(3, 0), RoundState::kNoResponse);
  // Nothing sent is no response, never alive.
  EXPECT_EQ(StateOf(0, 0), RoundState::kNoResponse);
}

TEST(RoundStateTest, NamesAreTheStatusLabelValues) {
  ASSERT_EQ(kRoundStates.size(), 3u);
  EXPECT_EQ(std::string(StateName(kRoundStates[0])), "alive");
  EXPECT_EQ(std::string(StateName(kRoundStates[1])), "partial");
  EXPECT_EQ(std::string(StateName(kRoundStates[2])), "no_response");
  // The history stores states as their position in kRoundStates.
  for (size_t i = 0; i < kRoundStates.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kRoundStates[i]), i);
  }
}

TEST(RoundStateTest, LossRatioStaysWithinZeroAndOne) {
  EXPECT_DOUBLE_EQ(LossRatio(4, 4), 0.0);
  EXPECT_DOUBLE_EQ(LossRatio(4, 1), 0.75);
  EXPECT_DOUBLE_EQ(LossRatio(4, 0), 1.0);
  EXPECT_DOUBLE_EQ(LossRatio(0, 0), 1.0);  // nothing sent: everything lost
  EXPECT_DOUBLE_EQ(LossRatio(2, 5), 0.0);  // more replies than requests cannot go below 0
}

}  // namespace
}  // namespace ping_exporter::metrics
