// O&M settings and site tokens (issue 12): [om] keys with their defaults and errors naming the
// key, facility size classes at the limits, site tokens signed, verified and refused.
#include "sewage/gateway/config.hpp"
#include "sewage/gateway/om/settings.hpp"
#include "sewage/gateway/om/site_token.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <fstream>

namespace sewage::gateway {
namespace {

std::filesystem::path write(const testing::temp_dir& d, const std::string& name, const std::string& text) {
  const auto p = d.path() / name;
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::filesystem::path& p) {
  try {
    (void)load_config(p);
  } catch (const config_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(OmSettings, SizeClassAtAndAroundTheLimits) {
  om::settings s;  // [30, 100]
  EXPECT_EQ(om::size_class(0.0, s), "small");
  EXPECT_EQ(om::size_class(29.99, s), "small");
  EXPECT_EQ(om::size_class(30.0, s), "medium");
  EXPECT_EQ(om::size_class(99.9, s), "medium");
  EXPECT_EQ(om::size_class(100.0, s), "large");
  EXPECT_EQ(om::size_class(5000.0, s), "large");
  EXPECT_EQ(om::size_class(-1.0, s), "small");
  EXPECT_EQ(om::size_class(std::nan(""), s), "small");
  s.size_class_limits_m3d = {10.0, 50.0};
  EXPECT_EQ(om::size_class(30.0, s), "medium");
  EXPECT_EQ(om::size_class(50.0, s), "large");
  EXPECT_EQ(om::size_class(9.0, s), "small");
}

TEST(OmSettings, DueTimeBySeverity) {
  om::work_order_settings w;
  EXPECT_EQ(w.due_ms_for(severity::critical), 4 * 3'600'000LL);
  EXPECT_EQ(w.due_ms_for(severity::warning), 24 * 3'600'000LL);
  EXPECT_EQ(w.due_ms_for(severity::info), 72 * 3'600'000LL);
}

TEST(OmSettings, KeysAreReadWithDefaultsBesideTheStore) {
  testing::temp_dir dir("om-config");
  auto c = load_config(write(dir, "a.toml", "[store]\npath = \"data/gw.db\"\n"));
  EXPECT_EQ(c.om.public_url, "http://127.0.0.1:8080");
  EXPECT_EQ(c.om.checkin_radius_m, 100.0);
  EXPECT_EQ(c.om.site_key_file, dir.path() / "data" / "site-key");
  EXPECT_EQ(c.om.photo_dir, dir.path() / "data" / "photos");
  EXPECT_EQ(c.om.size_class_limits_m3d[0], 30.0);
  EXPECT_EQ(c.om.size_class_limits_m3d[1], 100.0);
  EXPECT_EQ(c.om.photo_max_bytes, 10u * 1024u * 1024u);
  c = load_config(write(dir, "b.toml",
                        "[om]\npublic_url = \"https://om.example/\"\nsite_key_file = \"k/site.key\"\n"
                        "checkin_radius_m = 50\nsize_class_limits_m3d = [20, 200]\nphoto_max_bytes = 2048\n"
                        "[om.work_orders]\ndue_h = { critical = 2, warning = 12, info = 48 }\n"
                        "escalate_county_after_h = 6\n"
                        "[[om.work_orders.policy]]\ntype = \"no_flow\"\nmin_severity = \"warning\"\nmin_duration_s = 600\n"
                        "[[om.contractor]]\nname = \"hy-water\"\ndisplay_name = \"HY Water\"\ntowns = [\"Yuantong\"]\n"
                        "[[om.contractor]]\nname = \"clean-co\"\nsites = [\"T-0001\"]\n"));
  EXPECT_EQ(c.om.public_url, "https://om.example");
  EXPECT_EQ(c.om.site_key_file, dir.path() / "k" / "site.key");
  EXPECT_EQ(c.om.checkin_radius_m, 50.0);
  EXPECT_EQ(c.om.size_class_limits_m3d[1], 200.0);
  EXPECT_EQ(c.om.photo_max_bytes, 2048u);
  EXPECT_EQ(c.om.work_orders.due_critical_h, 2u);
  EXPECT_EQ(c.om.work_orders.due_info_h, 48u);
  EXPECT_EQ(c.om.work_orders.escalate_county_after_h, 6u);
  ASSERT_EQ(c.om.work_orders.policies.size(), 1u);
  EXPECT_EQ(c.om.work_orders.policies[0].type, "no_flow");
  EXPECT_EQ(c.om.work_orders.policies[0].min_duration_s, 600u);
  ASSERT_EQ(c.om.contractors.size(), 2u);
  EXPECT_EQ(c.om.contractors[0].display_name, "HY Water");
  EXPECT_EQ(c.om.contractors[1].display_name, "clean-co");
}

TEST(OmSettings, ErrorsNameTheKey) {
  testing::temp_dir dir("om-config");
  struct row {
    const char* toml;
    const char* expect;
  } rows[] = {
      {"[om]\nradius = 3\n", "om.radius: unknown key"},
      {"[om]\ncheckin_radius_m = 0\n", "om.checkin_radius_m: must be in"},
      {"[om]\npublic_url = \"ftp://x\"\n", "om.public_url: must start with"},
      {"[om]\nsize_class_limits_m3d = [100, 30]\n", "om.size_class_limits_m3d: must be increasing"},
      {"[om]\nsize_class_limits_m3d = [30]\n", "om.size_class_limits_m3d: must be two numbers"},
      {"[om.work_orders]\ndue_h = { notice = 3 }\n", "om.work_orders.due_h.notice: unknown key"},
      {"[[om.work_orders.policy]]\nmin_severity = \"warning\"\n", "om.work_orders.policy[0].type: must name"},
      {"[[om.work_orders.policy]]\ntype = \"no_flow\"\nmin_severity = \"high\"\n",
       "om.work_orders.policy[0].min_severity: must be"},
      {"[[om.contractor]]\nname = \"a b\"\n", "om.contractor[0].name: must be"},
      {"[[om.contractor]]\nname = \"a\"\nsites = [\"T1\"]\n[[om.contractor]]\nname = \"b\"\nsites = [\"T1\"]\n",
       "om.contractor[1].sites: site \"T1\" is already served by contractor \"a\""},
      {"[[om.contractor]]\nname = \"a\"\ntowns = [\"X\"]\n[[om.contractor]]\nname = \"b\"\ntowns = [\"X\"]\n",
       "om.contractor[1].towns: town \"X\" is already served"},
      {"[[om.contractor]]\nname = \"a\"\n[[om.contractor]]\nname = \"a\"\n", "om.contractor[1].name: \"a\" is used"},
  };
  int i = 0;
  for (const auto& r : rows) {
    const auto e = error_of(write(dir, "e" + std::to_string(i++) + ".toml", r.toml));
    EXPECT_NE(e.find(r.expect), std::string::npos) << r.toml << " -> " << e;
  }
}

TEST(SiteToken, SignedTokenVerifiesToItsSite) {
  testing::temp_dir dir("om-key");
  const auto key = om::load_or_create_site_key(dir.path() / "site-key");
  const auto t = om::sign_site_token(key, "T-0001");
  EXPECT_EQ(t.rfind("v1.T-0001.", 0), 0u) << t;
  EXPECT_EQ(t.size(), std::string("v1.T-0001.").size() + 43);
  EXPECT_EQ(om::verify_site_token(key, t), std::optional<std::string>("T-0001"));
  EXPECT_NE(om::sign_site_token(key, "T-0002"), t);
  EXPECT_THROW((void)om::sign_site_token(key, ""), std::invalid_argument);
  EXPECT_THROW((void)om::sign_site_token(key, "a.b"), std::invalid_argument);
}

TEST(SiteToken, ForgedOrMalformedTokensAreRefused) {
  testing::temp_dir dir("om-key");
  const auto key = om::load_or_create_site_key(dir.path() / "site-key");
  auto other = key;
  other.bytes[0] ^= 1;
  const auto good = om::sign_site_token(key, "T-0001");
  const auto mac = good.substr(std::string("v1.T-0001.").size());
  // Another key, another site with this MAC, a flipped MAC character, other versions, garbage.
  EXPECT_FALSE(om::verify_site_token(other, good));
  EXPECT_FALSE(om::verify_site_token(key, "v1.T-0002." + mac));
  auto flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(om::verify_site_token(key, flipped));
  EXPECT_FALSE(om::verify_site_token(key, "v2" + good.substr(2)));
  EXPECT_FALSE(om::verify_site_token(key, good + "="));
  EXPECT_FALSE(om::verify_site_token(key, good.substr(0, good.size() - 1)));
  EXPECT_FALSE(om::verify_site_token(key, ""));
  EXPECT_FALSE(om::verify_site_token(key, "v1."));
  EXPECT_FALSE(om::verify_site_token(key, "v1.." + mac));
  EXPECT_FALSE(om::verify_site_token(key, "v1.T-0001"));
  EXPECT_FALSE(om::verify_site_token(key, "v1.a.b." + mac));
  EXPECT_FALSE(om::verify_site_token(key, std::string(4096, 'v')));
}

TEST(SiteToken, KeyFileIsMadeOnceWithMode0600AndReusedAndCheckedAtLoad) {
  testing::temp_dir dir("om-key");
  const auto p = dir.path() / "sub" / "site-key";
  const auto a = om::load_or_create_site_key(p);
  struct stat sb {};
  ASSERT_EQ(::stat(p.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  EXPECT_EQ(sb.st_size, 32);
  const auto b = om::load_or_create_site_key(p);
  EXPECT_EQ(a.bytes, b.bytes);  // tokens survive a restart
  // A second gateway's key differs.
  EXPECT_NE(om::load_or_create_site_key(dir.path() / "other").bytes, a.bytes);
  ::chmod(p.c_str(), 0644);
  try {
    (void)om::load_or_create_site_key(p);
    ADD_FAILURE() << "a world-readable key must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("group or others"), std::string::npos) << e.what();
  }
  const auto shortp = dir.path() / "short";
  std::ofstream(shortp) << "abc";
  ::chmod(shortp.c_str(), 0600);
  try {
    (void)om::load_or_create_site_key(shortp);
    ADD_FAILURE() << "a 3-byte key must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exactly 32 bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sewage::gateway
