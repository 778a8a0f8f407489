// The web application's static files: the four URL forms, traversal and symlink escapes refused
// with a JSON 404, content types, ETag / If-None-Match, Cache-Control; and through api::handle
// with raw (percent-encoded) targets, plus GET /api/ui-config.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/http/static_files.hpp"
#include "sewage/gateway/sqlite_store.hpp"
#include "auth_util.hpp"
#include "test_util.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace sewage::gateway {
namespace {

using nlohmann::json;
using webapp::static_files;
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string header(const http_response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

void expect_json_404(const std::optional<http_response>& r, const std::string& what) {
  ASSERT_TRUE(r.has_value()) << what;
  EXPECT_EQ(r->status, 404u) << what;
  EXPECT_EQ(r->content_type, "application/json") << what;
  const auto j = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << what;
  EXPECT_EQ(j["error"]["status"], 404) << what;
  EXPECT_EQ(r->body.find("secret"), std::string::npos) << what;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  StaticFilesTest() : dir_("gw-static") {
    web_ = dir_.path() / "web";
    vendor_ = dir_.path() / "vendor";
    write(web_ / "index.html", "<!doctype html><title>app</title>");
    write(web_ / "js" / "app.js", "export const x = 1;");
    write(web_ / "css" / "app.css", "body{}");
    write(web_ / "i18n" / "zh-CN.json", "{\"a\":\"\xe6\xb5\xb7\"}");
    write(web_ / "img" / "logo.svg", "<svg/>");
    write(web_ / "img" / "pic.PNG", "\x89PNG");
    write(web_ / "notes.xyz", "?");
    write(web_ / ".hidden", "secret");
    write(vendor_ / "leaflet" / "leaflet.js", "L={}");
    write(vendor_ / "chart.js" / "chart.min.js", "Chart={}");
    write(dir_.path() / "outside" / "secret.txt", "secret");
    write(dir_.path() / "gateway.toml", "secret");
    fs::create_directories(web_ / "sub");
    fs::create_symlink(dir_.path() / "outside" / "secret.txt", web_ / "escape.txt");
    fs::create_directory_symlink(dir_.path() / "outside", web_ / "outdir");
    fs::create_symlink(web_ / "js" / "app.js", web_ / "alias.js");  // inside: allowed
  }
  testing::temp_dir dir_;
  fs::path web_, vendor_;
};

TEST_F(StaticFilesTest, ServesTheFourFormsWithTypesAndCaching) {
  const static_files f(web_, vendor_);
  for (const std::vector<std::string>& index : {std::vector<std::string>{}, std::vector<std::string>{"index.html"}}) {
    const auto r = f.serve(index, "");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(r->body, "<!doctype html><title>app</title>");
    EXPECT_EQ(header(*r, "Cache-Control"), "no-cache");
    EXPECT_FALSE(header(*r, "ETag").empty());
    EXPECT_EQ(header(*r, "X-Content-Type-Options"), "nosniff");
  }
  const auto js = f.serve({"web", "js", "app.js"}, "");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200u);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");  // ES modules need a JS type
  EXPECT_EQ(js->body, "export const x = 1;");
  EXPECT_EQ(f.serve({"web", "css", "app.css"}, "")->content_type, "text/css; charset=utf-8");
  const auto zh = f.serve({"web", "i18n", "zh-CN.json"}, "");
  EXPECT_EQ(zh->content_type, "application/json; charset=utf-8");
  EXPECT_EQ(zh->body, "{\"a\":\"\xe6\xb5\xb7\"}");
  EXPECT_EQ(f.serve({"web", "img", "logo.svg"}, "")->content_type, "image/svg+xml");
  EXPECT_EQ(f.serve({"web", "img", "pic.PNG"}, "")->content_type, "image/png");  // extension case ignored
  EXPECT_EQ(f.serve({"web", "notes.xyz"}, "")->content_type, "application/octet-stream");
  const auto v = f.serve({"vendor", "leaflet", "leaflet.js"}, "");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200u);
  EXPECT_EQ(v->body, "L={}");
  EXPECT_EQ(header(*v, "Cache-Control"), "public, max-age=86400");
  EXPECT_EQ(f.serve({"vendor", "chart.js", "chart.min.js"}, "")->body, "Chart={}");
  // A symlink whose target stays inside the root is served.
  EXPECT_EQ(f.serve({"web", "alias.js"}, "")->body, "export const x = 1;");
}

