// Agent RSS and CPU at 1 s polling with Modbus points on emulated instruments, 60 s reports,
// against a private mosquitto. Default: three points (flowmeter rate, turbidity, level);
// --points 5 adds the flowmeter's totalizer (integer and fraction parts), the setup of issue 15
// item 6 (3 Modbus TCP devices, 5 points). --tls: the broker listens with TLS only (a throw-away
// EC P-256 CA and server certificate made with openssl in the temporary folder) and accepts only
// a password file's account; the agent gets ssl://, ca_file, username and password, as a
// provisioned terminal does (gateway/README.md, "Terminal identities").
// Prints VmRSS (the figure the requirement names) and, to tell shared from private memory, RssAnon,
// RssFile, PSS and USS; --breakdown adds Rss/PSS/USS per mapped file at the end.
// Flash writes (issue 15 item 5): the agent's /proc/PID/io write_bytes over the measured time,
// scaled to a day - the bytes its queue (SQLite WAL, checkpoints) and its log put on the storage
// under --dir (an SD card on the terminal's SBC; it must be a block-backed file system, not tmpfs).
// --wrap runs the agent under a tool (e.g. --wrap "valgrind --tool=callgrind"); the figures are
// then the tool's.
// Usage: agent_resources_bench --agent PATH [--seconds 600] [--report-interval-s 60] [--points 3|5]
//        [--tls] [--dir DIR] [--breakdown] [--wrap "CMD ARGS"]
#include "bench_support.hpp"
#include "sewage/instruments/modbus_device.hpp"

#include <CLI/CLI.hpp>

