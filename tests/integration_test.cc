// Into existing systems (issue 7): `onem2m-psk export` for the TLS-PSK
// peers users already run (GnuTLS, stock openssl), checked against the
// known answers of vectors.json and against a real gnutls-serv.

#include <gtest/gtest.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "onem2m/psk.h"
#include "test_support.h"

namespace onem2m::testing {
namespace {

CommandResult Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {CliBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// HexOf returns the lower-case hex of a string's octets.
std::string HexOf(const std::string& text) {
  return ToHex(reinterpret_cast<const unsigned char*>(text.data()),
               text.size());
}

// GnutlsLine is the passwd.psk line GnuTLS's psktool writes for an
// identity and a PSK: an identity with ':' in its '#' hex form.
std::string GnutlsLine(const std::string& identity, const std::string& psk) {
  std::string user = identity.find(':') == std::string::npos
                         ? identity
                         : "#" + HexOf(identity);
  return user + ":" + psk + "\n";
}

unsigned FileMode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Every known answer of vectors.json through both export formats, from a
// keystore file with the version given: the same identity and PSK as the
// independent implementation computed (spec sections 3 and 4).
class ExportVectorTest : public ::testing::TestWithParam<KnownAnswer> {};

TEST_P(ExportVectorTest, SServerFormatPrintsTheVectorIdentityAndPsk) {
  const KnownAnswer& ka = GetParam();
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  CommandResult r =
      Cli({"export", "--keystore", keys, "--format", "s_server", "--key-id",
           ka.key_id, "--version", std::to_string(ka.version)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ka.identity + "\n" + ka.psk_hex + "\n");
}

TEST_P(ExportVectorTest, GnutlsFormatWritesTheVectorAsAPasswdPskLine) {
  const KnownAnswer& ka = GetParam();
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  CommandResult r =
      Cli({"export", "--keystore", keys, "--format", "gnutls", "--key-id",
           ka.key_id, "--version", std::to_string(ka.version)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, GnutlsLine(ka.identity, ka.psk_hex));
}

TEST_P(ExportVectorTest, RootKeyFileGivesTheSamePskAsTheKeystore) {
  const KnownAnswer& ka = GetParam();
  ScopedTempDir dir;
  std::string root = dir.WriteFile("root", ka.root_key_hex + "\n");
  CommandResult r =
      Cli({"export", "--root-key-file", root, "--format", "s_server",
           "--key-id", ka.key_id, "--version", std::to_string(ka.version)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ka.identity + "\n" + ka.psk_hex + "\n");
}

INSTANTIATE_TEST_SUITE_P(Vectors, ExportVectorTest,
                         ::testing::ValuesIn(LoadKnownAnswers()),
                         [](const auto& info) { return info.param.Name(); });

// The vector of (key_id, root key, version), which must exist.
KnownAnswer FindVector(const std::string& key_id, size_t root_len,
                       unsigned version) {
  for (const KnownAnswer& ka : LoadKnownAnswers()) {
    if (ka.key_id == key_id && ka.root_key_hex.size() == 2 * root_len &&
        ka.version == version) {
      return ka;
    }
  }
  ADD_FAILURE() << "no vector for " << key_id << " v" << version;
  return {};
}

const char kDevice[] = "dev-0001@sp.example.com";
const char kMeter[] = "CAE-meter.17@m2m.operator.example";

TEST(ExportTest, WholeKeystoreGetsEachKeysHighestAllowedVersionButNotZero) {
  KnownAnswer dev = FindVector(kDevice, 32, 3);
  KnownAnswer meter = FindVector(kMeter, 32, 2);
  KnownAnswer k = FindVector("k", 32, 1);
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", dev.key_id + ":" + dev.root_key_hex + "\n" + meter.key_id + ":" +
                  meter.root_key_hex + ":versions=1,2\n" + k.key_id + ":" +
                  k.root_key_hex + ":versions=0,1\n");
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Sorted by KeyID, as `check` lists them.
  EXPECT_EQ(r.out, GnutlsLine(meter.identity, meter.psk_hex) +
                       GnutlsLine(dev.identity, dev.psk_hex) +
                       GnutlsLine(k.identity, k.psk_hex));
}

TEST(ExportTest, VersionZeroIsExportedOnlyWhenAskedFor) {
  KnownAnswer k0 = FindVector("k", 16, 0);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", "k:" + k0.root_key_hex + ":versions=0\n");
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("k allows only version 0, whose PSK is the Root Key "
                       "itself: give --version 0"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");

  r = Cli(
      {"export", "--keystore", keys, "--format", "gnutls", "--version", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A bare KeyID has no ':' and stays readable in passwd.psk.
  EXPECT_EQ(r.out, "k:" + k0.psk_hex + "\n");
}

TEST(ExportTest, OutFileIsCreatedPrivateAndHoldsExactlyTheLines) {
  KnownAnswer dev = FindVector(kDevice, 32, 2);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", dev.key_id + ":" + dev.root_key_hex + "\n");
  std::string out = dir.path() + "/passwd.psk";
  // A permissive umask must not loosen the file.
  mode_t old_umask = umask(0);
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls",
                         "--version", "2", "--out", out});
  umask(old_umask);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(FileMode(out), 0600u);
  EXPECT_EQ(ReadFile(out), GnutlsLine(dev.identity, dev.psk_hex));
}

TEST(ExportTest, OutReplacesAnExistingPrivateFileCompletely) {
  KnownAnswer dev = FindVector(kDevice, 32, 1);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", dev.key_id + ":" + dev.root_key_hex + "\n");
  std::string out =
      dir.WriteFile("psk.txt", std::string(1000, 'x') + "\n", 0600);
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "s_server",
                         "--key-id", kDevice, "--version", "1", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(out), dev.identity + "\n" + dev.psk_hex + "\n");
  EXPECT_EQ(FileMode(out), 0600u);
}

TEST(ExportTest, OutRefusesAnExistingFileThatOthersCanRead) {
  KnownAnswer dev = FindVector(kDevice, 32, 2);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", dev.key_id + ":" + dev.root_key_hex + "\n");
  for (unsigned mode : {0644u, 0640u, 0604u}) {
    std::string out = dir.WriteFile("shared.psk", "old\n", mode);
    CommandResult r =
        Cli({"export", "--keystore", keys, "--format", "gnutls", "--out", out});
    EXPECT_EQ(r.exit_code, 1) << mode;
    char text[8];
    std::snprintf(text, sizeof(text), "%04o", mode);
    EXPECT_NE(r.err.find("refusing to write PSKs to " + out + ": it has mode " +
                         text + ", which lets group or others read it"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(ReadFile(out), "old\n");
    EXPECT_EQ(FileMode(out), mode);
  }
}

TEST(ExportTest, OutRefusesSymbolicLinksAndDirectories) {
  KnownAnswer dev = FindVector(kDevice, 32, 2);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", dev.key_id + ":" + dev.root_key_hex + "\n");
  std::string victim = dir.WriteFile("victim", "precious\n", 0600);
  std::string link = dir.path() + "/link.psk";
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  CommandResult r =
      Cli({"export", "--keystore", keys, "--format", "gnutls", "--out", link});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to follow it"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(victim), "precious\n");

  // A dangling link is refused too, and creates nothing at its target.
  std::string dangling = dir.path() + "/dangling.psk";
  std::string target = dir.path() + "/target";
  ASSERT_EQ(symlink(target.c_str(), dangling.c_str()), 0);
  r = Cli(
      {"export", "--keystore", keys, "--format", "gnutls", "--out", dangling});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to follow it"), std::string::npos) << r.err;
  EXPECT_NE(access(target.c_str(), F_OK), 0);

  r = Cli({"export", "--keystore", keys, "--format", "gnutls", "--out",
           dir.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << r.err;
}

TEST(ExportTest, WritesNothingWhenAnyKeyRefusesTheRequestedVersion) {
  KnownAnswer dev = FindVector(kDevice, 32, 2);
  KnownAnswer meter = FindVector(kMeter, 32, 2);
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", dev.key_id + ":" + dev.root_key_hex + "\n" + meter.key_id + ":" +
                  meter.root_key_hex + ":versions=3\n");
  std::string out = dir.path() + "/passwd.psk";
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls",
                         "--version", "2", "--out", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("versions= attribute for " + meter.key_id +
                       " does not allow version 2 (it allows 3)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(access(out.c_str(), F_OK), 0);
}

TEST(ExportTest, RefusesRequestsItCannotAnswer) {
  KnownAnswer dev = FindVector(kDevice, 32, 2);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", dev.key_id + ":" + dev.root_key_hex + "\n");
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  } cases[] = {
      {{"--format", "s_server"},
       2,
       "--format s_server exports one KeyID: give --key-id ID"},
      {{"--format", "pem"}, 2, "export needs --format gnutls or --format "},
      {{}, 2, "export needs --format gnutls or --format s_server"},
      {{"--format", "gnutls", "--key-id", "stranger"},
       1,
       "the keystore has no KeyID stranger"},
      {{"--format", "gnutls", "--key-id", "a:b"},
       1,
       "KeyID has ':' at position 2"},
      {{"--format", "gnutls", "--version", "4"},
       2,
       "--version takes 0, 1, 2 or 3"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"export", "--keystore", keys};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  std::string root = dir.WriteFile("root", dev.root_key_hex + "\n");
  CommandResult r =
      Cli({"export", "--root-key-file", root, "--format", "gnutls"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--root-key-file needs --key-id ID"), std::string::npos)
      << r.err;
}

TEST(ExportTest, RefusesAKeystoreOthersCanRead) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", std::string(kDevice) + ":" + std::string(64, 'a') + "\n", 0644);
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot load keystore"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// A real GnuTLS server reads the exported passwd.psk file, and our client
// authenticates to it: TLS 1.2 with KDF version 2 pinned (GnuTLS sends no
// onem2m-versions hint), and TLS 1.3 with version 1.
struct GnutlsCase {
  const char* protocol;  // connect's option
  unsigned version;
};

class GnutlsInteropTest : public ::testing::TestWithParam<GnutlsCase> {};

TEST_P(GnutlsInteropTest, GnutlsServAcceptsOurClientWithTheExportedFile) {
  std::string gnutls_serv = FindProgram("gnutls-serv");
  ASSERT_FALSE(gnutls_serv.empty())
      << "gnutls-serv not installed: apt-get install gnutls-bin";
  const GnutlsCase& c = GetParam();
  KnownAnswer ka = FindVector(kDevice, 32, c.version);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  std::string passwd = dir.path() + "/passwd.psk";
  CommandResult r =
      Cli({"export", "--keystore", keys, "--format", "gnutls", "--version",
           std::to_string(c.version), "--out", passwd});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // gnutls-serv has no option to bind to one address: it listens on every
  // interface of the port, and only our loopback client talks to it.
  int port = FreeLoopbackPort();
  BackgroundProcess server({gnutls_serv, "--port", std::to_string(port),
                            "--pskpasswd", passwd, "--priority",
                            "NORMAL:+PSK:+ECDHE-PSK", "--echo"});
  ASSERT_TRUE(server.WaitForOutput("listening on IPv4")) << server.Output();
  r = Cli({"connect", "--key-id", ka.key_id, "--keystore", keys, c.protocol,
           "--version", std::to_string(c.version),
           "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 0) << r.err << server.Output();
  EXPECT_NE(r.out.find("kdf_version:  " + std::to_string(c.version)),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(server.WaitForOutput("PSK authentication. Connected as '" +
                                   ka.identity + "'"))
      << server.Output();

  // A client that offers another version is refused by GnuTLS.
  unsigned other = c.version == 2 ? 3 : 2;
  r = Cli({"connect", "--key-id", ka.key_id, "--keystore", keys, c.protocol,
           "--version", std::to_string(other),
           "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  server.Stop();
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, GnutlsInteropTest,
    ::testing::Values(GnutlsCase{"--tls1_2", 2}, GnutlsCase{"--tls1_2", 3},
                      GnutlsCase{"--tls1_3", 1}),
    [](const auto& info) {
      return std::string(info.param.protocol == std::string("--tls1_2")
                             ? "Tls12"
                             : "Tls13") +
             "_KdfVersion" + std::to_string(info.param.version);
    });

// ---- The install tree: cmake --install into a scratch prefix ----

const auto kBuildTimeout = std::chrono::seconds(300);

// Words splits pkg-config's output at white space.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) {
        out.push_back(word);
      }
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) {
    out.push_back(word);
  }
  return out;
}

// InstalledTree is `cmake --install` of this build into a fresh prefix.
struct InstalledTree {
  ScopedTempDir dir;
  std::string prefix;
  std::string libdir;  // <prefix>/lib/<multiarch>, found through the .pc
  std::string pc_dir;
  std::string modules_dir;

  // Install runs the install; false (with a test failure) if it fails.
  bool Install() {
    prefix = dir.path() + "/prefix";
    CommandResult r = RunCommand({ONEM2M_CMAKE_COMMAND, "--install",
                                  ONEM2M_BINARY_DIR, "--prefix", prefix},
                                 "", kBuildTimeout);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // OpenSSL's own modules directory is never touched by a scratch prefix.
    EXPECT_EQ(r.out.find("Installing: /usr/"), std::string::npos) << r.out;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(prefix)) {
      if (entry.path().filename() == "onem2m-psk.pc") {
        pc_dir = entry.path().parent_path().string();
        libdir = entry.path().parent_path().parent_path().string();
      }
    }
    EXPECT_FALSE(pc_dir.empty()) << "no onem2m-psk.pc below " << prefix;
    modules_dir = libdir + "/ossl-modules";
    return r.exit_code == 0 && !pc_dir.empty();
  }

  // Env is what a program built against the tree needs to run from it.
  std::map<std::string, std::string> Env() const {
    return {{"LD_LIBRARY_PATH", libdir}, {"OPENSSL_MODULES", modules_dir}};
  }
};

bool IsRegularFile(const std::string& path) {
  return std::filesystem::is_regular_file(path);
}

TEST(InstallTest, PutsEachPieceWhereOpensslUsersLookForIt) {
  InstalledTree tree;
  ASSERT_TRUE(tree.Install());
  const std::string& p = tree.prefix;
  EXPECT_EQ(tree.libdir.rfind(p + "/lib", 0), 0u) << tree.libdir;
  for (const std::string& file :
       {p + "/bin/onem2m-psk", p + "/include/onem2m/psk.h",
        p + "/include/onem2m/keystore.h", p + "/include/onem2m/kdf.h",
        p + "/include/onem2m/err.h", tree.libdir + "/libonem2m_psk.so.0",
        tree.modules_dir + "/onem2m.so",
        tree.libdir + "/cmake/onem2m_psk/onem2m_pskConfig.cmake",
        tree.libdir + "/cmake/onem2m_psk/onem2m_pskConfigVersion.cmake",
        p + "/share/doc/onem2m-psk/openssl.cnf.sample",
        p + "/share/doc/onem2m-psk/integration.md",
        p + "/share/man/man1/onem2m-psk.1", p + "/share/man/man7/onem2m.7"}) {
    EXPECT_TRUE(IsRegularFile(file)) << file;
  }
  // Internal pieces stay out: the static core, the soak driver.
  EXPECT_FALSE(IsRegularFile(tree.libdir + "/libonem2m_psk_core.a"));
  EXPECT_FALSE(IsRegularFile(p + "/bin/onem2m-soak"));

  // pkg-config names the tree and where the provider went.
  std::string pkg_config = FindProgram("pkg-config");
  ASSERT_FALSE(pkg_config.empty()) << "pkg-config not installed";
  std::map<std::string, std::string> env = {{"PKG_CONFIG_PATH", tree.pc_dir}};
  CommandResult r =
      RunCommand({pkg_config, "--variable=modulesdir", "onem2m-psk"}, "",
                 std::chrono::seconds(30), env);
  EXPECT_EQ(r.out, tree.modules_dir + "\n") << r.err;
  r = RunCommand({pkg_config, "--modversion", "onem2m-psk"}, "",
                 std::chrono::seconds(30), env);
  EXPECT_EQ(r.out, std::string(ONEM2M_VERSION) + "\n") << r.err;

  // The installed sample configuration loads the installed provider.
  r = RunCommand({OpensslBin(), "list", "-kdf-algorithms"}, "",
                 std::chrono::seconds(30),
                 {{"OPENSSL_CONF", p + "/share/doc/onem2m-psk/"
                                       "openssl.cnf.sample"},
                  {"OPENSSL_MODULES", tree.modules_dir}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ONEM2M-PSK @ onem2m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ONEM2M-MASTER @ onem2m"), std::string::npos);
}

// The examples as an outside application builds them: with CMake's
// find_package and with pkg-config, against the scratch prefix only; then
// a real handshake between the two builds, each way.
TEST(InstallTest, ExamplesBuiltWithCMakeAndPkgConfigShakeHands) {
  InstalledTree tree;
  ASSERT_TRUE(tree.Install());
  std::string examples = SourceDir() + "/examples";

  // CMake: tests/install_consumer does find_package(onem2m_psk).
  std::string cmake_build = tree.dir.path() + "/cmake-consumer";
  CommandResult r = RunCommand(
      {ONEM2M_CMAKE_COMMAND, "-S", SourceDir() + "/tests/install_consumer",
       "-B", cmake_build, "-DCMAKE_PREFIX_PATH=" + tree.prefix,
       "-DONEM2M_EXAMPLES_DIR=" + examples, "-DCMAKE_BUILD_TYPE=Release",
       "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror"},
      "", kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunCommand({ONEM2M_CMAKE_COMMAND, "--build", cmake_build}, "",
                 kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // pkg-config: cc server.c $(pkg-config --cflags --libs onem2m-psk).
  std::string pkg_config = FindProgram("pkg-config");
  ASSERT_FALSE(pkg_config.empty()) << "pkg-config not installed";
  r = RunCommand({pkg_config, "--cflags", "--libs", "onem2m-psk"}, "",
                 std::chrono::seconds(30), {{"PKG_CONFIG_PATH", tree.pc_dir}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> flags = Words(r.out);
  EXPECT_NE(std::find(flags.begin(), flags.end(), "-lonem2m_psk"), flags.end())
      << r.out;
  std::map<std::string, std::string> built;  // name -> path
  for (const char* name : {"server", "client"}) {
    std::string out = tree.dir.path() + "/pc_" + name;
    std::vector<std::string> cc = {ONEM2M_C_COMPILER,
                                   "-Wall",
                                   "-Wextra",
                                   "-Werror",
                                   examples + "/" + name + ".c",
                                   "-o",
                                   out};
    cc.insert(cc.end(), flags.begin(), flags.end());
    r = RunCommand(cc, "", kBuildTimeout);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    built[std::string("pc_") + name] = out;
    built[std::string("cmake_") + name] =
        cmake_build + "/consumer_" + std::string(name);
  }

  // Each binary resolves libonem2m_psk from the prefix, not the build.
  std::string ldd = FindProgram("ldd");
  ASSERT_FALSE(ldd.empty());
  for (const auto& [name, path] : built) {
    r = RunCommand({ldd, path}, "", std::chrono::seconds(30), tree.Env());
    EXPECT_NE(r.out.find(tree.libdir + "/libonem2m_psk.so.0"),
              std::string::npos)
        << name << ": " << r.out;
  }

  // A keystore from the installed CLI; then each server with the other
  // build's client.
  r = RunCommand(
      {tree.prefix + "/bin/onem2m-psk", "genkey", "--key-id", kDevice}, "",
      std::chrono::seconds(30), tree.Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string keys = tree.dir.WriteFile("keys", r.out);
  for (const auto& [server, client] :
       {std::pair<std::string, std::string>{"pc_server", "cmake_client"},
        {"cmake_server", "pc_client"}}) {
    int port = FreeLoopbackPort();
    BackgroundProcess srv({built[server], keys, std::to_string(port), "1"},
                          tree.Env());
    ASSERT_TRUE(srv.WaitForOutput("listening on 127.0.0.1:")) << srv.Output();
    r = RunCommand({built[client], keys, kDevice, std::to_string(port)}, "",
                   std::chrono::seconds(30), tree.Env());
    EXPECT_EQ(r.exit_code, 0) << server << " / " << client << ": " << r.err;
    EXPECT_NE(r.out.find("connected with TLSv1.3, KDF version 3"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(std::string("server says: hello ") + kDevice +
                         " (KDF version 3)"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(srv.WaitForOutput(std::string("authenticated ") + kDevice))
        << srv.Output();
    srv.Stop();
  }
}

// ---- The Debian package: cpack -G DEB ----

TEST(DebPackageTest, HoldsThePiecesAndRunsFromAScratchRoot) {
  ScopedTempDir dir;
  CommandResult r =
      RunCommand({ONEM2M_CPACK_COMMAND, "-G", "DEB", "--config",
                  std::string(ONEM2M_BINARY_DIR) + "/CPackConfig.cmake", "-B",
                  dir.path() + "/out"},
                 "", kBuildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string dpkg = FindProgram("dpkg");
  std::string dpkg_deb = FindProgram("dpkg-deb");
  ASSERT_FALSE(dpkg.empty() || dpkg_deb.empty()) << "dpkg-deb not found";
  std::string arch = RunCommand({dpkg, "--print-architecture"}).out;
  arch.erase(arch.find_last_not_of("\n") + 1);
  std::string deb = dir.path() + "/out/onem2m-psk_" +
                    std::string(ONEM2M_VERSION) + "_" + arch + ".deb";
  ASSERT_TRUE(IsRegularFile(deb)) << r.out;

  // The file list: everything below /usr, the provider where OpenSSL looks.
  r = RunCommand({dpkg_deb, "-c", deb});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string multiarch =
      RunCommand({dpkg, "--print-architecture"}).out == "amd64\n"
          ? "x86_64-linux-gnu"
          : "";
  ASSERT_FALSE(multiarch.empty()) << "this test knows amd64 only";
  std::string lib = "./usr/lib/" + multiarch;
  for (const std::string& path : std::vector<std::string>{
           "./usr/bin/onem2m-psk", lib + "/ossl-modules/onem2m.so",
           lib + "/libonem2m_psk.so." + ONEM2M_VERSION,
           lib + "/libonem2m_psk.so", lib + "/pkgconfig/onem2m-psk.pc",
           lib + "/cmake/onem2m_psk/onem2m_pskConfig.cmake",
           "./usr/include/onem2m/psk.h",
           "./usr/share/doc/onem2m-psk/openssl.cnf.sample",
           "./usr/share/man/man1/onem2m-psk.1",
           "./usr/share/man/man7/onem2m.7"}) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(" " + path + "( |\n)")))
        << path << " missing from\n"
        << r.out;
  }
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.find(" ./usr/"), std::string::npos) << line;
  }

  // Its control data: libssl3 is a dependency.
  r = RunCommand({dpkg_deb, "-f", deb, "Package", "Depends"});
  EXPECT_NE(r.out.find("Package: onem2m-psk"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("libssl3 \\(>= 3"))) << r.out;

  // Unpacked into a scratch root: the sample configuration makes the
  // stock openssl list the provider's KDFs, and the CLI derives vectors.
  std::string root = dir.path() + "/root";
  r = RunCommand({dpkg_deb, "-x", deb, root});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string modules = root + "/usr/lib/" + multiarch + "/ossl-modules";
  r = RunCommand(
      {OpensslBin(), "list", "-kdf-algorithms"}, "", std::chrono::seconds(30),
      {{"OPENSSL_CONF", root + "/usr/share/doc/onem2m-psk/openssl.cnf.sample"},
       {"OPENSSL_MODULES", modules}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ONEM2M-PSK @ onem2m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ONEM2M-MASTER @ onem2m"), std::string::npos);

  KnownAnswer ka = FindVector(kDevice, 32, 2);
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  r = RunCommand(
      {root + "/usr/bin/onem2m-psk", "export", "--keystore", keys, "--format",
       "s_server", "--key-id", ka.key_id, "--version", "2"},
      "", std::chrono::seconds(30), {{"OPENSSL_MODULES", modules}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ka.identity + "\n" + ka.psk_hex + "\n");

  // The package's text files name /usr, never the build or staging tree.
  std::string pc =
      ReadFile(root + "/usr/lib/" + multiarch + "/pkgconfig/onem2m-psk.pc");
  EXPECT_NE(pc.find("prefix=/usr\n"), std::string::npos) << pc;
  EXPECT_NE(pc.find("modulesdir=/usr/lib/" + multiarch + "/ossl-modules\n"),
            std::string::npos)
      << pc;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           root + "/usr/lib/" + multiarch + "/cmake")) {
    std::string text = ReadFile(entry.path().string());
    EXPECT_EQ(text.find(ONEM2M_BINARY_DIR), std::string::npos) << entry.path();
    EXPECT_EQ(text.find(dir.path()), std::string::npos) << entry.path();
  }
}

// ---- Configuration from openssl.cnf (ONEM2M_PSK_attach_from_config) ----

// SampleConfig is the shipped openssl.cnf.sample with its keystores in
// |dir| (both holding |root_hex| for kDevice) and |edits| applied, each a
// (from, to) replacement that must find its text.
std::string SampleConfig(
    const ScopedTempDir& dir, const std::string& root_hex,
    const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  std::string cse =
      dir.WriteFile("cse.keys", std::string(kDevice) + ":" + root_hex + "\n");
  std::string ae =
      dir.WriteFile("ae.keys", std::string(kDevice) + ":" + root_hex + "\n");
  std::string text = ReadFile(SourceDir() + "/openssl.cnf.sample");
  std::vector<std::pair<std::string, std::string>> all = {
      {"keystore = /etc/onem2m/cse.keys", "keystore = " + cse},
      {"keystore = /etc/onem2m/ae.keys", "keystore = " + ae}};
  all.insert(all.end(), edits.begin(), edits.end());
  for (const auto& [from, to] : all) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) {
      text.replace(at, from.size(), to);
    }
  }
  return dir.WriteFile("openssl.cnf", text);
}

// The shipped sample, as two programs read it: config_server attaches as
// "cse", config_client as "ae", and they shake hands over 127.0.0.1; a
// pin_version set in the file is what the client uses.
TEST(ConfigTest, ServerAndClientAttachFromTheSampleFileAndShakeHands) {
  KnownAnswer ka = FindVector(kDevice, 32, 1);
  for (const auto& [pin, expected] :
       {std::pair<std::string, std::string>{"", "3"}, {"2", "2"}}) {
    ScopedTempDir dir;
    std::vector<std::pair<std::string, std::string>> edits;
    if (!pin.empty()) {
      edits.push_back({"#pin_version = 2", "pin_version = " + pin});
    }
    std::string cnf = SampleConfig(dir, ka.root_key_hex, edits);
    int port = FreeLoopbackPort();
    BackgroundProcess server(
        {ONEM2M_CONFIG_SERVER_BIN, cnf, "cse", std::to_string(port), "1"});
    ASSERT_TRUE(server.WaitForOutput("listening on 127.0.0.1:"))
        << server.Output();
    CommandResult r =
        RunCommand({ONEM2M_CONFIG_CLIENT_BIN, cnf, "ae", std::to_string(port)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("connected with TLSv1.3, KDF version " + expected),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(std::string("server says: hello ") + kDevice +
                         " (KDF version " + expected + ")"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(server.WaitForOutput(std::string("authenticated ") + kDevice +
                                     " (KDF version " + expected + ")"))
        << server.Output();
    server.Stop();
  }
}

TEST(ConfigTest, AServerConfiguredForOtherVersionsRefusesThePinnedClient) {
  KnownAnswer ka = FindVector(kDevice, 32, 1);
  ScopedTempDir dir;
  // The server allows 1 only; the client pins 2. A refused version looks
  // like a wrong key on the wire; the server's own report says why.
  std::string cnf = SampleConfig(
      dir, ka.root_key_hex,
      {{"versions = 1,2,3\n# options:", "versions = 1\n# options:"},
       {"#pin_version = 2", "pin_version = 2"}});
  int port = FreeLoopbackPort();
  BackgroundProcess server(
      {ONEM2M_CONFIG_SERVER_BIN, cnf, "cse", std::to_string(port), "1"});
  ASSERT_TRUE(server.WaitForOutput("listening on 127.0.0.1:"))
      << server.Output();
  CommandResult r =
      RunCommand({ONEM2M_CONFIG_CLIENT_BIN, cnf, "ae", std::to_string(port)});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("handshake failed"), std::string::npos) << r.err;
  EXPECT_TRUE(server.WaitForOutput(
      "handshake failed: version 2 not allowed (server allows 1)"))
      << server.Output();
  server.Stop();
}

// DrainErrors returns the texts on OpenSSL's error queue, "; "-joined.
std::string DrainErrors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) !=
         0) {
    const char* reason = ERR_reason_error_string(e);
    out += std::string(out.empty() ? "" : "; ") +
           (reason != nullptr ? reason : "?") + ": " +
           ((flags & ERR_TXT_STRING) != 0 ? data : "");
  }
  return out;
}

// LoadConfig loads |text| from a file in |dir| as application "onem2m_app"
// in this process; returns "" on success, else the errors.
std::string LoadConfig(const ScopedTempDir& dir, const std::string& text) {
  EXPECT_EQ(ONEM2M_PSK_config_module_add(), 1);
  std::string path = dir.WriteFile("openssl.cnf", text);
  ERR_clear_error();
  int ok = CONF_modules_load_file(path.c_str(), "onem2m_app", 0);
  std::string errors = DrainErrors();
  if (ok > 0) {
    EXPECT_EQ(errors, "");
    return "";
  }
  return errors.empty() ? "failed without an error" : errors;
}

// A configuration file with one server configuration "cse" in section
// [cse_sect]: |settings| are its lines.
std::string OneConfig(const std::string& settings) {
  return "onem2m_app = app_init\n[app_init]\nonem2m_psk = psk_sect\n"
         "[psk_sect]\ncse = cse_sect\n[cse_sect]\n" +
         settings;
}

using SslCtxOwner = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

SslCtxOwner NewCtx(bool server) {
  SslCtxOwner ctx(
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()),
      SSL_CTX_free);
  SSL_CTX_set_cipher_list(ctx.get(), ONEM2M_PSK_TLS12_CIPHERS);
  return ctx;
}

TEST(ConfigTest, EverySettingReachesTheAttachedContext) {
  KnownAnswer ka = FindVector(kDevice, 32, 1);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  ASSERT_EQ(LoadConfig(dir,
                       "onem2m_app = app_init\n[app_init]\n"
                       "onem2m_psk = psk_sect\n[psk_sect]\n"
                       "cse = cse_sect\nae = ae_sect\n"
                       "[cse_sect]\nrole = server\nkeystore = " +
                           keys +
                           "\nversions = 0,2\n"
                           "options = reveal_unknown,allow_psk_ke\n"
                           "[ae_sect]\nrole = client\nkeystore = " +
                           keys + "\nkey_id = " + ka.key_id +
                           "\nversions = 1,2\npin_version = 1\n"),
            "");
  SslCtxOwner server = NewCtx(true);
  ASSERT_EQ(ONEM2M_PSK_attach_from_config(server.get(), "cse"), 1)
      << DrainErrors();
  EXPECT_EQ(ONEM2M_PSK_CTX_get_versions(server.get()),
            ONEM2M_VERSION_BIT(0) | ONEM2M_VERSION_BIT(2));
  // allow_psk_ke turns on OpenSSL's psk_ke for TLS 1.3.
  EXPECT_NE(SSL_CTX_get_options(server.get()) & SSL_OP_ALLOW_NO_DHE_KEX, 0u);

  SslCtxOwner client = NewCtx(false);
  ASSERT_EQ(ONEM2M_PSK_attach_from_config(client.get(), "ae"), 1)
      << DrainErrors();
  EXPECT_EQ(ONEM2M_PSK_CTX_get_versions(client.get()),
            ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2));
  // Pinned to 1: a pin outside 1,2 is refused, so the pin is there.
  EXPECT_EQ(ONEM2M_PSK_CTX_set_versions(client.get(), ONEM2M_VERSION_BIT(2)),
            0);
  EXPECT_NE(DrainErrors().find("exclude the pinned version 1"),
            std::string::npos);

  // A name the section does not have, and a second attach of one context.
  SslCtxOwner other = NewCtx(true);
  EXPECT_EQ(ONEM2M_PSK_attach_from_config(other.get(), "gateway"), 0);
  EXPECT_NE(DrainErrors().find("section [psk_sect] has no configuration "
                               "named \"gateway\" (it has: ae, cse)"),
            std::string::npos);
  EXPECT_EQ(ONEM2M_PSK_attach_from_config(server.get(), "cse"), 0);
  EXPECT_NE(DrainErrors().find("already attached"), std::string::npos);

  // Once OpenSSL unloads the configuration, nothing is attached from it.
  CONF_modules_finish();
  EXPECT_EQ(ONEM2M_PSK_attach_from_config(other.get(), "cse"), 0);
  EXPECT_NE(DrainErrors().find("no onem2m_psk configuration named \"cse\" is "
                               "loaded: call ONEM2M_PSK_config_module_add()"),
            std::string::npos);
}

// profile = onem2m in the file gives what ONEM2M_PSK_CTX_set_profile
// gives: TLS 1.2 only, with TS-0003 clause 10.2's one suite.
TEST(ConfigTest, ProfileOnem2mRestrictsTheContextToTheMandatorySuite) {
  KnownAnswer ka = FindVector(kDevice, 32, 1);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  ASSERT_EQ(LoadConfig(dir, OneConfig("role = server\nkeystore = " + keys +
                                      "\nprofile = onem2m\n")),
            "");
  SslCtxOwner server = NewCtx(true);
  ASSERT_EQ(ONEM2M_PSK_attach_from_config(server.get(), "cse"), 1)
      << DrainErrors();
  EXPECT_EQ(SSL_CTX_get_max_proto_version(server.get()), TLS1_2_VERSION);
  // The TLS 1.2 suites (the list also names TLS 1.3's, which the
  // protocol range leaves unused).
  std::vector<std::string> tls12;
  STACK_OF(SSL_CIPHER)* suites = SSL_CTX_get_ciphers(server.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(suites); i++) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(suites, i);
    if ((SSL_CIPHER_get_protocol_id(c) >> 8) != 0x13) {  // RFC 8446 B.4
      tls12.push_back(SSL_CIPHER_get_name(c));
    }
  }
  EXPECT_EQ(tls12, std::vector<std::string>{"PSK-AES128-CBC-SHA256"});
  CONF_modules_finish();
}

// Mistakes in the file: each fails the load with a message that names the
// section and quotes the line, and attaching afterwards repeats it.
struct ConfigMistake {
  const char* name;
  std::string settings;  // after role/keystore lines when |with_base|
  std::string message;
  bool with_base = true;
};

class ConfigMistakeTest : public ::testing::TestWithParam<ConfigMistake> {};

TEST_P(ConfigMistakeTest, FailsTheLoadWithAMessageNamingTheLine) {
  const ConfigMistake& m = GetParam();
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", std::string(kDevice) + ":" + std::string(64, 'a') + "\n");
  std::string settings = m.settings;
  for (std::string* text : {&settings}) {
    size_t at = text->find("KEYS");
    if (at != std::string::npos) {
      text->replace(at, 4, keys);
    }
  }
  std::string base = "role = server\nkeystore = " + keys + "\n";
  std::string errors =
      LoadConfig(dir, OneConfig((m.with_base ? base : "") + settings));
  EXPECT_NE(errors.find(m.message), std::string::npos) << errors;

  SslCtxOwner ctx = NewCtx(true);
  EXPECT_EQ(ONEM2M_PSK_attach_from_config(ctx.get(), "cse"), 0);
  std::string again = DrainErrors();
  EXPECT_NE(again.find("the onem2m_psk configuration did not load, so "
                       "\"cse\" is not available: "),
            std::string::npos)
      << again;
  EXPECT_NE(again.find(m.message), std::string::npos) << again;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, ConfigMistakeTest,
    ::testing::Values(
        ConfigMistake{"UnknownSetting", "colour = blue\n",
                      "[cse_sect] colour = blue: unknown setting \"colour\" "
                      "(the settings are role, keystore, key_id, versions, "
                      "pin_version, options, profile)"},
        ConfigMistake{"MisspeltSetting", "version = 2\n",
                      "[cse_sect] version = 2: unknown setting \"version\""},
        ConfigMistake{"NoRole", "keystore = KEYS\n",
                      "[cse_sect] role = : role must be server", false},
        ConfigMistake{"WrongRole", "role = receiver\nkeystore = KEYS\n",
                      "[cse_sect] role = receiver: role must be server (a "
                      "Receiver, the TLS server) or client",
                      false},
        ConfigMistake{"NoKeystore", "role = server\n",
                      "[cse_sect] keystore = FILE is required", false},
        ConfigMistake{"ClientWithoutKeyId", "role = client\nkeystore = KEYS\n",
                      "[cse_sect] role = client needs key_id = the KeyID",
                      false},
        ConfigMistake{"ServerWithKeyId", "key_id = dev-0001@sp.example.com\n",
                      "[cse_sect] key_id is a client setting, and role = "
                      "server"},
        ConfigMistake{"BadVersions", "versions = 1,4\n",
                      "[cse_sect] versions = 1,4: expected KDF versions 0 to "
                      "3, comma separated"},
        ConfigMistake{"UnknownProfile", "profile = fips\n",
                      "[cse_sect] profile = fips: unknown profile (the one "
                      "profile is onem2m, TS-0003 clause 10.2)"},
        ConfigMistake{"UnknownOption", "options = reveal_unknown,fast\n",
                      "[cse_sect] options = reveal_unknown,fast: unknown "
                      "option \"fast\""},
        ConfigMistake{
            "PinOutsideVersions",
            "role = client\nkeystore = KEYS\nkey_id = "
            "dev-0001@sp.example.com\nversions = 2,3\npin_version = 1\n",
            "[cse_sect] pin_version = 1: versions = 2,3 does not allow it",
            false},
        ConfigMistake{"ClientKeyIdNotInKeystore",
                      "role = client\nkeystore = KEYS\nkey_id = stranger\n",
                      "[cse_sect] key_id = stranger: the keystore", false},
        ConfigMistake{"MissingKeystoreFile",
                      "role = server\nkeystore = /nonexistent/keys\n",
                      "/nonexistent/keys", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigTest, AKeystoreOthersCanReadFailsTheLoadWithTheKeystoreReason) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", std::string(kDevice) + ":" + std::string(64, 'a') + "\n", 0640);
  std::string errors =
      LoadConfig(dir, OneConfig("role = server\nkeystore = " + keys + "\n"));
  EXPECT_NE(errors.find("keystore permissions too open"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("([cse_sect] keystore)"), std::string::npos) << errors;
}

TEST(ConfigTest, ASectionThatDoesNotExistIsNamed) {
  ScopedTempDir dir;
  std::string errors =
      LoadConfig(dir,
                 "onem2m_app = app_init\n[app_init]\nonem2m_psk = psk_sect\n"
                 "[psk_sect]\ncse = nowhere\n");
  EXPECT_NE(errors.find("section [nowhere] does not exist"), std::string::npos)
      << errors;
}

// With the hint our servers send (onem2m-versions=N), a GnuTLS server lets
// an unpinned client pick the exported version itself in TLS 1.2.
TEST(GnutlsInteropTest, AnOnem2mHintLetsAnUnpinnedClientChooseTheVersion) {
  std::string gnutls_serv = FindProgram("gnutls-serv");
  ASSERT_FALSE(gnutls_serv.empty())
      << "gnutls-serv not installed: apt-get install gnutls-bin";
  KnownAnswer ka = FindVector(kDevice, 32, 2);
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  std::string passwd = dir.path() + "/passwd.psk";
  CommandResult r = Cli({"export", "--keystore", keys, "--format", "gnutls",
                         "--version", "2", "--out", passwd});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int port = FreeLoopbackPort();
  BackgroundProcess server({gnutls_serv, "--port", std::to_string(port),
                            "--pskpasswd", passwd, "--priority",
                            "NORMAL:+PSK:+ECDHE-PSK", "--pskhint",
                            "onem2m-versions=2", "--echo"});
  ASSERT_TRUE(server.WaitForOutput("listening on IPv4")) << server.Output();
  r = Cli({"connect", "--key-id", ka.key_id, "--keystore", keys, "--tls1_2",
           "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 0) << r.err << server.Output();
  EXPECT_NE(r.out.find("kdf_version:  2"), std::string::npos) << r.out;
  server.Stop();
}

// ---- Documentation ----

// The man page documents every subcommand and every option that --help
// lists, so that a reader needs neither the source nor --help.
TEST(DocsTest, ManPageCoversEverySubcommandAndOption) {
  std::string page = ReadFile(SourceDir() + "/docs/onem2m-psk.1");
  for (size_t at; (at = page.find("\\-")) != std::string::npos;) {
    page.replace(at, 2, "-");
  }
  CommandResult overview = Cli({"--help"});
  ASSERT_EQ(overview.exit_code, 0);
  std::string commands =
      overview.out.substr(overview.out.find("commands:\n") + 10);
  std::istringstream lines(commands);
  int subcommands = 0;
  for (std::string line; std::getline(lines, line) && !line.empty();) {
    std::string cmd = Words(line).at(0);
    subcommands++;
    EXPECT_NE(page.find(".B " + cmd + "\n"), std::string::npos)
        << "no section for " << cmd;
    CommandResult help = Cli({cmd, "--help"});
    ASSERT_EQ(help.exit_code, 0) << cmd;
    std::regex option("\n  (--[a-z0-9_-]+)");
    for (std::sregex_iterator it(help.out.begin(), help.out.end(), option), end;
         it != end; ++it) {
      std::string name = (*it)[1];
      EXPECT_NE(page.find(name), std::string::npos)
          << cmd << " " << name << " is not in onem2m-psk.1";
    }
  }
  EXPECT_EQ(subcommands, 7);  // import came with issue 6
}

TEST(DocsTest, TheGuideQuotesTheLibrarysMessagesExactly) {
  // A few messages of docs/integration.md, produced here for real.
  std::string guide = ReadFile(SourceDir() + "/docs/integration.md");
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", std::string(kDevice) + ":" + std::string(64, 'a') + "\n");
  ASSERT_EQ(LoadConfig(dir, OneConfig("role = client\nkeystore = " + keys +
                                      "\nkey_id = " + kDevice + "\n")),
            "");
  SslCtxOwner client = NewCtx(false);
  ONEM2M_PSK_CTX_set_versions(client.get(), ONEM2M_VERSION_BIT(2));
  std::string not_attached = DrainErrors();
  ASSERT_EQ(ONEM2M_PSK_attach_from_config(client.get(), "cse"), 1)
      << DrainErrors();
  ONEM2M_PSK_attach_from_config(client.get(), "cse");
  std::string twice = DrainErrors();
  SslCtxOwner server = NewCtx(true);
  ONEM2M_PSK_attach_from_config(server.get(), "gateway");
  std::string unknown_name = DrainErrors();
  for (const std::string& errors : {not_attached, twice, unknown_name}) {
    size_t at = errors.find(": ");
    ASSERT_NE(at, std::string::npos) << errors;
    std::string text = errors.substr(at + 2);
    // The guide's example names other sections; compare up to the name.
    text = text.substr(0, text.find(" (it has:"));
    text = std::regex_replace(text, std::regex("cse_sect|psk_sect"), "");
    std::string pattern = std::regex_replace(
        text, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
    pattern = std::regex_replace(pattern, std::regex(R"(\\\[\\\])"),
                                 R"(\[[a-z0-9_]+\])");
    EXPECT_TRUE(std::regex_search(guide, std::regex(pattern)))
        << "docs/integration.md lacks: " << text;
  }
}

}  // namespace
}  // namespace onem2m::testing
