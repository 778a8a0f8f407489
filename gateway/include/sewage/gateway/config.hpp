#pragma once
/// \file
/// The gateway's configuration: a TOML file parsed once into an immutable struct. Pipeline:
/// defaults (the values below, also shown in gateway/gateway.example.toml) -> file -> checks.
/// Every error names the file and the key, e.g. "gateway.toml: http.listen: port must be 1..65535".

#include "sewage/gateway/alarms/settings.hpp"
#include "sewage/gateway/incidents/settings.hpp"
#include "sewage/gateway/notify/settings.hpp"
#include "sewage/gateway/om/lab_settings.hpp"
#include "sewage/gateway/om/inspections_settings.hpp"
#include "sewage/gateway/om/settings.hpp"
#include "sewage/gateway/operating_day.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace sewage::gateway {

/// Raised for an unreadable, malformed or invalid configuration or registry file. what() names
/// the file, the key (and for the registry the terminal index and id) and the reason.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Alert thresholds. County defaults live in `config::defaults`; a terminal's
/// `[terminal.thresholds]` table overrides any of them (same key names). Reasoning for every
/// default is in gateway/README.md ("Alert types"); the turbidity values are PROVISIONAL because
/// the SS limits of DB33/973-2021 were not available (shared/data/standards.md section 2).
struct thresholds {
  /// Compliance limit for effluent turbidity, NTU: a record is compliant when its mean is at or
  /// below it. 10 NTU ~ 20 mg/L SS at ~2 mg/L per NTU (provisional, site calibration needed).
  double turbidity_limit_ntu{10.0};
  /// turbidity_high: raise when the mean is above this, NTU (default: the compliance limit).
  double turbidity_raise_ntu{10.0};
  /// turbidity_high: clear when the mean is at or below this, NTU (hysteresis).
  double turbidity_clear_ntu{8.0};
  /// turbidity_high: the condition must hold this long in event time, s (filters wash-out spikes).
  std::uint32_t turbidity_debounce_s{900};

  /// no_flow: raise when the mean rate is at or below this, m3/h.
  double no_flow_raise_m3h{0.01};
  /// no_flow: clear when the mean rate is at or above this, m3/h.
  double no_flow_clear_m3h{0.05};
  /// no_flow: minimum duration, s. Villages have little flow at night; 6 h rules that out.
  std::uint32_t no_flow_debounce_s{21600};
  /// no_flow: the debounce in an hour whose learned normal flows (its low quantile, p10 of the
  /// site's own hourly means, at least low_flow_min_normal_m3h: engine/flow_normal.hpp), s. Flow
  /// absent when it flows on 9 days out of 10 is a blockage or pump failure, not a quiet night;
  /// 50 min rides out a pump cycle of an intermittently pumped outlet (a small lift pump pauses
  /// for tens of minutes) and still finds a blockage within the hour (issue 14: median detection
  /// delay <= 60 min, which adds the first silent interval and the delivery to the debounce).
  /// Where night flow is normally near zero (or the normal is still the prior)
  /// no_flow_debounce_s applies; never longer than it.
  std::uint32_t no_flow_flowing_debounce_s{3000};