#include <iomanip>
#include <optional>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sewage-agent RSS and CPU benchmark"};
  std::string agent_bin;
  int seconds = 600;
  app.add_option("--agent", agent_bin, "path to sewage-agent")->required();
  app.add_option("--seconds", seconds, "measuring time after a 10 s warm-up")->check(CLI::PositiveNumber);
  int report_interval_s = 60;
  app.add_option("--report-interval-s", report_interval_s, "the agent's report interval, s")->check(CLI::Range(10, 86400));
  std::string base_dir = std::filesystem::temp_directory_path().string();
  app.add_option("--dir", base_dir, "where the agent's queue and log live (block-backed, for the flash figure)");
  bool breakdown = false;
  app.add_flag("--breakdown", breakdown, "print Rss/PSS/USS per mapped file at the end (from /proc/PID/smaps)");
  int points = 3;
  app.add_option("--points", points, "3 (rate, turbidity, level) or 5 (+ totalizer integer and fraction)")
      ->check(CLI::IsMember({3, 5}));
  bool tls = false;
  app.add_flag("--tls", tls, "TLS broker with a throw-away CA, user name and password");
  std::string wrap;
  app.add_option("--wrap", wrap, "run the agent under this command (arguments separated by spaces)");
  CLI11_PARSE(app, argc, argv);

  const auto dir = std::filesystem::path(base_dir) / ("agent-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::optional<sewage::bench::tls_material> certs;
  if (tls) certs = sewage::bench::make_tls_material(dir, "BENCH", "bench-secret");
  sewage::bench::broker broker(dir, certs ? &*certs : nullptr);
  sewage::instruments::flowmeter flow;
  sewage::instruments::turbidity_probe turbidity;
  sewage::instruments::level_sensor level;
  flow.set_flow_m3h(1.25F);
  flow.set_total(12345, 0.5F);
  turbidity.set_turbidity_ntu(3.5F);
  level.set_distance_mm(2100);
  const auto config = dir / "agent.toml";
  std::ofstream out(config);
  out << "terminal_id = \"BENCH\"\nlog_level = \"warn\"\npoll_interval_s = 1\nreport_interval_s = " << report_interval_s << "\n"
      << "[mqtt]\nuri = \"" << broker.uri() << "\"\n";
  if (certs) {
    out << "ca_file = \"" << certs->ca.string() << "\"\nusername = \"" << certs->user << "\"\npassword = \""
        << certs->password << "\"\n";
  } else {
    out << "allow_plaintext = true\n";
  }
  out << "[queue]\npath = \"" << (dir / "q.db").string() << "\"\n"
      << "[[device]]\nname = \"flow\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
      << flow.device().port() << "\n[[device.point]]\nquantity = \"flow_rate\"\naddress = 0x1010\ntype = \"f32\"\n"
      << "word_order = \"CDAB\"\n";
  if (points == 5) {
    out << "[[device.point]]\nquantity = \"flow_total_int\"\naddress = 0x1018\ntype = \"u32\"\nword_order = \"CDAB\"\n"
        << "[[device.point]]\nquantity = \"flow_total_frac\"\naddress = 0x101A\ntype = \"f32\"\nword_order = \"CDAB\"\n";
  }
  out << "[[device]]\nname = \"turbidity\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
      << turbidity.device().port()
      << "\n[[device.point]]\nquantity = \"turbidity\"\naddress = 0x2602\ntype = \"f32\"\nword_order = \"DCBA\"\n"
      << "[[device]]\nname = \"level\"\ndriver = \"modbus\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
      << level.device().port()
      << "\n[[device.point]]\nquantity = \"sludge_level\"\naddress = 0x0005\nscale = -0.001\noffset = 3.0\n";
  out.close();
  std::vector<std::string> command;
  std::istringstream words(wrap);
  for (std::string w; words >> w;) command.push_back(w);
  for (const auto& a : {agent_bin, std::string("--config"), config.string()}) command.push_back(a);
  sewage::bench::process agent(command, dir / "agent.log");
  std::cerr << "agent PID " << agent.pid() << ", folder " << dir.string() << "\n";  // for strace -p
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const double cpu0 = sewage::bench::cpu_seconds(agent.pid());
  const auto split0 = sewage::bench::cpu_times(agent.pid());
  const long long wakeups0 = sewage::bench::voluntary_switches(agent.pid());
  const auto io0 = sewage::bench::io(agent.pid());
  const auto t0 = std::chrono::steady_clock::now();
  long rss_max = 0;
  for (int i = 0; i < seconds; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    rss_max = std::max(rss_max, sewage::bench::rss_kib(agent.pid()));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double lifetime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double cpu = sewage::bench::cpu_seconds(agent.pid()) - cpu0;
  const auto split1 = sewage::bench::cpu_times(agent.pid());
  const long long wakeups = sewage::bench::voluntary_switches(agent.pid()) - wakeups0;
  const auto io1 = sewage::bench::io(agent.pid());
  const auto mem = sewage::bench::memory(agent.pid());
  const auto files = breakdown ? sewage::bench::mappings(agent.pid()) : std::vector<sewage::bench::mapping_kib>{};
  const std::uint64_t polls = flow.device().requests() + turbidity.device().requests() + level.device().requests();
  const long threads = sewage::bench::threads(agent.pid());
  agent.stop();
  // mosquitto logs "New client connected from ... as BENCH (..., u'BENCH')" for each connect.
  const int connects = broker.log_count(" as BENCH ");
  std::cout << "agent_resources: " << wall << " s measured, " << points << " Modbus points on 3 devices polled every 1 s ("
            << polls << " requests answered in total), broker " << (certs ? "TLS + password" : "plain TCP") << " ("
            << connects << " agent connect(s) in its log), " << threads << " agent threads\n"
            << std::fixed << std::setprecision(2) << "  RSS at end: " << mem.vm_rss / 1024.0
            << " MiB, max: " << rss_max / 1024.0 << " MiB (issue 15 item 6: <= 10 MB with TLS)\n"
            << "    RssAnon " << mem.rss_anon / 1024.0 << " MiB + RssFile " << mem.rss_file / 1024.0
            << " MiB (mapped files, mostly shared libraries)\n"
            << "    PSS " << mem.pss / 1024.0 << " MiB (shared pages divided among their users; target <= 6.5 MB), USS "
            << mem.uss / 1024.0 << " MiB (private to the agent)\n"
            << "  CPU: " << cpu << " s = " << 100.0 * cpu / wall << " % of one core (target <= 0.2 % with TLS): user "
            << split1.user - split0.user << " s, system " << split1.sys - split0.sys << " s (clock ticks of "
            << 1000 / ::sysconf(_SC_CLK_TCK) << " ms); " << static_cast<double>(wakeups) / wall
            << " thread wake-ups/s (voluntary context switches)\n"
            << "    start-up (first 10 s: config, queue quick_check, OpenSSL, TLS handshake): " << cpu0
            << " s; lifetime average (what ps %CPU shows) " << 100.0 * (cpu0 + cpu) / lifetime
            << " %, and it would show " << 100.0 * (cpu0 + 50.0 * cpu / wall) / 60.0 << " % one minute after start\n";
  const double per_day = 86400.0 / wall;
  const double reports = wall / report_interval_s;
  const double written = static_cast<double>(io1.write_bytes - io0.write_bytes);
  const double cancelled = static_cast<double>(io1.cancelled_write_bytes - io0.cancelled_write_bytes);
  std::cout << "  flash writes (/proc/PID/io, queue and log under " << base_dir << "): write_bytes "
            << written / 1024.0 << " KiB (" << written / std::max(reports, 1.0) / 1024.0 << " KiB per report), "
            << written * per_day / 1048576.0 << " MiB/day at one report per " << report_interval_s
            << " s; cancelled_write_bytes " << cancelled * per_day / 1048576.0 << " MiB/day (truncated before write-back)\n"
            << "    write calls: " << (io1.syscw - io0.syscw) * per_day << " per day, "
            << static_cast<double>(io1.wchar - io0.wchar) * per_day / 1048576.0 << " MiB/day (sockets included)\n";
  if (breakdown) {
    std::cout << "  per mapping at end (KiB):      Rss      PSS      USS\n";
    for (const auto& f : files) {
      std::cout << "    " << std::left << std::setw(28) << f.name.substr(f.name.rfind('/') + 1) << std::right
                << std::setw(6) << f.rss << std::setw(9) << f.pss << std::setw(9) << f.uss << "\n";
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
