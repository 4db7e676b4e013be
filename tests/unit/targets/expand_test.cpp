#include "targets/expand.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace ping_exporter::targets {
namespace {

using std::chrono::seconds;
using test_util::TempDir;
using test_util::WriteFile;
using SystemTime = std::chrono::system_clock::time_point;

config::Config MustParse(const std::string& toml, const std::string& name) {
  config::ParseResult r = config::Parse(toml, name);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : config::Config{};
}

std::vector<std::string> Hosts(const ExpandResult& r) {
  std::vector<std::string> out;
  for (const TargetSpec& s : r.specs) out.push_back(s.host);
  return out;
}

const TargetSpec* Find(const ExpandResult& r, const std::string& host) {
  for (const TargetSpec& s : r.specs) {
    if (s.host == host) return &s;
  }
  return nullptr;
}

/// A wall clock the test moves by hand.
class FakeWallClock {
 public:
  SystemTime Now() const { return now_; }
  void Advance(std::chrono::seconds d) { now_ += d; }
  TargetFileCache::WallClock Fn() {
    return [this] { return Now(); };
  }

 private:
  SystemTime now_ = SystemTime(seconds(1'700'000'000));
};

TEST(ExpandTest, GroupsOnlySortedWithOriginsOptionsAndLabels) {
  config::Config c = MustParse(R"([[targets]]
name = "b-group"
hosts = ["localhost", "127.0.0.2"]
family = "ip4"
all_addresses = true
labels = { site = "lab" }
count = 3

[[targets]]
hosts = ["::1"]
)",
                               "/etc/pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  EXPECT_EQ(Hosts(r), (std::vector<std::string>{"127.0.0.2", "::1", "localhost"}));
  EXPECT_TRUE(r.duplicates.empty());
  EXPECT_TRUE(r.files.empty());
  const TargetSpec* lh = Find(r, "localhost");
  ASSERT_NE(lh, nullptr);
  EXPECT_EQ(lh->origin, "/etc/pe.toml:3:10");
  EXPECT_EQ(lh->source, "b-group");
  EXPECT_EQ(lh->family, config::Family::kIp4);
  EXPECT_TRUE(lh->all_addresses);
  EXPECT_EQ(lh->options->count, 3u);
  EXPECT_EQ(*lh->labels, (config::Labels{{"site", "lab"}}));
  const TargetSpec* v6 = Find(r, "::1");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->origin, "/etc/pe.toml:10:10");
  EXPECT_EQ(v6->source, "group-2");
  EXPECT_FALSE(v6->all_addresses);
  EXPECT_EQ(v6->family, config::Family::kAny);
  EXPECT_EQ(*v6->options, config::ProbeOptions{});
}

TEST(ExpandTest, FilesAddTheirHostsWithTheTablesOptionsAndMergedLabels) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteFile(dir / "list.txt", "# lab\n127.0.0.3\nlocalhost.\n"));
  ASSERT_TRUE(WriteFile(dir / "sd.json", R"([
  {"targets": ["127.0.0.4:9100"], "labels": {"site": "file", "team": "net", "rack": ""}},
  {"targets": ["[::1]:9100"]}
])"));
  config::Config c = MustParse(R"([[target_files]]
name = "list"
path = "list.txt"
family = "ip4"
interval = "5s"
labels = { site = "config", rack = "r1" }

[[target_files]]
path = "sd.json"
all_addresses = true
labels = { site = "config", rack = "r2" }
)",
                               dir / "pe.toml");
  FakeWallClock clock;
  TargetFileCache cache(clock.Fn());
  ExpandResult r = Expand(c, cache);
  EXPECT_EQ(Hosts(r), (std::vector<std::string>{"127.0.0.3", "127.0.0.4", "::1", "localhost."}));

  const TargetSpec* a = Find(r, "127.0.0.3");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->origin, dir / "list.txt:2");
  EXPECT_EQ(a->source, "list");
  EXPECT_EQ(a->family, config::Family::kIp4);
  EXPECT_EQ(a->options->interval, seconds(5));
  EXPECT_EQ(*a->labels, (config::Labels{{"rack", "r1"}, {"site", "config"}}));

  // file_sd labels win over the table's; an empty value removes the label.
  const TargetSpec* b = Find(r, "127.0.0.4");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->origin, dir / "sd.json:2");
  EXPECT_EQ(b->source, "file-2");
  EXPECT_TRUE(b->all_addresses);
  EXPECT_EQ(*b->options, config::ProbeOptions{});
  EXPECT_EQ(*b->labels, (config::Labels{{"site", "file"}, {"team", "net"}}));
  const TargetSpec* v6 = Find(r, "::1");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(*v6->labels, (config::Labels{{"rack", "r2"}, {"site", "config"}}));

  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_EQ(r.files[0].name, "list");
  EXPECT_EQ(r.files[0].path, dir / "list.txt");
  EXPECT_TRUE(r.files[0].ok);
  EXPECT_EQ(r.files[0].error, "");
  EXPECT_EQ(r.files[0].target_count, 2u);
  EXPECT_EQ(r.files[0].last_success_time, clock.Now());
  EXPECT_EQ(r.files[1].name, "file-2");
  EXPECT_EQ(r.files[1].target_count, 2u);
}

