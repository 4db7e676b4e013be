#include "common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace ping_exporter {
namespace {

// A name under gtest's temporary directory, unique to this process and test.
std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "pe-file-test-" + std::to_string(::getpid()) + "-" + name;
}

TEST(FileTest, ReadsARegularFileWhole) {
  std::string path = TempPath("ok");
  std::ofstream(path, std::ios::binary) << std::string("a\0b\n", 4);
  Expected<std::string, std::string> text = ReadFileCapped(path, 4);
  ::unlink(path.c_str());
  ASSERT_TRUE(text.has_value()) << text.error();
  EXPECT_EQ(*text, std::string("a\0b\n", 4));
}

TEST(FileTest, SaysWhetherEveryoneMayReadTheFile) {
  std::string path = TempPath("mode");
  std::ofstream(path) << "x\n";
  FileFacts facts;
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(ReadFileCapped(path, 100, &facts).has_value());
  EXPECT_TRUE(facts.world_readable);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(ReadFileCapped(path, 100, &facts).has_value());
  EXPECT_FALSE(facts.world_readable);
  ::unlink(path.c_str());
}

TEST(FileTest, RefusesFilesOverTheCap) {
  std::string path = TempPath("big");
  std::ofstream(path, std::ios::binary) << std::string(1000, 'x');
  Expected<std::string, std::string> small = ReadFileCapped(path, 999);
  Expected<std::string, std::string> mib = ReadFileCapped(path, 0);
  ::unlink(path.c_str());
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error(), "file is larger than 999 bytes");
  ASSERT_FALSE(mib.has_value());
  EXPECT_EQ(mib.error(), "file is larger than 0 MiB");
}

TEST(FileTest, ProcfsFilesWithoutASizeAreCappedWhileReading) {
  // /proc files report st_size 0; the cap must hold on the bytes actually read.
  Expected<std::string, std::string> small = ReadFileCapped("/proc/self/maps", 10);
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error(), "file is larger than 10 bytes");
  Expected<std::string, std::string> whole = ReadFileCapped("/proc/self/maps", 1u << 20);
  ASSERT_TRUE(whole.has_value()) << whole.error();
  EXPECT_FALSE(whole->empty());
}

TEST(FileTest, MissingFileAndDirectorySayWhy) {
  Expected<std::string, std::string> missing = ReadFileCapped(TempPath("nope"), 100);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), "No such file or directory");
  Expected<std::string, std::string> dir = ReadFileCapped(::testing::TempDir(), 100);
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error(), "Is a directory");
}

TEST(FileTest, FifoIsRefusedWithoutBlocking) {
  // No writer ever opens it: a blocking open() would hang this test.
  std::string fifo = TempPath("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Expected<std::string, std::string> text = ReadFileCapped(fifo, 100);
  ::unlink(fifo.c_str());
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error(), "not a regular file");
}

TEST(FileTest, EndlessDeviceIsRefusedBeforeReading) {
  // /dev/zero would otherwise be read until memory runs out.
  Expected<std::string, std::string> text = ReadFileCapped("/dev/zero", size_t{64} << 20);
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error(), "not a regular file");
}

}  // namespace
}  // namespace ping_exporter