  /// low_flow (issue 14): the window whose mean flow is compared with the normal for its hours, s.
  /// 2 h: long enough to average out pump cycles and an hour's scatter, short enough to see a
  /// blockage the same morning.
  std::uint32_t low_flow_window_s{7200};
  /// low_flow: raise when the window's mean flow is below this share of the normal (median) AND
  /// below the site's own low quantile (p10) for those hours. 0.6: a blockage cutting most
  /// households (issue 13: 94 %) and a burst losing ~50 % both fall below it; the p10 condition
  /// keeps a site whose ordinary days scatter below 0.6 x its median from alarming on a low day.
  double low_flow_raise_ratio{0.6};
  /// low_flow: ... AND below this share of the site's own low quantile (p10) for those hours.
  /// 0.4, measured on 22 simulated days of the county's network (sewage-sim-history: pump
  /// stations cycling upstream, 4 h terminal tanks; sewage-gateway import-history counts the
  /// alerts): terminals fed by slow-cycling stations stay below their p10 for hours on ordinary
  /// days - 102 false low_flow episodes with 1.0, 12 with 0.6, 2 with 0.5, 0 with 0.4. The price:
  /// a stable site (p10 ~0.85 x median) raises below ~35 % of its median, so a blockage cutting
  /// most households (issue 13: 94 %) is found and a burst losing half of the flow is not.
  double low_flow_low_band_ratio{0.4};
  /// low_flow: clear when the window's mean flow is at or above this share of the normal (hysteresis).
  double low_flow_clear_ratio{0.8};
  /// low_flow: how long the condition must hold (and then the clear condition), s.
  std::uint32_t low_flow_debounce_s{1800};
  /// low_flow: judged only where every hour of the window normally flows: its learned low
  /// quantile at least this, m3/h (also no_flow's "normally flows"). 0.05 m3/h = 1.2 m3/day rate,
  /// five times no_flow's clear level; below it hours are normally (near) dry.
  double low_flow_min_normal_m3h{0.05};
  /// Learned normal: days of history an (hour, day type) needs before it replaces the prior, 1..28.
  /// 5: a weekday hour has it after one week, a weekend hour after three weekends.
  std::uint32_t flow_min_days{5};
  /// Learned normal's prior: share of design_capacity_m3d a site is assumed to receive. 0.6: rural
  /// terminals are commonly built for the planned population and run well below capacity (an
  /// ASSUMPTION; the learned normal replaces it).
  double flow_prior_load{0.6};

  /// flow_high: raise when the mean rate exceeds this multiple of the design mean hourly flow
  /// (design_capacity_m3d / 24). 2.5 ~ peak factor of small sewer catchments.
  double flow_high_raise_factor{2.5};
  /// flow_high: clear at or below this multiple of the design mean hourly flow.
  double flow_high_clear_factor{2.0};
  /// flow_high: minimum duration, s.
  std::uint32_t flow_high_debounce_s{3600};

  /// cleanout_required: how long the agent's clean-out flag must stay set (and then clear), s.
  std::uint32_t cleanout_debounce_s{3600};
  /// Clean-out forecast (issue 14 item 3, forecast/cleanout.hpp): the sludge level at which the
  /// tank needs a clean-out, m above the tank floor - the agent's `[cleanout] raise_m` (its default
  /// 1.5 m, firmware/include/sewage/agent/config.hpp). The forecast gives the date the sludge
  /// trend reaches it.
  double cleanout_level_m{1.5};
  /// cleanout_due_soon: raised when the forecast date is at most this many days ahead (0 = no
  /// notice, the forecast is still shown). 14: two weeks to book a suction tanker and tell the
  /// village (the sludge goes to a treatment plant by appointment).
  std::uint32_t cleanout_due_soon_days{14};
  /// sensor_fault: how long a quantity must stay non-ok (and then ok again), s.
  std::uint32_t sensor_fault_debounce_s{600};
  /// queue_overflow: cleared after this long without a further drop, s (event time).
  std::uint32_t queue_overflow_clear_s{3600};
  /// clock_skew: raise when |record ts - arrival| exceeds this, s (only live records, see README).
  std::uint32_t clock_skew_raise_s{300};
  /// clock_skew: clear when |record ts - arrival| is at or below this, s.
  std::uint32_t clock_skew_clear_s{60};
  /// Trust window for record time stamps (DESIGN.md "Trust in numbers"): a record's ts is used as
  /// its event time only when arrival - clock_trust_behind_s <= ts <= arrival + clock_trust_ahead_s.
  /// Outside, the record is kept with arrival as its effective time, and clock_skew is raised.
  /// Behind, s: must cover the oldest record a terminal's queue can legitimately replay. Default
  /// 90 days: the agent's default queue (queue.max_records = 100000 at the default 60 s report
  /// interval, firmware/include/sewage/agent/config.hpp) holds ~69 days; raise it for terminals
  /// with a larger queue or a longer interval.
  std::uint32_t clock_trust_behind_s{7776000};
  /// Ahead, s: no record is legitimately from the future; this only absorbs the gateway's own
  /// clock error. Default 300 s = clock_skew_raise_s.
  std::uint32_t clock_trust_ahead_s{300};
  /// offline: raise after no live record for this many report intervals.
  double offline_after_intervals{3.0};