TEST(ExpandTest, FirstOccurrenceWinsGroupsThenFilesInOrder) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  // Same hosts in other spellings: case, trailing dot, IPv6 forms and brackets.
  ASSERT_TRUE(WriteFile(dir / "a.txt", "LOCALHOST\n127.0.0.5\n0:0::1\n127.0.0.5\n"));
  ASSERT_TRUE(WriteFile(dir / "b.yml", "- targets: ['localhost.:80', '127.0.0.5', '127.0.0.6']\n"));
  config::Config c = MustParse(R"([[targets]]
hosts = ["localhost", "[::1]"]

[[target_files]]
path = "a.txt"

[[target_files]]
path = "b.yml"
)",
                               dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  EXPECT_EQ(Hosts(r), (std::vector<std::string>{"127.0.0.5", "127.0.0.6", "[::1]", "localhost"}));
  EXPECT_EQ(Find(r, "127.0.0.5")->origin, dir / "a.txt:2");
  EXPECT_EQ(Find(r, "localhost")->origin, dir / "pe.toml:2:10");

  const std::string cfg = dir / "pe.toml";
  std::vector<DuplicateTarget> want = {
      {"LOCALHOST", dir / "a.txt:1", cfg + ":2:10"},
      {"0:0::1", dir / "a.txt:3", cfg + ":2:23"},
      {"127.0.0.5", dir / "a.txt:4", dir / "a.txt:2"},
      {"localhost.", dir / "b.yml:1", cfg + ":2:10"},
      {"127.0.0.5", dir / "b.yml:1", dir / "a.txt:2"},
  };
  ASSERT_EQ(r.duplicates.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.duplicates[i].host, want[i].host);
    EXPECT_EQ(r.duplicates[i].origin, want[i].origin);
    EXPECT_EQ(r.duplicates[i].kept_origin, want[i].kept_origin);
  }
  EXPECT_EQ(r.duplicate_count, want.size());
}

