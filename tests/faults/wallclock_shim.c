/* LD_PRELOAD shim for tests/faults/test_clock_step.py: steps the process's wall clock without
 * touching the machine's.
 *
 * CLOCK_REALTIME (and its _COARSE variant, gettimeofday, time) read as the real wall clock plus
 * an offset in nanoseconds, read from the file named by $PE_WALL_OFFSET_FILE (one decimal
 * integer). The file is re-read at most every 100 ms, timed on CLOCK_MONOTONIC, so a test steps
 * the clock by rewriting it. Kernel receive timestamps (SCM_TIMESTAMPNS / SCM_TIMESTAMP, which
 * are CLOCK_REALTIME) in what recvmsg/recvmmsg return are shifted by the same offset, so the
 * program sees one consistent wall clock, as after a real step. CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME are left alone. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RELOAD_NS 100000000LL

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef int (*recvmmsg_fn)(int, struct mmsghdr *, unsigned int, int, struct timespec *);

/* Process-wide by nature: the shim stands in for the system clock. */
static _Atomic(clock_gettime_fn) real_clock_gettime;
static _Atomic(recvmsg_fn) real_recvmsg;
static _Atomic(recvmmsg_fn) real_recvmmsg;
static _Atomic int64_t offset_ns;
static _Atomic int64_t next_reload_ns = 0;

static clock_gettime_fn get_clock_gettime(void) {
  clock_gettime_fn f = atomic_load(&real_clock_gettime);
  if (f == NULL) {
    f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    atomic_store(&real_clock_gettime, f);
  }
  return f;
}

static int64_t monotonic_ns(void) {
  struct timespec ts;
  get_clock_gettime()(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t current_offset(void) {
  int64_t now = monotonic_ns();
  int64_t due = atomic_load(&next_reload_ns);
  if (now >= due && atomic_compare_exchange_strong(&next_reload_ns, &due, now + RELOAD_NS)) {
    const char *path = getenv("PE_WALL_OFFSET_FILE");
    int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
      char text[32];
      ssize_t n = read(fd, text, sizeof text - 1);
      close(fd);
      if (n > 0) {
        text[n] = '\0';
        atomic_store(&offset_ns, strtoll(text, NULL, 10));
      }
    }
  }
  return atomic_load(&offset_ns);
}

static void shift(struct timespec *ts, int64_t by) {
  int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + by;
  ts->tv_sec = (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000L;
    ts->tv_sec -= 1;
  }
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  int rc = get_clock_gettime()(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    shift(ts, current_offset());
  }
  return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  (void)tz;
  struct timespec ts;
  int rc = clock_gettime(CLOCK_REALTIME, &ts);
  if (rc == 0) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return rc;
}

time_t time(time_t *out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}

static void shift_timestamps(struct msghdr *m) {
  if (m->msg_control == NULL || m->msg_controllen == 0) return;
  int64_t by = atomic_load(&offset_ns);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec ts;
      __builtin_memcpy(&ts, CMSG_DATA(c), sizeof ts);
      shift(&ts, by);
      __builtin_memcpy(CMSG_DATA(c), &ts, sizeof ts);
    } else if (c->cmsg_type == SCM_TIMESTAMP &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct timeval))) {
      struct timeval tv;
      __builtin_memcpy(&tv, CMSG_DATA(c), sizeof tv);
      struct timespec ts = {tv.tv_sec, tv.tv_usec * 1000};
      shift(&ts, by);
      tv.tv_sec = ts.tv_sec;
      tv.tv_usec = ts.tv_nsec / 1000;
      __builtin_memcpy(CMSG_DATA(c), &tv, sizeof tv);
    }
  }
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags) {
  recvmsg_fn f = atomic_load(&real_recvmsg);
  if (f == NULL) {
    f = (recvmsg_fn)dlsym(RTLD_NEXT, "recvmsg");
    atomic_store(&real_recvmsg, f);
  }
  ssize_t n = f(fd, m, flags);
  if (n >= 0) shift_timestamps(m);
  return n;
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int len, int flags, struct timespec *timeout) {
  recvmmsg_fn f = atomic_load(&real_recvmmsg);
  if (f == NULL) {
    f = (recvmmsg_fn)dlsym(RTLD_NEXT, "recvmmsg");
    atomic_store(&real_recvmmsg, f);
  }
  int n = f(fd, v, len, flags, timeout);
  for (int i = 0; i < n; ++i) shift_timestamps(&v[i].msg_hdr);
  return n;
}