  // Energy (issue 12 item 5; gateway/README.md "Energy" gives the reasoning). Only terminals whose
  // records carry an `energy` section are judged: no meter, no energy alert.
  /// Largest power the terminal can draw, kW: bounds a plausible kWh meter increment. A small
  /// terminal draws 0.3-1.5 kW (blower + pumps); 10 kW leaves room for the largest (500 m3/d).
  double energy_peak_kw{10.0};
  /// power_without_flow: "running" when the mean power is at or above this, kW. Above a small
  /// terminal's blower (0.3-0.5 kW): a pump is running. Set it per terminal in the registry.
  double power_without_flow_raise_kw{0.6};
  /// power_without_flow: "stopped" (clear) when the mean power is at or below this, kW (hysteresis).
  double power_without_flow_clear_kw{0.5};
  /// power_without_flow: with a pump current in the record, "running" at or above this, A (used
  /// instead of the power: it sees the pump alone). Small pumps draw 1-3 A; idle reads ~0.
  double pump_running_a{0.5};
  /// power_without_flow: pump "stopped" (clear) at or below this, A.
  double pump_stopped_a{0.3};
  /// power_without_flow: "no flow" when the mean rate is at or below this, m3/h.
  double power_without_flow_flow_m3h{0.05};
  /// power_without_flow: flow back (clear) when the mean rate is at or above this, m3/h.
  double power_without_flow_flow_clear_m3h{0.1};
  /// power_without_flow: how long it must hold in event time, s. A pump that runs dry or against a
  /// blocked outlet runs on (its level switch is never satisfied); 30 min rules out a start.
  std::uint32_t power_without_flow_debounce_s{1800};
  /// flow_without_power: "flowing" when the mean rate is at or above this, m3/h.
  double flow_without_power_flow_m3h{0.1};
  /// flow_without_power: flow gone (clear) when the mean rate is at or below this, m3/h.
  double flow_without_power_flow_clear_m3h{0.05};
  /// flow_without_power: "no power" when the mean power is at or below this, kW: not even the
  /// blower runs (supply off, meter fault, or effluent bypassing the treatment).
  double flow_without_power_raise_kw{0.05};
  /// flow_without_power: power back (clear) at or above this, kW.
  double flow_without_power_clear_kw{0.1};
  /// flow_without_power: how long it must hold in event time, s.
  std::uint32_t flow_without_power_debounce_s{1800};

