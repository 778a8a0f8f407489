// `sewage-gateway import-history <file>` (history/cli.hpp).
#include "sewage/gateway/history/cli.hpp"

#include "sewage/gateway/history/import.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <fstream>
#include <iostream>

namespace sewage::gateway::history {

cli::cli(CLI::App& app) {
  command_ = app.add_subcommand(
      "import-history",
      "import recorded interval records (JSON Lines of v1 telemetry payloads) into the store, with the gateway "
      "stopped (gateway/README.md \"Importing history\")");
  command_->add_option("file", file_, "the JSON Lines file ('-' = standard input)")->required();
}

bool cli::requested() const { return command_->parsed(); }

int cli::run(const config& cfg, registry reg, const network::holder& pipes) const {
  {
    // A gateway running on this store holds its state in memory: an import behind its back
    // would be overwritten or contradicted. Its HTTP port answering is the sign.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket probe(io);
    boost::system::error_code ec;
    const std::string host = cfg.http_address == "0.0.0.0" || cfg.http_address.empty() ? "127.0.0.1"
                             : cfg.http_address == "::"                                ? "::1"
                                                                                       : cfg.http_address;
    const auto address = boost::asio::ip::make_address(host, ec);
    if (!ec) {
      probe.connect({address, cfg.http_port}, ec);
      if (!ec) {
        std::cerr << "sewage-gateway import-history: something answers on the gateway's HTTP port " << host << ':'
                  << cfg.http_port << " (http.listen): stop the gateway first, then import\n";
        return 1;
      }
    }
  }
  std::ifstream file;
  if (file_ != "-") {
    file.open(file_);
    if (!file) {
      std::cerr << "sewage-gateway import-history: " << file_ << ": cannot open\n";
      return 2;
    }
  }
  std::istream& in = file_ == "-" ? std::cin : file;
  import_summary sum;
  try {
    sum = import_records(cfg, std::move(reg), pipes, in);
  } catch (const std::exception& e) {
    std::cerr << "sewage-gateway import-history: " << file_ << ": " << e.what() << '\n';
    return 2;
  }
  std::cout << file_ << ": " << sum.lines << " records read: " << sum.accepted << " accepted, " << sum.duplicates
            << " already stored, " << sum.refused << " refused, " << sum.other << " dropped by the engine (see the log)";
  if (sum.first && sum.last)
    std::cout << "; from " << proto::format_timestamp(*sum.first) << " to " << proto::format_timestamp(*sum.last);
  std::cout << "; alerts raised " << sum.alerts_raised << ", cleared " << sum.alerts_cleared << '\n';
  for (const auto& p : sum.problems) std::cout << "  refused " << p << '\n';
  if (sum.refused > sum.problems.size()) std::cout << "  ... and " << sum.refused - sum.problems.size() << " more\n";
  return sum.accepted == 0 && sum.refused > 0 ? 1 : 0;
}

}  // namespace sewage::gateway::history