TEST(ExpandTest, AFileOfOneHostRepeatedCostsOneTargetNotARecordEach) {
  // 8 MiB of "a\n" took 892 MiB and 4.4 s here (a spec and a record per line).
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "a\n";
  ASSERT_TRUE(WriteFile(dir / "same.txt", text));
  config::Config c = MustParse("[[target_files]]\npath = \"same.txt\"\n", dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  EXPECT_EQ(Hosts(r), (std::vector<std::string>{"a"}));
  EXPECT_EQ(r.duplicate_count, 199999u);
  ASSERT_EQ(r.duplicates.size(), kMaxListedDuplicates);
  EXPECT_EQ(r.duplicates[0].origin, dir / "same.txt:2");
  EXPECT_EQ(r.duplicates.back().origin, dir / "same.txt:101");
}

TEST(ExpandTest, BrokenOrMissingFileKeepsItsLastGoodTargets) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string list = dir / "list.txt";
  ASSERT_TRUE(WriteFile(list, "127.0.0.7\n127.0.0.8\n"));
  config::Config c = MustParse("[[target_files]]\npath = \"list.txt\"\n", dir / "pe.toml");
  FakeWallClock clock;
  TargetFileCache cache(clock.Fn());
  const SystemTime first_read = clock.Now();

  ExpandResult good = Expand(c, cache);
  EXPECT_EQ(Hosts(good), (std::vector<std::string>{"127.0.0.7", "127.0.0.8"}));

  // Half-written: the last good list stays, the error points at the bad line.
  clock.Advance(seconds(10));
  ASSERT_TRUE(WriteFile(list, "127.0.0.7\n127.0.0.9\nnot a host\n"));
  ExpandResult broken = Expand(c, cache);
  EXPECT_EQ(Hosts(broken), Hosts(good));
  ASSERT_EQ(broken.files.size(), 1u);
  EXPECT_FALSE(broken.files[0].ok);
  EXPECT_EQ(broken.files[0].error.rfind(list + ":3:1: \"not a host\" is not", 0), 0u)
      << broken.files[0].error;
  EXPECT_EQ(broken.files[0].excerpt, "not a host");
  EXPECT_EQ(broken.files[0].last_success_time, first_read);
  EXPECT_EQ(broken.files[0].failing_since, first_read + seconds(10));
  EXPECT_EQ(broken.files[0].target_count, 2u);

  // Deleted: still the last good list.
  clock.Advance(seconds(10));
  ASSERT_EQ(::unlink(list.c_str()), 0);
  ExpandResult missing = Expand(c, cache);
  EXPECT_EQ(Hosts(missing), Hosts(good));
  EXPECT_FALSE(missing.files[0].ok);
  EXPECT_EQ(missing.files[0].error, list + ": cannot read: No such file or directory");
  EXPECT_EQ(missing.files[0].excerpt, "");  // nothing read, nothing quoted
  EXPECT_EQ(missing.files[0].last_success_time, first_read);
  EXPECT_EQ(missing.files[0].failing_since, first_read + seconds(10));  // still the first failure

  // Fixed: the new content is used and the error cleared.
  clock.Advance(seconds(10));
  ASSERT_TRUE(WriteFile(list, "127.0.0.9\n"));
  ExpandResult fixed = Expand(c, cache);
  EXPECT_EQ(Hosts(fixed), (std::vector<std::string>{"127.0.0.9"}));
  EXPECT_TRUE(fixed.files[0].ok);
  EXPECT_EQ(fixed.files[0].error, "");
  EXPECT_FALSE(fixed.files[0].failing_since);
  EXPECT_EQ(fixed.files[0].last_success_time, clock.Now());
  EXPECT_EQ(fixed.files[0].target_count, 1u);
}

TEST(ExpandTest, ContentOfAFileNotEveryoneMayReadIsNeverQuoted) {
  // A target file symlinked to a root-only file: the exporter (root, no --runas.user) can
  // read it, the readers of its log and status page may not.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string secret = dir / "shadow";
  ASSERT_TRUE(WriteFile(secret, "root:$6$very-secret-hash:19000:0:99999:7:::\n"));
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(secret.c_str(), (dir / "list.txt").c_str()), 0);
  config::Config c = MustParse("[[target_files]]\npath = \"list.txt\"\n", dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_FALSE(r.files[0].ok);
  EXPECT_EQ(r.files[0].error,
            dir / "list.txt:1:1: invalid content (not quoted: the file is not world-readable)");
  EXPECT_EQ(r.files[0].error.find("secret"), std::string::npos);

  // Readable by everyone: the problem is quoted as usual.
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  ExpandResult shown = Expand(c, cache);
  EXPECT_NE(shown.files[0].error.find("\"root:$6$very-secret-hash"), std::string::npos)
      << shown.files[0].error;
}

TEST(ExpandTest, FileMissingFromTheStartContributesNothing) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  config::Config c = MustParse(R"([[targets]]
hosts = ["::1"]
[[target_files]]
path = "later.json"
)",
                               dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  EXPECT_EQ(Hosts(r), (std::vector<std::string>{"::1"}));
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_FALSE(r.files[0].ok);
  EXPECT_FALSE(r.files[0].last_success_time.has_value());
  EXPECT_EQ(r.files[0].target_count, 0u);
  EXPECT_NE(r.files[0].error.find("No such file or directory"), std::string::npos);
}

