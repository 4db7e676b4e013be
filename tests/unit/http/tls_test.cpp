// TLS, mutual TLS and basic auth over HTTPS, against certificates made by the
// openssl CLI in a fresh temporary directory and requests made by curl.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "http/server.h"
#include "http/web_config.h"
#include "test_util.h"

namespace ping_exporter::http {
namespace {

using testing::CommandResult;
using testing::TempDir;

const char kMetrics[] = "ping_up{target=\"loopback\"} 1\n";

struct CurlResult {
  int exit_code = -1;
  int status = 0;
  std::string body;
  std::string output;
};

class HttpServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveProgram("openssl") || !testing::HaveProgram("curl")) {
      GTEST_SKIP() << "needs the openssl and curl programs";
    }
    ASSERT_FALSE(dir_.path().empty());
    MakeCa("ca");
    MakeCa("other-ca");
    MakeLeaf("server", "ca",
             "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "extendedKeyUsage=serverAuth\n");
    MakeLeaf("client", "ca", "subjectAltName=DNS:client-one\nextendedKeyUsage=clientAuth\n");
    MakeLeaf("stranger", "other-ca",
             "subjectAltName=DNS:client-one\nextendedKeyUsage=clientAuth\n");
  }

  void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    CommandResult r = testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << args[1] << ": " << r.output;
  }

  void MakeCa(const std::string& name) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", dir_ / (name + ".key"), "-out", dir_ / (name + ".crt"), "-days", "1",
             "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign"});
  }

  void MakeLeaf(const std::string& name, const std::string& ca, const std::string& extensions) {
    std::string ext = dir_.Write(name + ".ext", extensions);
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", dir_ / (name + ".key"), "-out", dir_ / (name + ".csr"), "-subj",
             "/CN=" + name});
    Openssl({"x509", "-req", "-in", dir_ / (name + ".csr"), "-CA", dir_ / (ca + ".crt"), "-CAkey",
             dir_ / (ca + ".key"), "-set_serial", "7", "-days", "1", "-out", dir_ / (name + ".crt"),
             "-extfile", ext});
  }

  std::string TlsConfig(const std::string& extra = "") {
    return "tls_server_config:\n  cert_file: " + dir_ / "server.crt" +
           "\n  key_file: server.key\n" + extra;  // key_file relative to the config file
  }

  Expected<std::unique_ptr<Server>, std::string> Start(const std::string& web_config) {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.connections = 4;
    options.request_timeout = std::chrono::seconds(3);
    options.web_config_file = dir_.Write("web.yml", web_config);
    std::vector<Route> routes;
    routes.push_back({"/metrics", [](const Request&) {
                        Response r;
                        r.body = kMetrics;
                        r.compressible = true;
                        return r;
                      }});
    return Server::Start(options, std::move(routes), logger_);
  }

  CurlResult Curl(uint16_t port, std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "curl",     "-sS",           "--max-time", "5",
        "--cacert", dir_ / "ca.crt", "-w",         "\nHTTP_CODE=%{http_code}"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("https://127.0.0.1:" + std::to_string(port) + "/metrics");
    CommandResult r = testing::Run(args);
    CurlResult out;
    out.exit_code = r.exit_code;
    out.output = r.output;
    size_t code = r.output.rfind("\nHTTP_CODE=");
    if (code != std::string::npos) {
      out.status = std::atoi(r.output.c_str() + code + 11);
      out.body = r.output.substr(0, code);
    }
    return out;
  }

  std::vector<std::string> ClientCert(const std::string& name) {
    return {"--cert", dir_ / (name + ".crt"), "--key", dir_ / (name + ".key")};
  }

  TempDir dir_;
  std::ostringstream log_;
  Logger logger_{log_, LogLevel::kInfo, LogFormat::kLogfmt};
};