TEST_F(StaticFilesTest, OtherPathsAreNotStatic) {
  const static_files f(web_, vendor_);
  EXPECT_FALSE(f.serve({"api", "summary"}, ""));
  EXPECT_FALSE(f.serve({"healthz"}, ""));
  EXPECT_FALSE(f.serve({"index.htm"}, ""));
  EXPECT_FALSE(f.serve({"webx", "a.js"}, ""));
  EXPECT_TRUE(static_files::is_static_path({}));
  EXPECT_TRUE(static_files::is_static_path({"vendor"}));
  EXPECT_FALSE(static_files::is_static_path({"index.html", "x"}));
}

TEST_F(StaticFilesTest, TraversalAndEscapesAreJson404s) {
  const static_files f(web_, vendor_);
  // Decoded segments as api::handle passes them ("%2e%2e" and "%2F" already decoded).
  expect_json_404(f.serve({"web", ".."}, ""), "..");
  expect_json_404(f.serve({"web", "..", "gateway.toml"}, ""), "../gateway.toml");
  expect_json_404(f.serve({"web", "js", "..", "..", "gateway.toml"}, ""), "js/../../gateway.toml");
  expect_json_404(f.serve({"web", "../gateway.toml"}, ""), "segment with a slash");
  expect_json_404(f.serve({"web", "..\\gateway.toml"}, ""), "segment with a backslash");
  expect_json_404(f.serve({"web", "/etc/passwd"}, ""), "absolute path in a segment");
  expect_json_404(f.serve({"web", std::string("index.html\0.js", 14)}, ""), "NUL");
  expect_json_404(f.serve({"web", "."}, ""), ".");
  expect_json_404(f.serve({"web", ".hidden"}, ""), "hidden file");
  expect_json_404(f.serve({"vendor", "..", "web", "index.html"}, ""), "vendor/../web");
  // Symlinks leading out of the root.
  expect_json_404(f.serve({"web", "escape.txt"}, ""), "symlink to a file outside");
  expect_json_404(f.serve({"web", "outdir", "secret.txt"}, ""), "symlinked folder outside");
  // Not a regular file, or not there.
  expect_json_404(f.serve({"web", "sub"}, ""), "a folder");
  expect_json_404(f.serve({"web"}, ""), "the root itself");
  expect_json_404(f.serve({"vendor"}, ""), "the vendor root itself");
  expect_json_404(f.serve({"web", "missing.js"}, ""), "missing file");
  expect_json_404(f.serve({"vendor", "leaflet", "nope.js"}, ""), "missing vendor file");
}

TEST_F(StaticFilesTest, MissingRootsAnswer404NotACrash) {
  const static_files f(dir_.path() / "no-such-web", dir_.path() / "no-such-vendor");
  expect_json_404(f.serve({}, ""), "index without a web root");
  expect_json_404(f.serve({"vendor", "leaflet", "leaflet.js"}, ""), "vendor without a root");
}

