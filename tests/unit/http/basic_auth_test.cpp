#include "http/basic_auth.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "http/web_config.h"
#include "test_util.h"

namespace ping_exporter::http {
namespace {

using Clock = BasicAuth::Clock;

std::string Header(const std::string& user_colon_password) {
  // Encoded with the same table the server decodes; checked independently below.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string& in = user_colon_password;
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return "Basic " + out;
}

std::string HashWithHtpasswd(const std::string& password) {
  testing::CommandResult r = testing::Run({"htpasswd", "-nbB", "u", password});
  if (r.exit_code != 0 || r.output.size() < 3) return "";
  return r.output.substr(2, r.output.find('\n') - 2);
}

std::string HashWithPython(const std::string& password, const std::string& prefix) {
  testing::CommandResult r =
      testing::Run({"/usr/bin/python3", "-c",
                    "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), "
                    "bcrypt.gensalt(rounds=4, prefix=sys.argv[2].encode())).decode())",
                    password, prefix});
  if (r.exit_code != 0) return "";
  return r.output.substr(0, r.output.find('\n'));
}

TEST(BasicAuthTest, Base64Decoding) {
  EXPECT_EQ(Base64Decode("YWxpY2U6c2VjcmV0"), std::optional<std::string>("alice:secret"));
  EXPECT_EQ(Base64Decode("YQ=="), std::optional<std::string>("a"));
  EXPECT_EQ(Base64Decode("YWI="), std::optional<std::string>("ab"));
  EXPECT_EQ(Base64Decode(""), std::optional<std::string>(""));
  EXPECT_FALSE(Base64Decode("YQ").has_value());  // padding required
  EXPECT_FALSE(Base64Decode("Y===").has_value());
  EXPECT_FALSE(Base64Decode("YQ==YQ==").has_value());
  EXPECT_FALSE(Base64Decode("YW!j").has_value());
  EXPECT_EQ(Header("alice:secret"), "Basic YWxpY2U6c2VjcmV0");
}

TEST(BasicAuthTest, HtpasswdHashVerifies) {
  if (!testing::HaveProgram("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) missing";
  std::string hash = HashWithHtpasswd("correct horse");
  ASSERT_TRUE(IsBcryptHash(hash)) << hash;
  EXPECT_EQ(hash.substr(0, 4), "$2y$");
  EXPECT_TRUE(VerifyBcrypt("correct horse", hash));
  EXPECT_FALSE(VerifyBcrypt("correct horsE", hash));
  EXPECT_FALSE(VerifyBcrypt("", hash));
  EXPECT_FALSE(VerifyBcrypt(std::string("correct horse\0x", 15), hash));
}

TEST(BasicAuthTest, PythonBcrypt2aAnd2bVerify) {
  for (const char* prefix : {"2a", "2b"}) {
    std::string hash = HashWithPython("pässwörd", prefix);
    if (hash.empty()) GTEST_SKIP() << "python3-bcrypt missing";
    ASSERT_TRUE(IsBcryptHash(hash)) << hash;
    EXPECT_EQ(hash.substr(1, 2), prefix);
    EXPECT_TRUE(VerifyBcrypt("pässwörd", hash));
    EXPECT_FALSE(VerifyBcrypt("passwort", hash));
  }
}

TEST(BasicAuthTest, ChecksHeadersAndCachesSuccess) {
  if (!testing::HaveProgram("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) missing";
  std::string hash = HashWithHtpasswd("pw:with:colons");
  ASSERT_TRUE(IsBcryptHash(hash));
  BasicAuth auth({{"alice", hash}}, std::chrono::seconds(60));
  Clock::time_point t0 = Clock::now();

  EXPECT_EQ(auth.Check("", t0), std::nullopt);
  EXPECT_EQ(auth.Check("Bearer xyz", t0), std::nullopt);
  EXPECT_EQ(auth.Check("Basic", t0), std::nullopt);
  EXPECT_EQ(auth.Check("Basic %%%%", t0), std::nullopt);
  EXPECT_EQ(auth.Check(Header("alicepw"), t0), std::nullopt);  // no colon
  EXPECT_EQ(auth.bcrypt_runs(), 0u);  // malformed headers never reach bcrypt

  EXPECT_EQ(auth.Check(Header("alice:wrong"), t0), std::nullopt);
  EXPECT_EQ(auth.Check(Header("bob:pw:with:colons"), t0), std::nullopt);
  EXPECT_EQ(auth.bcrypt_runs(), 2u);  // the unknown user costs a bcrypt run too

  EXPECT_EQ(auth.Check(Header("alice:pw:with:colons"), t0), std::optional<std::string>("alice"));
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
  // Scheme is case-insensitive; the second success comes from the cache.
  EXPECT_EQ(auth.Check("basic " + Header("alice:pw:with:colons").substr(6),
                       t0 + std::chrono::seconds(30)),
            std::optional<std::string>("alice"));
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
  // Failures are never cached: a wrong password is rechecked every time.
  EXPECT_EQ(auth.Check(Header("alice:wrong"), t0), std::nullopt);
  EXPECT_EQ(auth.bcrypt_runs(), 4u);
  // After the TTL the hash is checked again.
  EXPECT_EQ(auth.Check(Header("alice:pw:with:colons"), t0 + std::chrono::seconds(61)),
            std::optional<std::string>("alice"));
  EXPECT_EQ(auth.bcrypt_runs(), 5u);
}

// Whether a thread of this process named "bcrypt" exists (a check is running).
bool BcryptThreadRunning() {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "bcrypt") return true;
  }
  return false;
}

TEST(BasicAuthTest, AbandonReleasesAWaitingCheck) {
  // A well-formed cost-13 hash (about a second of bcrypt); its digest matches nothing.
  const std::string hash = "$2y$13$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";
  auto auth = std::make_unique<BasicAuth>(std::map<std::string, std::string>{{"alice", hash}});
  std::future<std::optional<std::string>> check = std::async(
      std::launch::async, [&] { return auth->Check(Header("alice:wrong"), Clock::now()); });
  bool running = false;
  for (int i = 0; i < 2000 && !running; ++i) {  // at most 2 s
    running = BcryptThreadRunning();
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(running) << "no bcrypt thread seen";
  auto abandoned_at = Clock::now();
  auth->Abandon();
  ASSERT_EQ(check.wait_for(std::chrono::milliseconds(500)), std::future_status::ready);
  EXPECT_EQ(check.get(), std::nullopt);
  EXPECT_LT(Clock::now() - abandoned_at, std::chrono::milliseconds(500));
  EXPECT_EQ(auth->bcrypt_runs(), 0u);
  // Later checks are refused without a run; the object can go while the run goes on.
  EXPECT_EQ(auth->Check(Header("alice:other"), Clock::now()), std::nullopt);
  auth.reset();
}

TEST(BasicAuthTest, RecognisesBcryptHashes) {
  const std::string good = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";
  EXPECT_TRUE(IsBcryptHash(good));
  EXPECT_TRUE(IsBcryptHash("$2a$" + good.substr(4)));
  EXPECT_TRUE(IsBcryptHash("$2b$" + good.substr(4)));
  EXPECT_FALSE(IsBcryptHash("$2x$" + good.substr(4)));
  // Any two-digit cost has the shape (LoadWebConfig refuses costs outside 4..16).
  EXPECT_TRUE(IsBcryptHash("$2y$03$" + good.substr(7)));
  EXPECT_EQ(BcryptCost("$2y$03$" + good.substr(7)), 3);
  EXPECT_EQ(BcryptCost("$2y$31$" + good.substr(7)), 31);
  EXPECT_EQ(BcryptCost(good), 10);
  EXPECT_FALSE(IsBcryptHash("$2y$1x$" + good.substr(7)));
  EXPECT_FALSE(IsBcryptHash(good.substr(0, 59)));
  EXPECT_FALSE(IsBcryptHash(good.substr(0, 59) + "!"));
  EXPECT_FALSE(IsBcryptHash("plaintext"));
  EXPECT_FALSE(IsBcryptHash("$6$salt$abcdef"));
}

}  // namespace
}  // namespace ping_exporter::http
