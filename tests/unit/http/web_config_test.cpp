#include "http/web_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

namespace ping_exporter::http {
namespace {

std::string TestData(const std::string& name) {
  return std::string(PE_TESTDATA_DIR) + "/http/testdata/" + name;
}

const char kHash[] = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

TEST(WebConfigTest, EmptyFilesMeanPlainHttp) {
  for (const char* name : {"web_empty.good.yml", "web_comments_only.good.yml"}) {
    Expected<WebConfig, std::string> config = LoadWebConfig(TestData(name));
    ASSERT_TRUE(config.has_value()) << config.error();
    EXPECT_FALSE(config->tls.has_value());
    EXPECT_TRUE(config->basic_auth_users.empty());
    EXPECT_TRUE(config->headers.empty());
  }
}

TEST(WebConfigTest, AuthAndHeaders) {
  Expected<WebConfig, std::string> config = LoadWebConfig(TestData("web_auth_headers.good.yml"));
  ASSERT_TRUE(config.has_value()) << config.error();
  // Only min_version under tls_server_config: TLS stays off, as in exporter-toolkit.
  EXPECT_FALSE(config->tls.has_value());
  ASSERT_EQ(config->basic_auth_users.size(), 2u);
  EXPECT_EQ(config->basic_auth_users.at("alice"), kHash);
  EXPECT_EQ(config->basic_auth_users.at("bob"), kHash);
  // Blank header values mean "unset".
  std::vector<std::pair<std::string, std::string>> want = {{"X-Frame-Options", "sameorigin"},
                                                           {"X-Content-Type-Options", "nosniff"}};
  EXPECT_EQ(config->headers, want);
}

struct InvalidCase {
  const char* file;
  const char* message;  // must appear in the error
  int line;             // 0 = do not check
};

TEST(WebConfigTest, InvalidFilesSayWhereAndWhat) {
  const InvalidCase cases[] = {
      {"invalid_unknown_top_key.yml", "unknown key \"tls_server_confg\"", 1},
      {"invalid_unknown_tls_key.yml", "tls_server_config: unknown key \"client_auth\"", 4},
      {"invalid_duplicate_user.yml", "duplicate key \"alice\"", 3},
      {"invalid_plaintext_password.yml", "password of user \"alice\" is not a bcrypt hash", 2},
      {"invalid_client_auth_type.yml", "client_auth_type must be one of", 4},
      {"invalid_min_version.yml", "min_version must be one of TLS10, TLS11, TLS12, TLS13", 4},
      {"invalid_missing_cert.yml", "missing cert_file (or cert)", 0},
      {"invalid_missing_key.yml", "missing key_file (or key)", 0},
      {"invalid_cert_file_not_found.yml", "cannot read cert_file", 2},
      {"invalid_yaml_syntax.yml", "invalid YAML", 0},
      {"invalid_rate_limit.yml", "rate_limit is not supported", 0},
      {"invalid_header_value.yml", "X-Frame-Options must be \"deny\" or \"sameorigin\"", 3},
      {"invalid_header_name.yml", "unknown key \"X-Custom\"", 3},
      {"invalid_not_mapping.yml", "must be a mapping", 1},
      {"invalid_http2_not_bool.yml", "http2 must be true or false", 2},
      {"invalid_users_not_mapping.yml", "basic_auth_users must be a mapping", 2},
      {"invalid_sans_not_list.yml", "client_allowed_sans must be a list of strings", 4},
      {"invalid_bcrypt_cost_high.yml",
       "the bcrypt hash of user \"alice\" has cost 31, outside the allowed 4..16", 3},
      {"invalid_bcrypt_cost_low.yml",
       "the bcrypt hash of user \"bob\" has cost 3, outside the allowed 4..16", 2},
  };
  for (const InvalidCase& c : cases) {
    std::string path = TestData(c.file);
    Expected<WebConfig, std::string> config = LoadWebConfig(path);
    ASSERT_FALSE(config.has_value()) << c.file << " was accepted";
    const std::string& err = config.error();
    EXPECT_EQ(err.rfind(path, 0), 0u) << c.file << ": " << err;
    EXPECT_NE(err.find(c.message), std::string::npos) << c.file << ": " << err;
    if (c.line > 0) {
      EXPECT_EQ(err.rfind(path + ":" + std::to_string(c.line) + ":", 0), 0u)
          << c.file << ": " << err;
    }
  }
}

TEST(WebConfigTest, ErrorsNeverContainPasswords) {
  Expected<WebConfig, std::string> config =
      LoadWebConfig(TestData("invalid_plaintext_password.yml"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().find("hunter2"), std::string::npos) << config.error();
  // Nor hashes: the salt and digest part of the cost-31 one.
  config = LoadWebConfig(TestData("invalid_bcrypt_cost_high.yml"));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().find("X0h1gDsPszWURQaxFh"), std::string::npos) << config.error();
}

TEST(WebConfigTest, MissingFileNamesIt) {
  Expected<WebConfig, std::string> config = LoadWebConfig("/nonexistent/dir/web.yml");
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().find("/nonexistent/dir/web.yml"), std::string::npos);
  EXPECT_NE(config.error().find("No such file"), std::string::npos) << config.error();
}

// Issue #14: a FIFO as cert_file hung start-up; /dev/zero was read until memory ran out.
TEST(WebConfigTest, FilesThatAreNotRegularAreRefusedAtOnce) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string fifo = (std::filesystem::path(dir.path()) / "cert.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& cert : {fifo, std::string("/dev/zero")}) {
    std::string web = dir.Write(
        "web.yml", "tls_server_config:\n  cert_file: " + cert + "\n  key_file: " + cert + "\n");
    Expected<WebConfig, std::string> config = LoadWebConfig(web);
    ASSERT_FALSE(config.has_value()) << cert;
    EXPECT_EQ(config.error(),
              web + ":2:14: cannot read cert_file " + cert + ": not a regular file");
  }
  Expected<WebConfig, std::string> config = LoadWebConfig(fifo);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error(), "cannot read web config " + fifo + ": not a regular file");
}

TEST(WebConfigTest, OversizedFilesAreRefused) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string big = dir.Write("big.pem", std::string((4u << 20) + 1, 'x'));
  std::string web =
      dir.Write("web.yml", "tls_server_config:\n  cert_file: big.pem\n  key_file: big.pem\n");
  Expected<WebConfig, std::string> config = LoadWebConfig(web);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error(),
            web + ":2:14: cannot read cert_file " + big + ": file is larger than 4 MiB");
  Expected<WebConfig, std::string> direct = LoadWebConfig(big);
  ASSERT_FALSE(direct.has_value());
  EXPECT_EQ(direct.error(), "cannot read web config " + big + ": file is larger than 4 MiB");
}

TEST(WebConfigTest, RelativePathsResolveAgainstConfigDirectory) {
  Expected<WebConfig, std::string> config = ParseWebConfig(
      "tls_server_config:\n  cert_file: sub/server.crt\n  key_file: /abs/server.key\n",
      "/some/dir/web.yml");
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().find("/some/dir/sub/server.crt"), std::string::npos) << config.error();
}

TEST(WebConfigTest, InlineAndFileAreExclusive) {
  Expected<WebConfig, std::string> config = ParseWebConfig(
      "tls_server_config:\n  cert: |\n    x\n  cert_file: a.crt\n  key: y\n", "/d/web.yml");
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().find("set only one of cert and cert_file"), std::string::npos)
      << config.error();
}

}  // namespace
}  // namespace ping_exporter::http
