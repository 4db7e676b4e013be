#include "targets/resolver_cares.h"

#include <ares.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

#include "common/fd.h"

namespace ping_exporter::targets {
namespace {

using std::chrono::milliseconds;

// One c-ares channel per distinct timeout; all run on the service's thread (c-ares 1.18
// channels are not thread-safe), multiplexed with an eventfd in one poll().
class CaresLookup final : public NameLookup {
 public:
  explicit CaresLookup(Fd wake) : wake_(std::move(wake)) {}
  ~CaresLookup() override {
    // Ends every query: their callbacks run here with ARES_EDESTRUCTION and free their Call.
    for (auto& [ms, channel] : channels_) ares_destroy(channel.handle);
  }
  CaresLookup(const CaresLookup&) = delete;
  CaresLookup& operator=(const CaresLookup&) = delete;

  void Start(uint64_t id, const std::string& host, config::Family family,
             Duration timeout) override {
    Expected<Channel*, std::string> channel = ChannelFor(timeout);
    if (!channel) {
      done_.push_back({id, MakeUnexpected(channel.error())});
      return;
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = detail::AddressFamily(family);
    ++(*channel)->pending;
    // May call back before it returns (an /etc/hosts entry, a malformed name).
    ares_getaddrinfo((*channel)->handle, host.c_str(), nullptr, &hints, &CaresLookup::OnAnswer,
                     new Call{this, *channel, id});
  }

  std::vector<Finished> Wait(SteadyTime until) override;

  void Wake() override {
    uint64_t one = 1;
    // EAGAIN means the counter is full, which wakes poll() just as well.
    [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  }

 private:
  struct Channel {
    ares_channel handle = nullptr;
    size_t pending = 0;  // queries started and not called back yet
  };
  struct Call {
    CaresLookup* self;
    Channel* channel;
    uint64_t id;
  };

  Expected<Channel*, std::string> ChannelFor(Duration timeout);
  static void OnAnswer(void* arg, int status, int timeouts, ares_addrinfo* result);
  int PollTimeoutMs(SteadyTime until);

  Fd wake_;
  std::map<int64_t, Channel> channels_;  // by timeout in ms; node-based: Calls point into it
  std::vector<Finished> done_;
};

Expected<CaresLookup::Channel*, std::string> CaresLookup::ChannelFor(Duration timeout) {
  int64_t ms = std::clamp<int64_t>(std::chrono::ceil<milliseconds>(timeout).count(), 1, INT_MAX);
  auto it = channels_.find(ms);
  if (it != channels_.end()) return &it->second;
  ares_options options{};
  options.timeout = static_cast<int>(ms);
  options.tries = 1;  // per nameserver; a failed name is retried by the schedule's back-off
  Channel channel;
  int rc = ares_init_options(&channel.handle, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) {
    return MakeUnexpected("cannot set up the resolver: " + std::string(ares_strerror(rc)));
  }
  return &channels_.emplace(ms, channel).first->second;
}

void CaresLookup::OnAnswer(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Call> call(static_cast<Call*>(arg));
  std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> owned(result, ares_freeaddrinfo);
  --call->channel->pending;
  if (status == ARES_EDESTRUCTION) return;  // the lookup object is going away
  if (status != ARES_SUCCESS) {
    call->self->done_.push_back({call->id, MakeUnexpected(std::string(ares_strerror(status)))});
    return;
  }
  Addresses addresses;
  for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
    detail::AppendUnique(addresses, n->ai_addr, n->ai_addrlen);
  }
  call->self->done_.push_back({call->id, std::move(addresses)});
}

int CaresLookup::PollTimeoutMs(SteadyTime until) {
  if (!done_.empty()) return 0;
  SteadyTime now = std::chrono::steady_clock::now();
  // An hour at most: Wake() ends the wait anyway; this only bounds the arithmetic.
  int64_t ms =
      until <= now
          ? 0
          : std::min<int64_t>(std::chrono::ceil<milliseconds>(until - now).count(), 3600 * 1000);
  if (!wake_.valid()) ms = std::min<int64_t>(ms, 100);  // Wake() cannot interrupt poll()
  for (auto& [key, channel] : channels_) {
    timeval tv{};
    if (ares_timeout(channel.handle, nullptr, &tv) != nullptr) {
      ms = std::min<int64_t>(ms, int64_t{tv.tv_sec} * 1000 + (tv.tv_usec + 999) / 1000);
    }
  }
  return static_cast<int>(ms);
}

std::vector<NameLookup::Finished> CaresLookup::Wait(SteadyTime until) {
  std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
  std::vector<ares_channel> owner{nullptr};  // parallel to fds
  for (auto& [key, channel] : channels_) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel.handle, socks, ARES_GETSOCK_MAXNUM);
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;  // NOLINT(runtime/int): pollfd's type
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events == 0) continue;
      fds.push_back({socks[i], events, 0});
      owner.push_back(channel.handle);
    }
  }
  if (poll(fds.data(), fds.size(), PollTimeoutMs(until)) > 0) {
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_.get(), &count, sizeof count);
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      short r = fds[i].revents;  // NOLINT(runtime/int)
      if (r == 0) continue;
      ares_process_fd(owner[i], (r & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (r & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  for (auto it = channels_.begin(); it != channels_.end();) {
    ares_process_fd(it->second.handle, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // expires timeouts
    if (it->second.pending == 0) {
      // Idle: close it, so the next lookups read resolv.conf again.
      ares_destroy(it->second.handle);
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
  return std::exchange(done_, {});
}

}  // namespace

std::unique_ptr<NameLookup> MakeCaresLookup() {
  // Once per process; a no-op on Linux apart from counting, but c-ares asks for it.
  [[maybe_unused]] static const int kLibraryInit = ares_library_init(ARES_LIB_INIT_ALL);
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  return std::make_unique<CaresLookup>(std::move(wake));
}

}  // namespace ping_exporter::targets
