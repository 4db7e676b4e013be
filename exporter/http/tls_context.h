#pragma once
// Internal: applies a TlsServerConfig to an OpenSSL server context. CivetWeb creates
// the context and hands it to its init_ssl callback; doing the rest here lets the
// certificate and key live in separate files (CivetWeb wants one PEM with both) and
// gives the client-auth modes and protocol bounds exporter-toolkit offers.

#include <string>

#include "http/web_config.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, kept out of the includes on purpose.

namespace ping_exporter::http::detail {

/// Loads the certificate chain and key, client CAs and verification mode, protocol
/// versions, ciphers and curves into `ctx`. Returns "" on success, else what failed
/// (naming the file, never the key's contents). `config` must outlive `ctx`: the
/// client-certificate check reads it during handshakes. Thread-compatible: call
/// before the context serves connections.
std::string ConfigureServerContext(ssl_ctx_st* ctx, const TlsServerConfig& config);

/// Builds a scratch context and runs ConfigureServerContext on it, so a bad file
/// is reported while loading the configuration. Returns "" when valid.
std::string ValidateTlsServerConfig(const TlsServerConfig& config);

}  // namespace ping_exporter::http::detail
