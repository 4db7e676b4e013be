#include "http/web_config.h"

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <utility>

#include "common/file.h"
#include "http/tls_context.h"

namespace ping_exporter::http {
namespace {

// Web configs and PEM files (a CA bundle included) are far smaller; the cap keeps a path
// such as /dev/zero, or a huge file named by mistake, from taking the memory.
constexpr size_t kMaxFileBytes = 4u << 20;

/// Internal only: the parser unwinds with this and ParseWebConfig turns it into a value.
struct ConfigError {
  std::string message;
};

struct Parser {
  const std::string& path;
  std::filesystem::path dir;

  std::string Where(const YAML::Node& node) const {
    YAML::Mark mark = node.Mark();
    if (mark.is_null()) return path;
    return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& message) const {
    throw ConfigError{Where(node) + ": " + message};
  }

  // Visits a mapping's entries, rejecting duplicate and (when `allowed` is not empty)
  // unknown keys, as exporter-toolkit's strict YAML decoding does.
  template <typename F>
  void ForEachEntry(const YAML::Node& map, const std::string& section,
                    std::initializer_list<std::string_view> allowed, F&& visit) const {
    if (map.IsNull()) return;
    if (!map.IsMap()) Fail(map, section + " must be a mapping");
    std::set<std::string> seen;
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) Fail(key, section + ": keys must be strings");
      const std::string& name = key.Scalar();
      if (allowed.size() > 0) {
        bool known = false;
        for (std::string_view a : allowed) known = known || a == name;
        if (!known) Fail(key, section + ": unknown key \"" + name + "\"");
      }
      if (!seen.insert(name).second) Fail(key, section + ": duplicate key \"" + name + "\"");
      visit(name, entry.second);
    }
  }

  std::string String(const YAML::Node& node, const std::string& what) const {
    if (node.IsNull()) return "";
    if (!node.IsScalar()) Fail(node, what + " must be a string");
    return node.Scalar();
  }

