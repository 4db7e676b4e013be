#pragma once
// HTTP Basic authentication against bcrypt hashes (exporter-toolkit's basic_auth_users).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
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
/// Each run happens on a short-lived thread named "bcrypt", created by the caller (so
/// with its priority) and detached: it cannot be interrupted, and Abandon() lets the
/// callers waiting for it go (a server stopping) while it finishes on its own copy of
/// the inputs. Never throws except std::bad_alloc.
class BasicAuth {
 public:
  using Clock = std::chrono::steady_clock;

  /// `users` must be non-empty and hold valid bcrypt hashes (see IsBcryptHash) with a
  /// cost the caller accepts (LoadWebConfig allows kMinBcryptCost..kMaxBcryptCost).
  explicit BasicAuth(std::map<std::string, std::string> users,
                     Duration cache_ttl = std::chrono::minutes(2), size_t cache_capacity = 1024);
  /// Abandon()s what is still running.
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  /// `authorization` is the raw header value, empty when absent. `now` decides cache
  /// expiry. Returns the authenticated user, or nullopt (also once abandoned).
  std::optional<std::string> Check(std::string_view authorization, Clock::time_point now);

  /// Makes every Check() waiting for bcrypt, and every later one that would need it,
  /// return nullopt at once; runs queued behind the current one are skipped.
  void Abandon();

  /// How many bcrypt computations ran so far (for tests and debugging).
  uint64_t bcrypt_runs() const;

  struct Runs;  // what the bcrypt threads share with the callers

 private:
  /// Whether `password` matches `hash`, computed on a bcrypt thread; nullopt if abandoned.
  std::optional<bool> RunBcrypt(std::string_view password, const std::string& hash);

  std::map<std::string, std::string> users_;
  Duration cache_ttl_;
  size_t cache_capacity_;
  std::shared_ptr<Runs> runs_;  // shared with bcrypt threads, which may outlive this
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