TEST(ExpandTest, ErrorExcerptIsBoundedAndStartsNearTheError) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string json = "[{\"targets\": [";
  for (int i = 0; i < 40; ++i) json += "\"127.0.0.1\", ";
  json += "@]}]\n";
  ASSERT_TRUE(WriteFile(dir / "sd.json", json));
  config::Config c =
      MustParse("[[target_files]]\npath = \"sd.json\"\nformat = \"file_sd\"\n", dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_FALSE(r.files[0].ok);
  const std::string& excerpt = r.files[0].excerpt;
  // The line is 500 bytes long: the excerpt begins 20 bytes before the error, escaped.
  EXPECT_EQ(excerpt, "....0.1\\\", \\\"127.0.0.1\\\", @]}]") << excerpt;
}

TEST(ExpandTest, LiteralOfTheWrongFamilyFailsTheFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteFile(dir / "v4.txt", "127.0.0.1\nlocalhost\n::1\n"));
  config::Config c =
      MustParse("[[target_files]]\npath = \"v4.txt\"\nfamily = \"ip4\"\n", dir / "pe.toml");
  TargetFileCache cache;
  ExpandResult r = Expand(c, cache);
  EXPECT_TRUE(r.specs.empty());
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_FALSE(r.files[0].ok);
  EXPECT_EQ(r.files[0].error, dir /
                                  "v4.txt:3:1: \"::1\" is an IPv6 address but the file's "
                                  "family is \"ip4\"");

  // The same bytes read with another family are parsed again, not taken from the cache.
  config::Config any = MustParse("[[target_files]]\npath = \"v4.txt\"\n", dir / "pe.toml");
  ExpandResult ok = Expand(any, cache);
  EXPECT_TRUE(ok.files[0].ok) << ok.files[0].error;
  EXPECT_EQ(ok.specs.size(), 3u);
}

TEST(ExpandTest, UnchangedFileIsNotParsedAgain) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteFile(dir / "l.txt", "127.0.0.1\n"));
  config::Config c = MustParse("[[target_files]]\npath = \"l.txt\"\n", dir / "pe.toml");
  TargetFileCache cache;
  TargetFileCache::Entry first = cache.Load(c.target_files[0]);
  TargetFileCache::Entry second = cache.Load(c.target_files[0]);
  EXPECT_EQ(first.targets.get(), second.targets.get());  // the very same parsed list
  ASSERT_TRUE(WriteFile(dir / "l.txt", "127.0.0.2\n"));
  TargetFileCache::Entry third = cache.Load(c.target_files[0]);
  EXPECT_NE(third.targets.get(), first.targets.get());
  ASSERT_EQ(third.targets->size(), 1u);
  EXPECT_EQ((*third.targets)[0].host, "127.0.0.2");
}

TEST(ExpandTest, CacheForgetsFilesNoLongerConfigured) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteFile(dir / "a.txt", "127.0.0.1\n"));
  ASSERT_TRUE(WriteFile(dir / "b.txt", "127.0.0.2\n"));
  TargetFileCache cache;
  Expand(MustParse("[[target_files]]\npath = \"a.txt\"\n[[target_files]]\npath = \"b.txt\"\n",
                   dir / "pe.toml"),
         cache);
  ASSERT_EQ(cache.Statuses().size(), 2u);
  Expand(MustParse("[[target_files]]\npath = \"b.txt\"\n", dir / "pe.toml"), cache);
  std::vector<TargetFileStatus> left = cache.Statuses();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].path, dir / "b.txt");
  Expand(MustParse("[[targets]]\nhosts = [\"::1\"]\n", dir / "pe.toml"), cache);
  EXPECT_TRUE(cache.Statuses().empty());
}

TEST(ExpandTest, CacheIsSafeToUseFromSeveralThreads) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteFile(dir / "l.txt", "127.0.0.1\n127.0.0.2\n"));
  config::Config c = MustParse("[[target_files]]\npath = \"l.txt\"\n", dir / "pe.toml");
  TargetFileCache cache;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        ExpandResult r = Expand(c, cache);
        if (r.specs.size() != 2) ++bad;
        for (const TargetFileStatus& s : cache.Statuses()) {
          if (s.target_count != 2) ++bad;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace ping_exporter::targets