  bool Bool(const YAML::Node& node, const std::string& what) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      Fail(node, what + " must be true or false");
    }
    return value;
  }

  std::vector<std::string> StringList(const YAML::Node& node, const std::string& what) const {
    std::vector<std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) Fail(node, what + " must be a list of strings");
    for (const auto& item : node) {
      if (!item.IsScalar()) Fail(item, what + " must be a list of strings");
      out.push_back(item.Scalar());
    }
    return out;
  }

  std::filesystem::path Resolve(const std::string& file) const {
    std::filesystem::path p(file);
    return p.is_absolute() ? p : dir / p;
  }

  std::string ReadFile(const YAML::Node& node, const std::string& key,
                       const std::filesystem::path& file) const {
    Expected<std::string, std::string> text = ReadFileCapped(file.string(), kMaxFileBytes);
    if (!text) Fail(node, "cannot read " + key + " " + file.string() + ": " + text.error());
    return std::move(*text);
  }

  TlsVersion Version(const YAML::Node& node, const std::string& what) const {
    std::string v = String(node, what);
    if (v == "TLS10") return TlsVersion::kTls10;
    if (v == "TLS11") return TlsVersion::kTls11;
    if (v == "TLS12") return TlsVersion::kTls12;
    if (v == "TLS13") return TlsVersion::kTls13;
    Fail(node, what + " must be one of TLS10, TLS11, TLS12, TLS13, not \"" + v + "\"");
  }

  ClientAuth Auth(const YAML::Node& node) const {
    std::string v = String(node, "client_auth_type");
    if (v.empty() || v == "NoClientCert") return ClientAuth::kNoClientCert;
    if (v == "RequestClientCert") return ClientAuth::kRequestClientCert;
    // "RequireClientCert" is exporter-toolkit's old spelling, kept for compatibility.
    if (v == "RequireAnyClientCert" || v == "RequireClientCert") {
      return ClientAuth::kRequireAnyClientCert;
    }
    if (v == "VerifyClientCertIfGiven") return ClientAuth::kVerifyClientCertIfGiven;
    if (v == "RequireAndVerifyClientCert") return ClientAuth::kRequireAndVerifyClientCert;
    Fail(node,
         "client_auth_type must be one of NoClientCert, RequestClientCert, "
         "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert, not \"" +
             v + "\"");
  }

  // A PEM given either inline or as a file, not both.
  struct PemSource {
    std::string inline_text;
    YAML::Node inline_node;
    std::string file;
    YAML::Node file_node;
  };

  void LoadPem(const PemSource& src, const std::string& inline_key, const std::string& file_key,
               std::string& pem, std::string& source) const {
    if (!src.inline_text.empty() && !src.file.empty()) {
      Fail(src.file_node, "tls_server_config: set only one of " + inline_key + " and " + file_key);
    }
    if (!src.file.empty()) {
      std::filesystem::path file = Resolve(src.file);
      pem = ReadFile(src.file_node, file_key, file);
      source = file_key + " " + file.string();
    } else if (!src.inline_text.empty()) {
      pem = src.inline_text;
      source = inline_key + " (inline)";
    }
  }

  std::optional<TlsServerConfig> Tls(const YAML::Node& node) const {
    TlsServerConfig tls;
    PemSource cert, key, ca;
    std::string auth_text;
    YAML::Node auth_node, sans_node;
    ForEachEntry(node, "tls_server_config",
                 {"cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
                  "client_ca_file", "client_allowed_sans", "min_version", "max_version",
                  "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"},
                 [&](const std::string& k, const YAML::Node& v) {
                   if (k == "cert") {
                     cert.inline_text = String(v, k);
                     cert.inline_node = v;
                   } else if (k == "key") {
                     key.inline_text = String(v, k);
                     key.inline_node = v;
                   } else if (k == "client_ca") {
                     ca.inline_text = String(v, k);
                     ca.inline_node = v;
                   } else if (k == "cert_file") {
                     cert.file = String(v, k);
                     cert.file_node = v;
                   } else if (k == "key_file") {
                     key.file = String(v, k);
                     key.file_node = v;
                   } else if (k == "client_ca_file") {
                     ca.file = String(v, k);
                     ca.file_node = v;
                   } else if (k == "client_auth_type") {
                     auth_text = String(v, k);
                     auth_node = v;
                     tls.client_auth = Auth(v);
                   } else if (k == "client_allowed_sans") {
                     tls.client_allowed_sans = StringList(v, k);
                     sans_node = v;
                   } else if (k == "min_version") {
                     tls.min_version = Version(v, k);
                   } else if (k == "max_version") {
                     tls.max_version = Version(v, k);
                   } else if (k == "cipher_suites") {
                     tls.cipher_suites = StringList(v, k);
                   } else if (k == "prefer_server_cipher_suites") {
                     tls.prefer_server_cipher_suites = Bool(v, k);
                   } else if (k == "curve_preferences") {
                     tls.curve_preferences = StringList(v, k);
                   }
                 });

    // Same rule as exporter-toolkit: TLS is on once any certificate-related key is set.
    bool enabled = !cert.inline_text.empty() || !cert.file.empty() || !key.inline_text.empty() ||
                   !key.file.empty() || !ca.inline_text.empty() || !ca.file.empty() ||
                   !auth_text.empty();
    if (!enabled) return std::nullopt;

    if (cert.inline_text.empty() && cert.file.empty()) {
      Fail(node, "tls_server_config: missing cert_file (or cert)");
    }
    if (key.inline_text.empty() && key.file.empty()) {
      Fail(node, "tls_server_config: missing key_file (or key)");
    }
    LoadPem(cert, "cert", "cert_file", tls.cert_pem, tls.cert_source);
    LoadPem(key, "key", "key_file", tls.key_pem, tls.key_source);
    LoadPem(ca, "client_ca", "client_ca_file", tls.client_ca_pem, tls.client_ca_source);

    bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                    tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
    const YAML::Node& ca_node = ca.file.empty() ? ca.inline_node : ca.file_node;
    if (!tls.client_ca_pem.empty() && tls.client_auth == ClientAuth::kNoClientCert) {
      Fail(ca_node,
           "tls_server_config: client CAs are configured but client_auth_type is NoClientCert");
    }
    if (verifies && tls.client_ca_pem.empty()) {
      Fail(auth_node, "tls_server_config: client_auth_type " + auth_text +
                          " needs client_ca_file (or client_ca)");
    }
    if (!tls.client_allowed_sans.empty() && tls.client_auth == ClientAuth::kNoClientCert) {
      Fail(sans_node,
           "tls_server_config: client_allowed_sans needs a client_auth_type that asks for a "
           "client certificate");
    }
    if (tls.min_version > tls.max_version) {
      Fail(node, "tls_server_config: min_version is greater than max_version");
    }
    if (std::string err = detail::ValidateTlsServerConfig(tls); !err.empty()) {
      Fail(node, "tls_server_config: " + err);
    }
    return tls;
  }

  void Http(const YAML::Node& node, WebConfig& out) const {
    ForEachEntry(node, "http_server_config", {"http2", "headers"},
                 [&](const std::string& k, const YAML::Node& v) {
                   if (k == "http2") {
                     // CivetWeb speaks HTTP/1.1 only; the switch is accepted and has no effect.
                     (void)Bool(v, k);
                   } else {
                     Headers(v, out);
                   }
                 });
  }

  void Headers(const YAML::Node& node, WebConfig& out) const {
    ForEachEntry(node, "http_server_config.headers",
                 {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                  "X-XSS-Protection", "Strict-Transport-Security"},
                 [&](const std::string& k, const YAML::Node& v) {
                   std::string value = String(v, k);
                   if (value.find_first_of("\r\n") != std::string::npos) {
                     Fail(v, k + " must be a single line");
                   }
                   if (k == "X-Frame-Options" && value != "deny" && value != "sameorigin") {
                     Fail(v, "X-Frame-Options must be \"deny\" or \"sameorigin\"");
                   }
                   if (k == "X-Content-Type-Options" && value != "nosniff") {
                     Fail(v, "X-Content-Type-Options must be \"nosniff\"");
                   }
                   // Blank means unset, as in exporter-toolkit.
                   if (!value.empty()) out.headers.emplace_back(k, value);
                 });
  }

  void Users(const YAML::Node& node, WebConfig& out) const {
    ForEachEntry(node, "basic_auth_users", {}, [&](const std::string& user, const YAML::Node& v) {
      // The messages name the user, never the hash.
      if (!v.IsScalar() || !IsBcryptHash(v.Scalar())) {
        Fail(v, "basic_auth_users: password of user \"" + user +
                    "\" is not a bcrypt hash ($2a$, $2b$ or $2y$; make one with htpasswd -nBC 10)");
      }
      if (int cost = BcryptCost(v.Scalar()); cost < kMinBcryptCost || cost > kMaxBcryptCost) {
        Fail(v, "basic_auth_users: the bcrypt hash of user \"" + user + "\" has cost " +
                    std::to_string(cost) + ", outside the allowed " +
                    std::to_string(kMinBcryptCost) + ".." + std::to_string(kMaxBcryptCost) +
                    " (each check of a password takes 2^cost rounds; make one with htpasswd "
                    "-nBC 10)");
      }
      out.basic_auth_users.emplace(user, v.Scalar());
    });
  }

  WebConfig Parse(std::string_view text) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      std::string where = path;
      if (!e.mark.is_null()) {
        where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
      }
      throw ConfigError{where + ": invalid YAML: " + e.msg};
    }
    WebConfig out;
    if (!root.IsDefined() || root.IsNull()) return out;  // an empty file is plain HTTP
    ForEachEntry(root, "web config",
                 {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"},
                 [&](const std::string& k, const YAML::Node& v) {
                   if (k == "tls_server_config") {
                     out.tls = Tls(v);
                   } else if (k == "http_server_config") {
                     Http(v, out);
                   } else if (k == "basic_auth_users") {
                     Users(v, out);
                   } else {
                     Fail(v, "rate_limit is not supported by ping_exporter");
                   }
                 });
    return out;
  }
};

bool IsBcryptChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  // $2b$10$ + 22 characters of salt + 31 of digest.
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') {
    return false;
  }
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  for (char c : hash.substr(7)) {
    if (!IsBcryptChar(c)) return false;
  }
  return true;
}

int BcryptCost(std::string_view hash) { return (hash[4] - '0') * 10 + (hash[5] - '0'); }

Expected<WebConfig, std::string> ParseWebConfig(std::string_view yaml, const std::string& path) {
  Parser parser{path, std::filesystem::path(path).parent_path()};
  try {
    return parser.Parse(yaml);
  } catch (const ConfigError& e) {
    return MakeUnexpected(e.message);
  } catch (const YAML::Exception& e) {
    // Conversions inside yaml-cpp; the parser checks types first, so this is a safety net.
    return MakeUnexpected(path + ": " + e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return MakeUnexpected(path + ": " + e.what());
  }
}

Expected<WebConfig, std::string> LoadWebConfig(const std::string& path) {
  Expected<std::string, std::string> text = ReadFileCapped(path, kMaxFileBytes);
  if (!text) return MakeUnexpected("cannot read web config " + path + ": " + text.error());
  return ParseWebConfig(*text, path);
}

}  // namespace ping_exporter::http
