#include "targets/resolver.h"

#include <netdb.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace ping_exporter::targets {
namespace {

using Addresses = std::vector<IpAddress>;

std::optional<std::string> FamilyMismatch(const IpAddress& literal, config::Family family) {
  if (family == config::Family::kIp4 && !literal.is_v4()) {
    return std::string("IPv6 address with family ip4");
  }
  if (family == config::Family::kIp6 && literal.is_v4()) {
    return std::string("IPv4 address with family ip6");
  }
  return std::nullopt;
}

int AiFamily(config::Family family) {
  return family == config::Family::kIp4   ? AF_INET
         : family == config::Family::kIp6 ? AF_INET6
                                          : AF_UNSPEC;
}

// Blocking getaddrinfo(); every address in the order returned, without repeats.
Expected<Addresses, std::string> LookupAll(const std::string& name, int ai_family) {
  addrinfo hints{};
  hints.ai_family = ai_family;
  hints.ai_socktype = SOCK_RAW;  // one entry per address, not one per socket type
  addrinfo* raw = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(raw, freeaddrinfo);
  if (rc != 0) return MakeUnexpected(std::string(gai_strerror(rc)));
  Addresses out;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    std::optional<IpAddress> ip = IpAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
    if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  }
  if (out.empty()) return MakeUnexpected(std::string("no address of the requested family"));
  return out;
}

/// Shared by a caller and its helper thread, so whichever finishes last frees it.
struct PendingLookup {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  std::optional<Expected<Addresses, std::string>> result;
};

}  // namespace

Expected<IpAddress, std::string> Resolve(std::string_view host, config::Family family) {
  if (std::optional<IpAddress> literal = IpAddress::Parse(host)) {
    if (std::optional<std::string> bad = FamilyMismatch(*literal, family)) {
      return MakeUnexpected(std::move(*bad));
    }
    return *literal;
  }
  Expected<Addresses, std::string> all = LookupAll(std::string(host), AiFamily(family));
  if (!all) return MakeUnexpected(all.error());
  return all->front();
}

Expected<std::vector<IpAddress>, std::string> ResolveAll(std::string_view host,
                                                         config::Family family, Duration timeout) {
  if (std::optional<IpAddress> literal = IpAddress::Parse(host)) {
    if (std::optional<std::string> bad = FamilyMismatch(*literal, family)) {
      return MakeUnexpected(std::move(*bad));
    }
    return Addresses{*literal};
  }
  std::string timed_out = "lookup timed out after " + FormatDuration(timeout);
  if (timeout <= Duration::zero()) return MakeUnexpected(std::move(timed_out));

  auto pending = std::make_shared<PendingLookup>();
  try {
    std::thread([pending, name = std::string(host), ai_family = AiFamily(family)] {
      Expected<Addresses, std::string> r = LookupAll(name, ai_family);
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->result.emplace(std::move(r));
      pending->done = true;
      pending->done_cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return MakeUnexpected("cannot start a lookup thread: " + std::string(e.what()));
  }
  // Far beyond any real timeout; keeps steady_clock::now() + timeout from overflowing.
  Duration wait = std::min<Duration>(timeout, std::chrono::hours(24));
  std::unique_lock<std::mutex> lock(pending->mu);
  if (!pending->done_cv.wait_for(lock, wait, [&] { return pending->done; })) {
    return MakeUnexpected(std::move(timed_out));
  }
  return std::move(*pending->result);
}

}  // namespace ping_exporter::targets