TEST_F(StaticFilesTest, IfNoneMatchGives304AndAChangedFileANewTag) {
  const static_files f(web_, vendor_);
  const auto first = f.serve({"web", "js", "app.js"}, "");
  const auto tag = header(*first, "ETag");
  ASSERT_EQ(tag.front(), '"');
  const auto again = f.serve({"web", "js", "app.js"}, tag);
  EXPECT_EQ(again->status, 304u);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(header(*again, "ETag"), tag);
  EXPECT_EQ(f.serve({"web", "js", "app.js"}, "\"other\", " + tag)->status, 304u);  // a list
  EXPECT_EQ(f.serve({"web", "js", "app.js"}, "W/" + tag)->status, 304u);          // weak comparison
  EXPECT_EQ(f.serve({"web", "js", "app.js"}, "*")->status, 304u);
  EXPECT_EQ(f.serve({"web", "js", "app.js"}, "\"other\"")->status, 200u);
  write(web_ / "js" / "app.js", "export const x = 22;");  // new size: new tag
  const auto changed = f.serve({"web", "js", "app.js"}, tag);
  EXPECT_EQ(changed->status, 200u);
  EXPECT_EQ(changed->body, "export const x = 22;");
  EXPECT_NE(header(*changed, "ETag"), tag);
}

TEST(ContentType, ByExtension) {
  EXPECT_EQ(webapp::content_type_for("a/b/c.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(webapp::content_type_for("x.css.map"), "application/json; charset=utf-8");
  EXPECT_EQ(webapp::content_type_for("f.WOFF2"), "font/woff2");
  EXPECT_EQ(webapp::content_type_for("README"), "application/octet-stream");
  EXPECT_EQ(webapp::content_type_for("p.jpeg"), "image/jpeg");
}

class StaticThroughApiTest : public ::testing::Test {
 protected:
  StaticThroughApiTest() : dir_("gw-static-api"), clock_(test::at("2026-11-29T08:00:00Z")), db_(dir_.path() / "g.db", 10) {
    cfg_.http_web_root = dir_.path() / "web";
    cfg_.http_vendor_root = dir_.path() / "vendor";
    cfg_.http_tile_url = "https://tiles.example/{z}/{x}/{y}.png";
    cfg_.http_tile_attribution = "County survey";
    cfg_.http_public_read = true;  // these tests are not about identity (auth_test.cpp is)
    write(cfg_.http_web_root / "index.html", "<!doctype html><script type=module src=\"/web/js/app.js\"></script>");
    write(cfg_.http_web_root / "js" / "app.js", "export {};");
    write(cfg_.http_vendor_root / "leaflet" / "leaflet.css", ".leaflet{}");
    write(dir_.path() / "gateway.toml", "secret");
    eng_ = std::make_unique<engine>(cfg_, registry({test::terminal("T1", cfg_.defaults)}), db_, clock_, pub_, default_rules());
    ids_ = std::make_unique<test::identities>(dir_.path() / "g.db", clock_);
    api_ = std::make_unique<api>(*eng_, link_status{}, &ids_->ids);
  }
  http_response get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_request r{"GET", target, "", ""};
    r.headers = std::move(headers);
    return api_->handle(r);
  }
  testing::temp_dir dir_;
  manual_clock clock_;
  config cfg_;
  test::fake_publisher pub_;
  sqlite_store db_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<test::identities> ids_;
  std::unique_ptr<api> api_;
  [[nodiscard]] std::string tok() const { return "Bearer " + ids_->operator_token; }
};

TEST_F(StaticThroughApiTest, RawTargetsTraversalAndMethods) {
  const auto index = get("/");
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("/web/js/app.js"), std::string::npos);
  EXPECT_EQ(get("/index.html").body, index.body);
  EXPECT_EQ(get("/?lang=zh-CN").status, 200u);  // a query string on a static file is ignored
  EXPECT_EQ(get("/web/js/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/vendor/leaflet/leaflet.css").content_type, "text/css; charset=utf-8");
  // Percent-encoded and plain traversal, every spelling: 404 JSON, the file never served.
  for (const char* t : {"/web/../gateway.toml", "/web/%2e%2e/gateway.toml", "/web/%2E%2E%2Fgateway.toml",
                        "/web/..%2fgateway.toml", "/web/js/%2e%2e/%2e%2e/gateway.toml", "/vendor/../web/index.html",
                        "/web/%5c..%5cgateway.toml", "/web//..//gateway.toml", "/web/.%2e/gateway.toml"}) {
    const auto r = get(t);
    EXPECT_EQ(r.status, 404u) << t;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << t;
    EXPECT_EQ(json::parse(r.body)["error"]["status"], 404) << t;
  }
  EXPECT_EQ(get("/web/%00.js").status, 400u);  // control bytes are refused before any file lookup
  EXPECT_EQ(api_->handle({"POST", "/web/js/app.js", "", ""}).status, 405u);
  EXPECT_EQ(api_->handle({"HEAD", "/", "", ""}).status, 200u);
  // If-None-Match through the API (header names are case-insensitive).
  const auto tag = [&] {
    for (const auto& [k, v] : index.headers)
      if (k == "ETag") return v;
    return std::string();
  }();
  EXPECT_EQ(get("/", {{"if-none-match", tag}}).status, 304u);
  EXPECT_EQ(get("/", {{"If-None-Match", "\"stale\""}}).status, 200u);
  EXPECT_GE(api_->counters().rejected.at("not_found"), 9u);
}

