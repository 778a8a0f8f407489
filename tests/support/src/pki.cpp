#include "sewage/testing/pki.hpp"

#include "sewage/testing/process.hpp"

#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sewage::testing {
namespace {

void openssl(const std::filesystem::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  child_process p(args, dir / "openssl.log");
  const auto st = p.wait_for_exit(std::chrono::seconds(60));
  if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) throw std::runtime_error("openssl failed:\n" + p.log());
}

void make_ca(const std::filesystem::path& d, const std::string& name, const std::string& cn) {
  openssl(d, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
              "-subj", "/CN=" + cn, "-keyout", (d / (name + ".key")).string(), "-out", (d / (name + ".crt")).string()});
}

void make_server(const std::filesystem::path& d, const std::string& name, const std::string& san) {
  const auto f = [&](const char* ext) { return (d / (name + ext)).string(); };
  openssl(d, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name,
              "-keyout", f(".key"), "-out", f(".csr")});
  std::ofstream(f(".ext")) << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\n"
                           << "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n";
  openssl(d, {"x509", "-req", "-in", f(".csr"), "-CA", (d / "ca.crt").string(), "-CAkey", (d / "ca.key").string(),
              "-CAcreateserial", "-days", "30", "-extfile", f(".ext"), "-out", f(".crt")});
}

}  // namespace

const test_pki& shared_test_pki() {
  static const std::unique_ptr<temp_dir> dir = std::make_unique<temp_dir>("test-pki");
  static const test_pki pki = [] {
    test_pki p{dir->path()};
    make_ca(p.dir, "ca", "Sewage Test CA");
    make_ca(p.dir, "other-ca", "Other Test CA");
    make_server(p.dir, "server", "DNS:localhost,IP:127.0.0.1");
    make_server(p.dir, "wronghost", "DNS:broker.example");
    return p;
  }();
  return pki;
}

}  // namespace sewage::testing
