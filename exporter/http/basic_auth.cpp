#include "http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>

#include <array>
#include <cctype>
#include <condition_variable>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "common/text.h"

namespace ping_exporter::http {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

void AppendField(std::string& out, std::string_view field) {
  // Length-prefixed, so ("ab", "c") and ("a", "bc") never collide.
  uint64_t n = field.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(field);
}

std::string CacheKey(std::string_view user, std::string_view password, std::string_view hash) {
  std::string input;
  AppendField(input, user);
  AppendField(input, password);
  AppendField(input, hash);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    len = 0;  // no key: the caller then simply does not cache
  }
  OPENSSL_cleanse(input.data(), input.size());
  return std::string(reinterpret_cast<const char*>(digest.data()), len);
}

// One run's inputs and result, shared by the caller and the bcrypt thread.
struct BcryptJob {
  BcryptJob(std::string_view p, std::string h) : password(p), hash(std::move(h)) {}
  BcryptJob(const BcryptJob&) = delete;
  BcryptJob& operator=(const BcryptJob&) = delete;
  ~BcryptJob() { OPENSSL_cleanse(password.data(), password.size()); }
  std::string password;
  const std::string hash;
  bool done = false;   // guarded by Runs::mu
  bool match = false;  // guarded by Runs::mu
};

}  // namespace

struct BasicAuth::Runs {
  std::mutex bcrypt_mu;              // one bcrypt run at a time
  std::mutex mu;                     // guards `abandoned` and every job's result
  std::condition_variable finished;  // a run finished, or Abandon()
  bool abandoned = false;
};

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + static_cast<size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = Base64Value(c);
      if (v[j] < 0) return std::nullopt;
    }
    uint32_t triple = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                      (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((triple >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((triple >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(triple & 0xff));
  }
  return out;
}

bool VerifyBcrypt(std::string_view password, const std::string& hash) {
  // A NUL would silently truncate the C string crypt sees.
  if (password.find('\0') != std::string_view::npos) return false;
  std::string phrase(password);
  // crypt_data is ~32 KiB: keep it off the worker's stack. Value-initialised, as
  // crypt_rn requires on first use.
  auto data = std::make_unique<crypt_data>();
  const char* computed = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  bool ok = false;
  if (computed != nullptr) {
    std::string_view result(computed);
    ok =
        result.size() == hash.size() && CRYPTO_memcmp(result.data(), hash.data(), hash.size()) == 0;
  }
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users, Duration cache_ttl,
                     size_t cache_capacity)
    : users_(std::move(users)),
      cache_ttl_(cache_ttl),
      cache_capacity_(cache_capacity),
      runs_(std::make_shared<Runs>()) {}

BasicAuth::~BasicAuth() { Abandon(); }

void BasicAuth::Abandon() {
  std::lock_guard<std::mutex> lock(runs_->mu);
  runs_->abandoned = true;
  runs_->finished.notify_all();
}

std::optional<bool> BasicAuth::RunBcrypt(std::string_view password, const std::string& hash) {
  auto job = std::make_shared<BcryptJob>(password, hash);
  {
    std::lock_guard<std::mutex> lock(runs_->mu);
    if (runs_->abandoned) return std::nullopt;
  }
  try {
    // Detached: a run cannot be interrupted (a high cost takes seconds), and a stopping
    // server must not wait for it. It owns what it uses, so it may outlive this object.
    std::thread([runs = runs_, job] {
      pthread_setname_np(pthread_self(), "bcrypt");
      bool match = false;
      {
        std::lock_guard<std::mutex> turn(runs->bcrypt_mu);
        bool abandoned = false;
        {
          std::lock_guard<std::mutex> lock(runs->mu);
          abandoned = runs->abandoned;
        }
        if (!abandoned) match = VerifyBcrypt(job->password, job->hash);
      }
      std::lock_guard<std::mutex> lock(runs->mu);
      job->match = match;
      job->done = true;
      runs->finished.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    return false;  // no thread to check on (out of threads): refuse, the client may retry
  }
  std::unique_lock<std::mutex> lock(runs_->mu);
  runs_->finished.wait(lock, [&] { return job->done || runs_->abandoned; });
  if (!job->done) return std::nullopt;
  return job->match;
}

uint64_t BasicAuth::bcrypt_runs() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return bcrypt_runs_;
}

std::optional<std::string> BasicAuth::Check(std::string_view authorization, Clock::time_point now) {
  if (users_.empty()) return std::nullopt;
  std::string_view value = Trim(authorization);
  constexpr std::string_view kScheme = "basic";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::nullopt;
  }
  if (value[kScheme.size()] != ' ') return std::nullopt;
  std::optional<std::string> decoded = Base64Decode(Trim(value.substr(kScheme.size())));
  if (!decoded.has_value()) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) {
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return std::nullopt;
  }
  std::string user = decoded->substr(0, colon);
  std::string_view password = std::string_view(*decoded).substr(colon + 1);

  auto it = users_.find(user);
  bool known = it != users_.end();
  // An unknown user is checked against some real hash anyway, so the answer takes
  // as long as for a known user with a wrong password.
  const std::string& hash = known ? it->second : users_.begin()->second;
  std::string key = CacheKey(user, password, hash);

  bool ok = false;
  bool cached = false;
  if (known && !key.empty()) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto hit = cache_.find(key);
    if (hit != cache_.end()) {
      if (hit->second > now) {
        cached = true;
      } else {
        cache_.erase(hit);
      }
    }
  }
  if (cached) {
    ok = true;
  } else {
    std::optional<bool> match = RunBcrypt(password, hash);
    if (!match.has_value()) {  // abandoned
      OPENSSL_cleanse(decoded->data(), decoded->size());
      return std::nullopt;
    }
    ok = known && *match;
    std::lock_guard<std::mutex> lock(cache_mu_);
    ++bcrypt_runs_;
    if (ok && !key.empty() && cache_ttl_ > Duration::zero()) {
      if (cache_.size() >= cache_capacity_) {
        for (auto e = cache_.begin(); e != cache_.end();) {
          e = e->second <= now ? cache_.erase(e) : std::next(e);
        }
        if (cache_.size() >= cache_capacity_) cache_.clear();
      }
      cache_[key] = now + std::chrono::duration_cast<Clock::duration>(cache_ttl_);
    }
  }
  OPENSSL_cleanse(decoded->data(), decoded->size());
  if (!ok) return std::nullopt;
  return user;
}

}  // namespace ping_exporter::http
