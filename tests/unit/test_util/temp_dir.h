#pragma once
// A temporary directory for unit tests, shared by every module's tests.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace ping_exporter::test_util {

/// Overwrites `path` in place (truncate and write), as `echo > file` does. True on success.
inline bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction;
/// path() is empty when it could not be made. Not copyable; not thread-safe.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pe-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// The path of `name` inside the directory.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  /// Writes `text` to `name` inside the directory; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = *this / name;
    WriteFile(file, text);
    return file;
  }

 private:
  std::string path_;
};

}  // namespace ping_exporter::test_util
