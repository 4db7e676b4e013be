#pragma once
// The exporter-toolkit web configuration file (--web.config.file): TLS, basic auth
// and extra response headers, in the YAML format Prometheus exporters share, so
// operators can reuse the file they already have.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace ping_exporter::http {

enum class ClientAuth {
  kNoClientCert,                ///< never ask for a client certificate
  kRequestClientCert,           ///< ask, accept anything (even none), verify nothing
  kRequireAnyClientCert,        ///< require one, verify nothing
  kVerifyClientCertIfGiven,     ///< verify it against the client CA if one is sent
  kRequireAndVerifyClientCert,  ///< require one and verify it: the only secure mTLS mode
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

/// `tls_server_config`. PEM contents are read when the file is loaded, so a
/// missing or unreadable file is reported up front with its path.
struct TlsServerConfig {
  std::string cert_pem;       ///< server certificate, then any intermediates
  std::string cert_source;    ///< "cert_file /path" or "cert (inline)", for messages
  std::string key_pem;        ///< server private key (a secret: never log it)
  std::string key_source;     ///< "key_file /path" or "key (inline)"
  std::string client_ca_pem;  ///< CAs for client certificates; empty = none
  std::string client_ca_source;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
  std::vector<std::string> cipher_suites;      ///< IANA/Go names, TLS <= 1.2 only; empty = default
  std::vector<std::string> curve_preferences;  ///< Go names (CurveP256, X25519, ...)
  bool prefer_server_cipher_suites = true;
  std::vector<std::string> client_allowed_sans;  ///< if set, a client cert SAN must match one
};

/// The whole file. Default-constructed = plain HTTP, no auth, no extra headers.
struct WebConfig {
  std::optional<TlsServerConfig> tls;                   ///< nullopt: serve plain HTTP
  std::map<std::string, std::string> basic_auth_users;  ///< user -> bcrypt hash; empty: no auth
  std::vector<std::pair<std::string, std::string>> headers;  ///< http_server_config.headers
};

/// Reads and validates the file at `path`. Relative cert/key/CA paths are taken
/// relative to the file's directory (as exporter-toolkit does). Unknown keys,
/// duplicate keys, wrong types, non-bcrypt password hashes, unreadable files and
/// certificates or keys OpenSSL cannot load (or that do not match) are errors; the
/// message starts with the path and, where known, line and column. Never throws.
Expected<WebConfig, std::string> LoadWebConfig(const std::string& path);

/// Same, from text already in memory; `path` is used in messages and to resolve
/// relative file names.
Expected<WebConfig, std::string> ParseWebConfig(std::string_view yaml, const std::string& path);

/// Whether `hash` looks like a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost,
/// 53 characters of salt and digest.
bool IsBcryptHash(std::string_view hash);

/// The cost of a hash for which IsBcryptHash holds: a check takes 2^cost rounds.
int BcryptCost(std::string_view hash);

/// The costs a web config may use. Each step doubles a check's time: cost 10 takes
/// about 0.2 s of a core on a small VM, 16 about 10 s; 31 would hold a core for days
/// per wrong password, so larger costs are refused at load.
constexpr int kMinBcryptCost = 4;
constexpr int kMaxBcryptCost = 16;

}  // namespace ping_exporter::http