TEST_F(StaticThroughApiTest, JsonFilesKeepTheirOwnTagAndCaching) {
  // A language file is JSON: the API's generic JSON ETag must not be added on top of the file's.
  write(cfg_.http_web_root / "i18n" / "en.json", "{\"a\":\"b\"}");
  write(cfg_.http_vendor_root / "leaflet" / "leaflet.css.map", "{}");
  for (const char* target : {"/web/i18n/en.json", "/vendor/leaflet/leaflet.css.map"}) {
    const auto r = get(target);
    ASSERT_EQ(r.status, 200u) << target;
    std::size_t tags = 0, caching = 0;
    std::string tag;
    for (const auto& [k, v] : r.headers) {
      if (k == "ETag") ++tags, tag = v;
      if (k == "Cache-Control") ++caching;
    }
    EXPECT_EQ(tags, 1u) << target;
    EXPECT_EQ(caching, 1u) << target;
    EXPECT_EQ(get(target, {{"If-None-Match", tag}}).status, 304u) << target;
  }
}

TEST_F(StaticThroughApiTest, UiConfigCarriesTheConfiguration) {
  const auto r = get("/api/ui-config");
  ASSERT_EQ(r.status, 200u);
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["tile_url"], "https://tiles.example/{z}/{x}/{y}.png");
  EXPECT_EQ(j["tile_attribution"], "County survey");
  EXPECT_EQ(j["time_zone"], "Asia/Shanghai");
  EXPECT_DOUBLE_EQ(j["compliance_target"].get<double>(), 0.95);
  EXPECT_EQ(j["poll_interval_ms"], 3000);
  EXPECT_EQ(j["commands_enabled"], false);  // anonymous (public_read): may not send commands
  EXPECT_EQ(j["public_read"], true);
  EXPECT_TRUE(j["version"].is_string());
  // An operator token: its role may send commands.
  http_request op{"GET", "/api/ui-config", tok(), ""};
  EXPECT_EQ(json::parse(api_->handle(op).body)["commands_enabled"], true);
  EXPECT_EQ(get("/api/ui-config?x=1").status, 400u);
}

// The map asks GET /api/network only when ui-config says a network is configured (issue 13): a
// gateway without one is never asked (its 503 would be a console error in the browser).
TEST(UiConfig, SaysWhetherAPipeNetworkIsConfigured) {
  config c;
  EXPECT_EQ(json::parse(webapp::ui_config_response(c).body)["network"], false);
  c.network_file = "/etc/sewage/network.geojson";
  EXPECT_EQ(json::parse(webapp::ui_config_response(c).body)["network"], true);
}

TEST(DefaultWebRoot, IsTheSourceTreeOrTheInstalledCopy) {
  const auto root = default_web_root();
  EXPECT_TRUE(fs::is_regular_file(root / "index.html")) << root;
  EXPECT_EQ(config{}.http_vendor_root, fs::path("/usr/share/javascript"));
  EXPECT_TRUE(config{}.http_tile_url.empty());
}

}  // namespace
}  // namespace sewage::gateway