  // Pump stations (issue 13 item 2; gateway/README.md "Pump stations" gives the reasoning).
  // Judged only for registry entries of kind pump_station, from the record's `pump_station`
  // section. A station's [terminal.pump_station] wet_well_high_m / wet_well_low_m override the two
  // levels (registry.hpp, pump_station_info).
  /// wet_well_high: raise when the wet-well level is above this, m above the wet-well floor. A
  /// rural station's well is 2-4 m deep with its overflow ~0.3-0.5 m below the cover; 2.5 m is the
  /// county default for a 3 m well. Set it per station (its overflow level minus a margin).
  double wet_well_high_m{2.5};
  /// wet_well_low: raise when the level is below this, m: the pumps' stop float is normally
  /// 0.4-0.6 m above the floor; below 0.3 m the pump sucks air (dry run) or the inflow is gone.
  double wet_well_low_m{0.3};
  /// Hysteresis of both level rules, m: high clears at or below high - this, low at or above low + this.
  double wet_well_hysteresis_m{0.1};
  /// wet_well_high / wet_well_low: how long the level must stay beyond (and then back within), s.
  /// Short: a high well overflows within tens of minutes; 2 min rides out a start-up surge.
  std::uint32_t wet_well_debounce_s{120};
  /// pump_fault: how long a fault input must stay active (and then inactive), s. Overload and
  /// thermal trips latch until reset, so 2 min only filters a bouncing contact.
  std::uint32_t pump_fault_debounce_s{120};
  /// power_lost: how long mains must be absent (and then present), s. An auto-recloser restores
  /// a rural feeder within ~1 min; longer is an outage (the well then fills with nothing pumping).
  std::uint32_t power_lost_debounce_s{120};
  /// pump_no_level_drop: a pump counts as running in an interval when its run_s is at least this
  /// share of the interval (the contract's 80 %).
  double pump_running_fraction{0.8};
  /// pump_no_level_drop: consecutive running intervals before the level change is judged. 10
  /// intervals (10 min at 60 s): a healthy pump lowers a rural wet well by 5-20 cm a minute.
  std::uint32_t pump_no_level_drop_intervals{10};
  /// pump_no_level_drop: the level must have fallen by at least this over those intervals, m.
  double pump_no_level_drop_m{0.05};
  /// pump_runtime_abnormal: raise when the run hours of the last 24 h are below low x normal or
  /// above high x normal (normal = median of the previous 7 complete daily run totals).
  double pump_runtime_low_ratio{0.5};
  double pump_runtime_high_ratio{2.0};
  /// pump_runtime_abnormal: clear when back within [clear_low, clear_high] x normal (hysteresis).
  double pump_runtime_clear_low_ratio{0.6};
  double pump_runtime_clear_high_ratio{1.7};
  /// pump_runtime_abnormal: days of history needed (complete days among the previous 7), >= 1.
  std::uint32_t pump_runtime_min_days{3};
  /// pump_runtime_abnormal: a normal below this many run hours a day is not judged, h (ratios of
  /// a few minutes a day say nothing).
  double pump_runtime_min_normal_h{0.5};
  /// pump_runtime_abnormal: debounce, s. The 24 h sum moves slowly; an hour confirms a trend.
  std::uint32_t pump_runtime_debounce_s{3600};

  friend bool operator==(const thresholds&, const thresholds&) = default;
};

/// The web application's folder when http.web_root is not set: the installed copy
/// (<prefix>/share/sewage-gateway/web, from CMake's install prefix) when it holds index.html,
/// else the source tree's gateway/web (a build that was never installed). Never throws.
std::filesystem::path default_web_root();

/// store.backend: the embedded SQLite file (default) or a PostgreSQL server (postgresql_store.hpp).
enum class store_backend { sqlite, postgresql };

/// Immutable gateway configuration.
struct config {
  std::filesystem::path source;  ///< the file it came from (for messages)

  // [mqtt]
  /// ssl:// or mqtts:// (TLS with certificate and host-name checks); tcp:// or mqtt:// only with
  /// mqtt_allow_plaintext. Default: mosquitto's TLS port on this host.
  std::string mqtt_uri{"ssl://localhost:8883"};
  /// Opt-in for a plain URI (default false: load_config refuses it naming mqtt.uri and this key,
  /// and mqtt_link's constructor throws std::invalid_argument). When used, start logs one warning.
  bool mqtt_allow_plaintext{false};
  std::string mqtt_client_id{"sewage-gateway"};   ///< fixed: the persistent session is keyed on it
  std::string mqtt_username;                      ///< empty = anonymous
  std::string mqtt_password;
  std::string mqtt_ca_file;    ///< PEM CA for ssl:// (empty = the system's CA store, /etc/ssl/certs)
  std::string mqtt_cert_file;  ///< client certificate for mutual TLS (optional)
  std::string mqtt_key_file;
  std::chrono::seconds mqtt_keep_alive{20};

