#pragma once
// The seed's three states of a round and its loss ratio, computed here and
// nowhere else: the metrics, the status page, its history, the prober's log
// and the `probe` command all agree by construction.

#include <algorithm>
#include <array>
#include <cstdint>

namespace ping_exporter::metrics {

/// The values are the states' positions in kRoundStates (the history keeps them as ints).
enum class RoundState : uint8_t { kAlive, kPartial, kNoResponse };
inline constexpr std::array<RoundState, 3> kRoundStates = {RoundState::kAlive, RoundState::kPartial,
                                                           RoundState::kNoResponse};

/// alive: every request answered; partial: some; no_response: none, or nothing sent.
constexpr RoundState StateOf(uint32_t sent, uint32_t received) {
  if (sent > 0 && received >= sent) return RoundState::kAlive;
  return received > 0 ? RoundState::kPartial : RoundState::kNoResponse;
}

/// "alive", "partial", "no_response": the label values of family::kStatus.
constexpr const char* StateName(RoundState state) {
  switch (state) {
    case RoundState::kAlive:
      return "alive";
    case RoundState::kPartial:
      return "partial";
    case RoundState::kNoResponse:
      break;
  }
  return "no_response";
}

/// Fraction of `sent` requests without a valid reply, 0..1; 1 when nothing
/// was sent (a round that could not send lost everything).
constexpr double LossRatio(uint32_t sent, uint32_t received) {
  if (sent == 0) return 1.0;
  return 1.0 - static_cast<double>(std::min(received, sent)) / sent;
}

}  // namespace ping_exporter::metrics
