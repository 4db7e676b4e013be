// Fuzzes http::ParseWebConfig (the --web.config.file YAML) from memory. It must
// never throw or crash, and every error must start with the path it was given.
//
// The parser reads the files that *_file keys name. So that the fuzzer cannot make
// it read /dev/zero or a FIFO forever, inputs whose tls_server_config names a file
// other than a plain name inside the sandbox directory are skipped (checked with
// the same YAML parser). The sandbox is $PE_FUZZ_WEB_DIR (tools/fuzz.sh puts a
// throwaway certificate and key there); without it every file read fails.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/web_config.h"

namespace {

namespace http = ping_exporter::http;
using ping_exporter::fuzz::Require;

// A file name the sandbox may hold: no directories, not "." or "..".
bool IsPlainName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

// True if the document, as yaml-cpp reads it, only names files inside the sandbox.
bool FilesStayInSandbox(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
    if (!root.IsMap()) return true;  // rejected before any file is read
    for (const auto& top : root) {
      if (!top.first.IsScalar() || top.first.Scalar() != "tls_server_config") continue;
      if (!top.second.IsMap()) continue;
      for (const auto& entry : top.second) {
        if (!entry.first.IsScalar()) continue;
        const std::string& key = entry.first.Scalar();
        if (key.size() < 5 || key.compare(key.size() - 5, 5, "_file") != 0) continue;
        if (entry.second.IsNull() || (entry.second.IsScalar() && entry.second.Scalar().empty())) {
          continue;  // no file
        }
        if (!entry.second.IsScalar() || !IsPlainName(entry.second.Scalar())) return false;
      }
    }
  } catch (const YAML::Exception&) {
    return true;  // the parser under test fails on the same syntax before reading files
  }
  return true;
}

std::string SandboxPath() {
  const char* dir = std::getenv("PE_FUZZ_WEB_DIR");
  // A directory that does not exist: relative names cannot resolve anywhere.
  std::string base = dir != nullptr && dir[0] != '\0' ? dir : "/nonexistent-pe-fuzz";
  return base + "/web-config.yml";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!FilesStayInSandbox(text)) return 0;
  static const std::string path = SandboxPath();
  // An exception escaping here is an uncaught throw: libFuzzer reports it as a crash.
  ping_exporter::Expected<http::WebConfig, std::string> result = http::ParseWebConfig(text, path);
  if (!result.has_value()) {
    Require(result.error().rfind(path, 0) == 0, "error does not start with the path");
    return 0;
  }
  const http::WebConfig& c = *result;
  for (const auto& [user, hash] : c.basic_auth_users) {
    Require(http::IsBcryptHash(hash), "accepted a password that is not a bcrypt hash");
  }
  for (const auto& [name, value] : c.headers) {
    Require(!value.empty(), "blank header kept");
    Require(value.find_first_of("\r\n") == std::string::npos, "multi-line header accepted");
  }
  if (c.tls) {
    Require(!c.tls->cert_pem.empty() && !c.tls->key_pem.empty(), "TLS without cert or key");
    Require(c.tls->min_version <= c.tls->max_version, "min_version above max_version");
  }
  return 0;
}
