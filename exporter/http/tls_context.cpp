#include "http/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string_view>
#include <vector>

namespace ping_exporter::http::detail {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

constexpr std::string_view kSessionIdContext = "ping_exporter";

// Takes OpenSSL's most recent queued error and empties the queue, so one failure
// does not leak into the next connection's diagnostics.
std::string TakeOpenSslError() {
  unsigned long last = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// Encrypted keys must fail to load, not prompt on the terminal for a pass phrase.
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

BioPtr MemoryBio(const std::string& text) {
  if (text.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, RefusePassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the loop always ends on an expected "no start line"
  return certs;
}

int ToOpenSslVersion(TlsVersion v) {
  switch (v) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

bool SanAllowed(X509* cert, const std::vector<std::string>& allowed) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    std::string value;
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const ASN1_IA5STRING* s = name->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                   static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;
      if (family == AF_UNSPEC ||
          inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text) == nullptr) {
        continue;
      }
      value = text;
    } else {
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return true;
  }
  return false;
}

// Runs for each certificate of the client's chain. Modes that do not verify accept
// whatever OpenSSL found wrong; the SAN allow-list applies to the leaf in every mode,
// as exporter-toolkit's VerifyPeerCertificate does.
int VerifyClient(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  const auto* config =
      static_cast<const TlsServerConfig*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (config == nullptr) return 0;
  bool verify = config->client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                config->client_auth == ClientAuth::kRequireAndVerifyClientCert;
  int ok = verify ? preverify_ok : 1;
  if (ok == 1 && X509_STORE_CTX_get_error_depth(store) == 0 &&
      !config->client_allowed_sans.empty()) {
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    if (leaf == nullptr || !SanAllowed(leaf, config->client_allowed_sans)) {
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      ok = 0;
    }
  }
  return ok;
}

std::string LoadCertificateAndKey(SSL_CTX* ctx, const TlsServerConfig& config) {
  std::vector<X509Ptr> chain = ReadCertificates(config.cert_pem);
  if (chain.empty()) return "no PEM certificate found in " + config.cert_source;
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    return "cannot use certificate from " + config.cert_source + ": " + TakeOpenSslError();
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      return "cannot use intermediate certificate from " + config.cert_source + ": " +
             TakeOpenSslError();
    }
  }
  BioPtr bio = MemoryBio(config.key_pem);
  PkeyPtr key(bio == nullptr
                  ? nullptr
                  : PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, nullptr));
  if (key == nullptr) {
    return "cannot read an unencrypted PEM private key from " + config.key_source + ": " +
           TakeOpenSslError();
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return config.key_source + " does not match the certificate in " + config.cert_source;
  }
  return "";
}

std::string LoadClientCas(SSL_CTX* ctx, const TlsServerConfig& config) {
  if (config.client_ca_pem.empty()) return "";
  std::vector<X509Ptr> cas = ReadCertificates(config.client_ca_pem);
  if (cas.empty()) return "no PEM certificate found in " + config.client_ca_source;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& ca : cas) {
    // add_cert and add_client_CA take their own references / copies.
    if (X509_STORE_add_cert(store, ca.get()) != 1 || SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      return "cannot use CA certificate from " + config.client_ca_source + ": " +
             TakeOpenSslError();
    }
  }
  return "";
}

std::string SetCiphers(SSL_CTX* ctx, const TlsServerConfig& config) {
  std::string list;
  for (const std::string& name : config.cipher_suites) {
    // TLS 1.3 suites are not configurable in Go either; accept and skip them.
    if (name.rfind("TLS_AES_", 0) == 0 || name.rfind("TLS_CHACHA20_", 0) == 0) continue;
    std::string openssl_name = OPENSSL_cipher_name(name.c_str());
    if (openssl_name == "(NONE)") {
      // Go spells some ChaCha20 suites without the trailing _SHA256.
      openssl_name = OPENSSL_cipher_name((name + "_SHA256").c_str());
    }
    if (openssl_name == "(NONE)") return "unknown cipher suite \"" + name + "\" in cipher_suites";
    if (!list.empty()) list += ':';
    list += openssl_name;
  }
  if (!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    return "cipher_suites not usable: " + TakeOpenSslError();
  }
  if (config.prefer_server_cipher_suites) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  } else {
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  return "";
}

std::string SetCurves(SSL_CTX* ctx, const TlsServerConfig& config) {
  if (config.curve_preferences.empty()) return "";
  std::string list;
  for (const std::string& name : config.curve_preferences) {
    std::string group;
    if (name == "CurveP256") {
      group = "P-256";
    } else if (name == "CurveP384") {
      group = "P-384";
    } else if (name == "CurveP521") {
      group = "P-521";
    } else if (name == "X25519") {
      group = "X25519";
    } else {
      return "unsupported curve \"" + name +
             "\" in curve_preferences (use CurveP256, CurveP384, CurveP521 or X25519)";
    }
    if (!list.empty()) list += ':';
    list += group;
  }
  if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1) {
    return "curve_preferences not usable: " + TakeOpenSslError();
  }
  return "";
}

}  // namespace

std::string ConfigureServerContext(ssl_ctx_st* ctx, const TlsServerConfig& config) {
  ERR_clear_error();
  if (std::string err = LoadCertificateAndKey(ctx, config); !err.empty()) return err;
  if (std::string err = LoadClientCas(ctx, config); !err.empty()) return err;

  int mode = SSL_VERIFY_NONE;
  switch (config.client_auth) {
    case ClientAuth::kNoClientCert:
      break;
    case ClientAuth::kRequestClientCert:
    case ClientAuth::kVerifyClientCertIfGiven:
      mode = SSL_VERIFY_PEER;
      break;
    case ClientAuth::kRequireAnyClientCert:
    case ClientAuth::kRequireAndVerifyClientCert:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  SSL_CTX_set_app_data(ctx, const_cast<TlsServerConfig*>(&config));
  SSL_CTX_set_verify(ctx, mode, mode == SSL_VERIFY_NONE ? nullptr : VerifyClient);
  // Session resumption with client certificates needs an id context.
  SSL_CTX_set_session_id_context(ctx,
                                 reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
                                 static_cast<unsigned int>(kSessionIdContext.size()));

  // CivetWeb sets SSL_OP_NO_* from its own option; the configured bounds replace them.
  SSL_CTX_clear_options(ctx, SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                                 SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3);
  if (SSL_CTX_set_min_proto_version(ctx, ToOpenSslVersion(config.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, ToOpenSslVersion(config.max_version)) != 1) {
    return "cannot set TLS versions: " + TakeOpenSslError();
  }
  if (std::string err = SetCiphers(ctx, config); !err.empty()) return err;
  if (std::string err = SetCurves(ctx, config); !err.empty()) return err;
  return "";
}

std::string ValidateTlsServerConfig(const TlsServerConfig& config) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return "cannot create a TLS context: " + TakeOpenSslError();
  return ConfigureServerContext(ctx.get(), config);
}

}  // namespace ping_exporter::http::detail
