#pragma once
// HTTP Basic authentication against bcrypt hashes (exporter-toolkit's basic_auth_users).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/duration.h"

namespace ping_exporter::http {

/// Checks `Authorization: Basic ...` values against a fixed user -> bcrypt-hash map.
/// Thread-safe. Successful checks are remembered for `cache_ttl`, keyed by a SHA-256
/// digest of user, password and hash (the password itself is never stored), so a
/// scraper pays the bcrypt cost about once per TTL instead of on every scrape.
/// bcrypt runs one at a time, which keeps a flood of bad passwords to one core.
/// An unknown user costs a bcrypt run too, so timing does not reveal user names.
/// Never throws except std::bad_alloc.
class BasicAuth {
 public:
  using Clock = std::chrono::steady_clock;

  /// `users` must be non-empty and hold valid bcrypt hashes (see IsBcryptHash).
  explicit BasicAuth(std::map<std::string, std::string> users,
                     Duration cache_ttl = std::chrono::minutes(2), size_t cache_capacity = 1024);
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  /// `authorization` is the raw header value, empty when absent. `now` decides cache
  /// expiry. Returns the authenticated user, or nullopt.
  std::optional<std::string> Check(std::string_view authorization, Clock::time_point now);

  /// How many bcrypt computations ran so far (for tests and debugging).
  uint64_t bcrypt_runs() const;

 private:
  std::map<std::string, std::string> users_;
  Duration cache_ttl_;
  size_t cache_capacity_;
  std::mutex bcrypt_mu_;  // serializes bcrypt runs
  mutable std::mutex cache_mu_;
  std::unordered_map<std::string, Clock::time_point> cache_;  // digest -> expiry
  uint64_t bcrypt_runs_ = 0;                                  // guarded by cache_mu_
};

/// Whether `password` matches the bcrypt `hash` ($2a$/$2b$/$2y$), comparing the
/// recomputed hash in constant time. Thread-safe; costs one bcrypt run.
bool VerifyBcrypt(std::string_view password, const std::string& hash);

/// Decodes standard base64 with padding (RFC 4648 section 4); nullopt if malformed.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace ping_exporter::http
