#pragma once
// A NameLookup for tests: answers from a table the test fills; a name not in the table never
// answers, like a dead nameserver. No lookup ever leaves the process.

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "targets/resolver_service.h"

namespace ping_exporter::test_util {

/// What the test and the fake share; the test keeps it after handing the fake to a service.
/// Thread-safe.
class FakeDns {
 public:
  /// Sets `host`'s answer; lookups of it waiting for one get it now.
  void Answer(const std::string& host, targets::LookupResult result) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.insert_or_assign(host, result);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second == host) {
        ready_.push_back({it->first, result});
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    cv_.notify_all();
  }
  /// Lookups started so far (each name once per lookup), and the most ever unanswered at once.
  size_t started() const {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  size_t max_pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_pending_;
  }
  /// Waits (at most `limit`) until at least `n` lookups were started.
  bool WaitStarted(size_t n, Duration limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return started_ >= n; });
  }

 private:
  friend class FakeLookup;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, targets::LookupResult> answers_;
  std::map<uint64_t, std::string> pending_;  // started, unanswered
  std::vector<targets::NameLookup::Finished> ready_;
  size_t started_ = 0;
  size_t max_pending_ = 0;
  bool woken_ = false;
};

class FakeLookup final : public targets::NameLookup {
 public:
  explicit FakeLookup(std::shared_ptr<FakeDns> dns) : dns_(std::move(dns)) {}

  void Start(uint64_t id, const std::string& host, config::Family, Duration) override {
    std::lock_guard<std::mutex> lock(dns_->mu_);
    ++dns_->started_;
    auto it = dns_->answers_.find(host);
    if (it != dns_->answers_.end()) {
      dns_->ready_.push_back({id, it->second});
    } else {
      dns_->pending_.emplace(id, host);
      dns_->max_pending_ = std::max(dns_->max_pending_, dns_->pending_.size());
    }
    dns_->cv_.notify_all();
  }

  std::vector<Finished> Wait(targets::SteadyTime until) override {
    std::unique_lock<std::mutex> lock(dns_->mu_);
    auto ready = [&] { return !dns_->ready_.empty() || dns_->woken_; };
    if (until == targets::SteadyTime::max()) {
      dns_->cv_.wait(lock, ready);
    } else {
      dns_->cv_.wait_until(lock, until, ready);
    }
    dns_->woken_ = false;
    return std::exchange(dns_->ready_, {});
  }

  void Wake() override {
    std::lock_guard<std::mutex> lock(dns_->mu_);
    dns_->woken_ = true;
    dns_->cv_.notify_all();
  }

 private:
  std::shared_ptr<FakeDns> dns_;
};

}  // namespace ping_exporter::test_util
