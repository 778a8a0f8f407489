// The small static dashboard served at "/": one HTML page that reads the JSON API.
#include "dashboard.hpp"

namespace sewage::gateway::detail {

std::string_view dashboard_html() noexcept {
  return R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>County sewage terminals</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.offline{color:#b00}.online{color:#070}
.cards span{display:inline-block;margin-right:2em;font-size:1.2em}
</style></head><body>
<h1>County sewage terminals</h1>
<div class="cards" id="summary">loading...</div>
<h2>Terminals</h2>
<table><thead><tr><th>id</th><th>name</th><th>town</th><th>state</th><th>today m3</th>
<th>turbidity mean NTU</th><th>compliance (coverage)</th><th>open alerts</th></tr></thead><tbody id="terminals"></tbody></table>
<p>JSON: <a href="/api/summary">/api/summary</a> <a href="/api/terminals">/api/terminals</a>
<a href="/api/alerts">/api/alerts</a> <a href="/api/terminals.geojson">GeoJSON</a> <a href="/metrics">metrics</a></p>
<script>
function text(v, d) { return v === null || v === undefined ? "-" : (typeof v === "number" ? v.toFixed(d) : String(v)); }
function cell(row, v) { const td = document.createElement("td"); td.textContent = v; row.appendChild(td); return td; }
async function refresh() {
  const s = await (await fetch("/api/summary")).json();
  document.getElementById("summary").textContent =
    `online ${s.online} / offline ${s.offline} / unknown ${s.unknown} of ${s.terminals}  |  volume today ` +
    `${text(s.volume_today_m3, 1)} m3  |  compliance ${text(s.compliance_rate_today, 3)} over ${text(s.compliance_coverage_today, 2)} of the time  |  open alerts ` +
    `${s.open_alerts_total}  |  operating day ${s.operating_day} (${s.time_zone})`;
  const t = await (await fetch("/api/terminals")).json();
  const body = document.getElementById("terminals");
  body.replaceChildren();
  for (const x of t.terminals) {
    const r = document.createElement("tr");
    cell(r, x.id); cell(r, x.name); cell(r, x.town);
    cell(r, x.state).className = x.state;
    cell(r, text(x.today.volume_m3, 2)); cell(r, text(x.today.turbidity_mean_ntu, 1));
    cell(r, `${text(x.today.compliance_rate, 3)} (${text(x.today.compliance_coverage, 2)})`); cell(r, x.open_alerts.map(a => a.type).join(", "));
    body.appendChild(r);
  }
}
refresh(); setInterval(refresh, 10000);
</script></body></html>
)html";
}

}  // namespace sewage::gateway::detail