  // [store]
  /// Which store holds history, daily aggregates, alerts and the resume state (store_factory.hpp).
  store_backend backend{store_backend::sqlite};
  /// libpq connection string of the PostgreSQL store (store.postgresql_uri; required when backend
  /// is postgresql). May hold a password: log it only through redact_postgresql_uri.
  std::string postgresql_uri;
  /// The SQLite database. With backend = postgresql it still holds the rooms that use SQLite
  /// directly (auth, audit, alarm discipline, incidents, work orders, inspections, lab, archive)
  /// and names the inbox folder "<path>-inbox.d".
  std::filesystem::path store_path{"gateway.db"};
  /// History older than this is deleted (raw records and hourly values); daily rows stay.
  std::uint32_t retention_days{400};
  /// Raw records older than this become hourly values (store.hpp hourly_row: count, mean, min
  /// and max of flow, turbidity and sludge level per terminal and hour). 0 = never: raw records
  /// are kept until retention_days. Issue 16 item 5: ~620 B per raw record, ~3 B once rolled up.
  std::uint32_t rollup_after_days{30};
  std::uint32_t dead_letter_max_rows{10000};
  std::chrono::milliseconds flush_interval{100};  ///< batch commit period (max loss on SIGKILL)

  // [http]
  std::string http_address{"127.0.0.1"};
  std::uint16_t http_port{8080};
  /// true: GET reads without login, as a viewer of the whole county (issue 11; default false).
  bool http_public_read{false};
  std::chrono::seconds http_session_idle_timeout{1800};  ///< a session unused this long ends (60..86400 s)
  std::chrono::seconds http_session_max_age{43200};      ///< a session ends this long after login (60..2592000 s)
  std::uint32_t http_login_max_failures{5};              ///< failed logins per user and per address (1..1000) ...
  std::chrono::seconds http_login_window{900};           ///< ... within this window, then 429 (1..86400 s)
  std::size_t http_max_body_bytes{16384};
  std::uint32_t http_max_range_days{366};   ///< history/daily query span limit
  std::uint32_t http_max_rows{10000};       ///< history rows per response
  /// Folder of the web application (index.html, css/, js/, i18n/) served at / and /web/.
  /// Default: default_web_root(). A relative path is relative to the config file's folder.
  std::filesystem::path http_web_root{default_web_root()};
  /// Folder served at /vendor/: Debian's JavaScript libraries (libjs-leaflet,
  /// libjs-leaflet.markercluster, libjs-chart.js install under /usr/share/javascript).
  std::filesystem::path http_vendor_root{"/usr/share/javascript"};
  /// Base map tile URL template for Leaflet ("https://tiles.example/{z}/{x}/{y}.png"); empty =
  /// no base map (terminals on a plain background with a scale bar; works with no internet).
  std::string http_tile_url;
  std::string http_tile_attribution;  ///< shown in the map corner when tile_url is set
  /// HTTPS on the listener (gateway/README.md "HTTPS"): PEM certificate chain and PEM private
  /// key (unencrypted). Both set = the listener speaks only HTTPS; both empty = plain HTTP (for
  /// loopback or behind a reverse proxy). load_config() refuses one without the other and a pair
  /// that does not load (http_security::tls_files_problem). Relative to the config file's folder.
  std::filesystem::path http_tls_cert_file;
  std::filesystem::path http_tls_key_file;
  std::uint32_t http_poll_interval_ms{3000};  ///< how often the page polls the API, ms (1000..60000)
  /// Threads answering read routes (history, daily series, images, reports) with their own
  /// read-only store connections, off the engine's thread; 0 = on the engine's thread (as before
  /// issue 10; not recommended). gateway/README.md "Reads and the engine thread".
  std::uint32_t http_reader_threads{2};
  /// Read requests waiting for a reader thread at most; beyond it 503 with Retry-After.
  std::uint32_t http_reader_queue_max{64};
  /// CPU time a reader thread may spend on one read request before its SQL is interrupted (503).
  /// CPU time, not wall time: a reader starved by a busy host is not cut, a runaway query is.
  std::chrono::milliseconds http_read_cpu_limit{10000};