TEST_F(HttpServerTlsTest, ServesHttpsWithSeparateCertAndKeyFiles) {
  auto server = Start(TlsConfig());
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_TRUE((*server)->tls());
  CurlResult ok = Curl((*server)->port(), {});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, kMetrics);
  CurlResult gz = Curl((*server)->port(), {"--compressed"});
  EXPECT_EQ(gz.status, 200);
  EXPECT_EQ(gz.body, kMetrics);
}

TEST_F(HttpServerTlsTest, PlainHttpOnTlsPortGetsNoMetrics) {
  auto server = Start(TlsConfig());
  ASSERT_TRUE(server.has_value()) << server.error();
  testing::HttpReply reply = testing::Get((*server)->port(), "/metrics");
  EXPECT_NE(reply.status, 200);
  EXPECT_EQ(reply.raw.find("ping_up"), std::string::npos) << reply.raw;
  // And HTTPS still works afterwards.
  EXPECT_EQ(Curl((*server)->port(), {}).status, 200);
}

TEST_F(HttpServerTlsTest, MutualTlsNeedsATrustedClientCertificate) {
  auto server =
      Start(TlsConfig("  client_auth_type: RequireAndVerifyClientCert\n"
                      "  client_ca_file: ca.crt\n"));
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();

  CurlResult none = Curl(port, {});
  EXPECT_NE(none.exit_code, 0) << none.output;
  EXPECT_EQ(none.body.find("ping_up"), std::string::npos);
  CurlResult stranger = Curl(port, ClientCert("stranger"));
  EXPECT_NE(stranger.exit_code, 0) << stranger.output;
  EXPECT_EQ(stranger.body.find("ping_up"), std::string::npos);

  CurlResult ok = Curl(port, ClientCert("client"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, kMetrics);
}

TEST_F(HttpServerTlsTest, VerifyClientCertIfGivenAllowsNoneButNotUntrusted) {
  auto server =
      Start(TlsConfig("  client_auth_type: VerifyClientCertIfGiven\n"
                      "  client_ca_file: " +
                      dir_ / "ca.crt" + "\n"));
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_EQ(Curl((*server)->port(), {}).status, 200);
  EXPECT_EQ(Curl((*server)->port(), ClientCert("client")).status, 200);
  CurlResult stranger = Curl((*server)->port(), ClientCert("stranger"));
  EXPECT_NE(stranger.exit_code, 0) << stranger.output;
  EXPECT_NE(stranger.status, 200);
}

TEST_F(HttpServerTlsTest, ClientAllowedSans) {
  const std::string base =
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  client_ca_file: ca.crt\n  client_allowed_sans:\n";
  {
    auto server = Start(TlsConfig(base + "    - client-two\n"));
    ASSERT_TRUE(server.has_value()) << server.error();
    CurlResult refused = Curl((*server)->port(), ClientCert("client"));
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    EXPECT_NE(refused.status, 200);
  }
  auto server = Start(TlsConfig(base + "    - client-two\n    - client-one\n"));
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_EQ(Curl((*server)->port(), ClientCert("client")).status, 200);
}

TEST_F(HttpServerTlsTest, ProtocolVersionBounds) {
  {
    auto server = Start(TlsConfig("  min_version: TLS13\n"));
    ASSERT_TRUE(server.has_value()) << server.error();
    CurlResult old = Curl((*server)->port(), {"--tls-max", "1.2"});
    EXPECT_NE(old.exit_code, 0) << old.output;
    EXPECT_EQ(Curl((*server)->port(), {"--tlsv1.3"}).status, 200);
  }
  auto server = Start(TlsConfig("  max_version: TLS12\n"));
  ASSERT_TRUE(server.has_value()) << server.error();
  CurlResult modern = Curl((*server)->port(), {"--tlsv1.3"});
  EXPECT_NE(modern.exit_code, 0) << modern.output;
  EXPECT_EQ(Curl((*server)->port(), {"--tls-max", "1.2"}).status, 200);
}

TEST_F(HttpServerTlsTest, BasicAuthOverTls) {
  if (!testing::HaveProgram("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) missing";
  CommandResult hash = testing::Run({"htpasswd", "-nbB", "scraper", "tls-pass"});
  ASSERT_EQ(hash.exit_code, 0) << hash.output;
  std::string line = hash.output.substr(0, hash.output.find('\n'));
  auto server = Start(TlsConfig() + "basic_auth_users:\n  " + line.substr(0, line.find(':')) +
                      ": '" + line.substr(line.find(':') + 1) + "'\n");
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  EXPECT_EQ(Curl(port, {}).status, 401);
  EXPECT_EQ(Curl(port, {"-u", "scraper:nope"}).status, 401);
  CurlResult ok = Curl(port, {"-u", "scraper:tls-pass"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, kMetrics);
}

TEST_F(HttpServerTlsTest, InlineCertificateAndKey) {
  auto indent = [](const std::string& path) {
    std::ifstream in(path);
    std::string text, line;
    while (std::getline(in, line)) text += "    " + line + "\n";
    return text;
  };
  auto server = Start("tls_server_config:\n  cert: |\n" + indent(dir_ / "server.crt") +
                      "  key: |\n" + indent(dir_ / "server.key"));
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_EQ(Curl((*server)->port(), {}).body, kMetrics);
}

TEST_F(HttpServerTlsTest, BadTlsMaterialIsReportedWithTheFile) {
  struct Case {
    std::string config;
    std::string message;
  };
  Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-aes256",
           "-pass", "pass:secret", "-out", dir_ / "encrypted.key"});
  dir_.Write("garbage.crt", "not a certificate\n");
  const std::string cert = "tls_server_config:\n  cert_file: server.crt\n";
  const Case cases[] = {
      {cert + "  key_file: client.key\n", "key_file " + dir_ / "client.key" +
                                              " does not match the certificate in cert_file " +
                                              dir_ / "server.crt"},
      {cert + "  key_file: encrypted.key\n", "cannot read an unencrypted PEM private key"},
      {"tls_server_config:\n  cert_file: garbage.crt\n  key_file: server.key\n",
       "no PEM certificate found in cert_file " + dir_ / "garbage.crt"},
      {cert + "  key_file: server.key\n  client_ca_file: ca.crt\n",
       "client CAs are configured but client_auth_type is NoClientCert"},
      {cert + "  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
       "needs client_ca_file"},
      {cert + "  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n"
              "  client_ca_file: garbage.crt\n",
       "no PEM certificate found in client_ca_file"},
      {cert + "  key_file: server.key\n  cipher_suites: [TLS_NOT_A_SUITE]\n",
       "unknown cipher suite \"TLS_NOT_A_SUITE\""},
      {cert + "  key_file: server.key\n  curve_preferences: [CurveP999]\n",
       "unsupported curve \"CurveP999\""},
      {cert + "  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n",
       "min_version is greater than max_version"},
  };
  for (const Case& c : cases) {
    auto server = Start(c.config);
    ASSERT_FALSE(server.has_value()) << c.config;
    EXPECT_NE(server.error().find(dir_ / "web.yml"), std::string::npos) << server.error();
    EXPECT_NE(server.error().find(c.message), std::string::npos) << server.error();
    EXPECT_EQ(server.error().find("PRIVATE KEY"), std::string::npos) << server.error();
  }
}

TEST_F(HttpServerTlsTest, GoCipherAndCurveNamesAreAccepted) {
  auto server =
      Start(TlsConfig("  max_version: TLS12\n"
                      "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "
                      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, TLS_AES_128_GCM_SHA256]\n"
                      "  curve_preferences: [X25519, CurveP256]\n"
                      "  prefer_server_cipher_suites: false\n"));
  ASSERT_TRUE(server.has_value()) << server.error();
  CurlResult ok = Curl((*server)->port(), {"--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"});
  EXPECT_EQ(ok.status, 200) << ok.output;
  CurlResult other = Curl((*server)->port(), {"--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"});
  EXPECT_NE(other.exit_code, 0) << other.output;  // not in the configured list
}

}  // namespace
}  // namespace ping_exporter::http