  // [registry]
  std::filesystem::path registry_path{"registry.toml"};

  // [county]
  /// IANA name of the county's time zone; operating days are calendar days there (daylight
  /// saving included). load_config() refuses a name the system database does not know.
  std::string time_zone{"Asia/Shanghai"};
  /// `time_zone` resolved in the system time-zone database (operating_day.hpp). The old fixed
  /// offset key `utc_offset_minutes` is refused with an error naming it.
  county_zone zone;

  // [alerts]
  thresholds defaults;
  std::chrono::seconds startup_grace{300};   ///< no offline alerts this long after gateway start
  std::chrono::seconds restart_grace{600};   ///< after a clean agent shutdown
  std::chrono::milliseconds tick_interval{1000};  ///< offline check period

  // [notify] and [[notify.target]] (notify/settings.hpp). The former [notifier] table is refused
  // with an error naming the new form.
  notify_settings notify;

  // [alarms] (alarms/settings.hpp): shelving, escalation of unacknowledged alerts, grouping.
  alarms::settings alarms;
  // [om], [om.work_orders], [[om.contractor]] (om/settings.hpp). After load_config, an empty
  // om.site_key_file is "site-key" and an empty om.photo_dir is "photos" beside the store.
  om::settings om;

  // [om.lab], [om.archive] (om/lab_settings.hpp): lab results, limits file, sampling schedule; archive
  om::lab_settings om_lab;
  om::archive_settings om_archive;
  // [om.inspections], [om.assessment] (om/inspections_settings.hpp)
  om::inspection_settings om_inspections;
  om::assessment_settings om_assessment;

  // [network] (network/model.hpp, gateway/README.md "Pipe network")
  /// The pipe network GeoJSON file, resolved against the config file's directory; empty (the
  /// default) = no network: the gateway runs as before. Loaded at start and on SIGHUP.
  std::filesystem::path network_file;

  // [incidents] (incidents/settings.hpp, gateway/README.md "Weather events")
  incidents::weather_settings weather;

  // [commands]
  /// A command sent to a terminal (POST /api/terminals/{id}/commands) without a result on
  /// `.../cmd/result` this long after it was sent is `timed_out` (judged on each tick). 120 s:
  /// the agent answers within one poll, a few seconds; this leaves room for a slow link.
  std::chrono::seconds command_timeout{120};

  // [standby] (standby/leader_lease.hpp, gateway/README.md "A standby gateway")
  /// Two gateways on one PostgreSQL store: the one holding the lease leads, the other waits with
  /// a standby HTTP answer (standby/standby_http.hpp). Requires store.backend = "postgresql".
  bool standby_enabled{false};
  /// This gateway's name, shown by the other one (default: the host name).
  std::string standby_node;
  /// This gateway's HTTP URL as operators reach it, shown by the standby (may be empty).
  std::string standby_http_url;
  /// The PostgreSQL advisory lock key of the pair: the same in both gateways' files, different
  /// for another pair on the same server. Default 0x5357475731 ("SWGW1").
  std::int64_t standby_lease_key{0x5357475731};
  /// How often the standby tries to take the lease and the leader checks it holds it; the leader
  /// stops after 3 intervals without a successful check (fencing, leader_lease.hpp).
  std::chrono::milliseconds standby_check_interval{2000};

  // [log]
  std::string log_level{"info"};
};

/// Reads and validates `path`. Throws config_error naming the file and key on any problem
/// (unknown keys included, to catch typos). Relative store and registry paths are resolved
/// against the config file's directory. Not thread-safe only in the sense that it reads a file.
config load_config(const std::filesystem::path& path);

}  // namespace sewage::gateway
