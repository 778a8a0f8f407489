// Site archive (一设施一档案, #/sites/{id}/archive): GET /api/sites/{id}/archive — the registry's
// facts, the archive's own fields (process, households, villages), contractor, equipment,
// clean-outs, work orders, inspections, lab results with their verdicts and the sampling status.
// Operators edit the fields (PUT), add equipment and clean-outs (POST) and remove equipment
// (DELETE). Printable: window.print() with the print rules of css/archive.css.
import { escapeHtml as esc } from "../states.js";
import { ensureOmStylesheet, resultRows, resultHead, problemsText } from "./lab.js";

export async function render(root, ctx) {
  const { t, fmt } = ctx;
  ensureOmStylesheet();
  const id = ctx.args[0];
  const enc = encodeURIComponent(id);
  const path = `/api/sites/${enc}/archive`;
  const operator = ctx.can("command");
  root.innerHTML = `<section class="panel archive" id="archive"><p class="muted">${t("archive.loading")}</p></section>`;
  const box = root.querySelector("#archive");

  function facts(a) {
    const s = a.site;
    const f = a.archive;
    const villages = f.villages.length ? f.villages.join(", ") : s.village;
    return `<dl class="archive-facts">
      <dt>${t("terminal.town")}</dt><dd>${esc(s.town)}</dd>
      <dt>${t("archive.villages")}</dt><dd id="a-villages">${esc(villages)}</dd>
      <dt>${t("archive.households")}</dt><dd id="a-households">${f.households === null ? "—" : fmt.number(f.households, 0)}</dd>
      <dt>${t("archive.process")}</dt><dd id="a-process">${esc(f.process || "—")}</dd>
      <dt>${t("terminal.capacity")}</dt><dd>${fmt.number(s.design_capacity_m3d, 1)} m³/d · ${esc({ small: t("archive.size_small"), medium: t("archive.size_medium"), large: t("archive.size_large") }[s.size_class] || s.size_class)}</dd>
      <dt>${t("terminal.grade")}</dt><dd id="a-grade">${esc(t(`grade.${s.discharge_grade}`))}${s.discharge_standard ? ` · ${esc(s.discharge_standard)}` : ""}</dd>
      <dt>${t("archive.contractor")}</dt><dd id="a-contractor">${a.contractor ? esc(a.contractor.display_name || a.contractor.name || a.contractor) : `<span class="archive-empty">${t("archive.no_contractor")}</span>`}</dd>
      <dt>${t("archive.notes")}</dt><dd>${esc(f.notes || "—")}</dd>
      <dt>${t("archive.changed")}</dt><dd>${f.changed_at ? `${fmt.dateTime(f.changed_at)} · ${esc(f.changed_by)}` : "—"}</dd>
    </dl>`;
  }

  function table(head, rows, empty) {
    if (!rows.length) return `<p class="archive-empty">${empty}</p>`;
    return `<div class="table-scroll"><table class="om-table"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>
      <tbody>${rows.join("")}</tbody></table></div>`;
  }

  /** Rows of another room's table (work orders, inspections): its columns as stored; `*_ms` times
   * shown as county date-times. null: that room is not in this gateway. */
  function history(list, cols, empty, kind) {
    if (list === null) return `<p class="archive-empty">${t("archive.not_wired")}</p>`;
    const cell = (r, c) => (c.endsWith("_ms") ? (r[c] ? fmt.dateTime(r[c]) : "") : esc(r[c] ?? ""));
    return table(cols.map((c) => esc(c.replace(/_ms$/, ""))), list.map((r) => `<tr data-${kind}="${esc(r.id)}">${cols.map((c) => `<td>${cell(r, c)}</td>`).join("")}</tr>`), empty);
  }

  function draw(a) {
    const f = a.archive;
    const sampling = a.sampling;
    box.innerHTML = `
      <div class="archive-toolbar no-print">
        <a href="#/terminals/${enc}">${t("archive.back")}</a>
        <button type="button" id="a-print">${t("report.print")}</button>
      </div>
      <h1>${t("archive.title")} · ${esc(a.site.name)} <span class="muted">${esc(a.site.id)}</span></h1>
      <p class="muted">${t("archive.generated", { time: fmt.dateTime(a.generated_at) })}</p>
      ${facts(a)}
      ${operator ? `<form class="om-form no-print" id="a-edit">
        <label>${t("archive.process")}<input id="f-process" maxlength="200" value="${esc(f.process)}"></label>
        <label>${t("archive.households")}<input id="f-households" type="number" min="0" step="1" value="${f.households ?? ""}"></label>
        <label>${t("archive.villages")}<input id="f-villages" maxlength="500" value="${esc(f.villages.join(", "))}"></label>
        <label>${t("archive.notes")}<input id="f-notes" maxlength="2000" value="${esc(f.notes)}"></label>
        <button type="submit">${t("archive.save")}</button><span id="f-msg" class="om-problems"></span></form>` : ""}
      <section class="archive-section"><h2>${t("archive.equipment")}</h2>
        ${table([t("archive.kind"), t("archive.model"), t("archive.serial"), t("archive.installed"), ""],
          a.equipment.map((e) => `<tr data-equipment="${e.id}"><td>${esc(e.kind)}</td><td>${esc(e.model)}</td><td>${esc(e.serial)}</td><td>${esc(e.installed_date)}</td>
            <td>${operator ? `<button type="button" class="secondary no-print eq-del" data-id="${e.id}">${t("archive.remove")}</button>` : ""}</td></tr>`),
          t("archive.none"))}
        ${operator ? `<form class="om-form no-print" id="e-add">
          <label>${t("archive.kind")}<input id="e-kind" required maxlength="100"></label>
          <label>${t("archive.model")}<input id="e-model" maxlength="100"></label>
          <label>${t("archive.serial")}<input id="e-serial" maxlength="100"></label>
          <label>${t("archive.installed")}<input id="e-date" type="date"></label>
          <button type="submit">${t("archive.add")}</button><span id="e-msg" class="om-problems"></span></form>` : ""}
      </section>
      <section class="archive-section"><h2>${t("archive.cleanouts")}</h2>
        ${table([t("archive.date"), t("archive.volume"), t("archive.destination"), t("archive.done_by"), t("archive.notes")],
          a.cleanouts.map((k) => `<tr data-cleanout="${k.id}"><td>${esc(k.date)}</td><td class="num">${fmt.number(k.volume_m3, 2)}</td>
            <td>${esc(k.sludge_destination)}</td><td>${esc(k.done_by)}</td><td>${esc(k.note)}</td></tr>`),
          t("archive.none"))}
        ${operator ? `<form class="om-form no-print" id="c-add">
          <label>${t("archive.date")}<input id="c-date" type="date" required></label>
          <label>${t("archive.volume")}<input id="c-volume" type="number" min="0" step="0.1" required></label>
          <label>${t("archive.destination")}<input id="c-dest" required maxlength="200"></label>
          <label>${t("archive.done_by")}<input id="c-by" required maxlength="200"></label>
          <button type="submit">${t("archive.add")}</button><span id="c-msg" class="om-problems"></span></form>` : ""}
      </section>
      <section class="archive-section"><h2>${t("archive.work_orders")}</h2>
        ${history(a.work_orders, ["id", "created_ms", "state", "fault_type", "title", "contractor", "fixed_ms", "verified_ms"], t("archive.none"), "order")}</section>
      <section class="archive-section"><h2>${t("archive.inspections")}</h2>
        ${history(a.inspections, ["id", "kind", "state", "contractor", "due_ms", "completed_ms", "completed_by"], t("archive.none"), "inspection")}</section>
      <section class="archive-section"><h2>${t("lab.results")}</h2>
        ${sampling ? `<p id="a-sampling" class="${sampling.overdue ? "sampling-overdue" : ""}">${sampling.overdue
          ? t("lab.overdue_by", { days: sampling.overdue_days, due: fmt.dateTime(sampling.due_at) })
          : t("lab.next_due", { due: fmt.dateTime(sampling.due_at) })}</p>` : ""}
        ${a.lab_results && a.lab_results.length ? `<div class="table-scroll"><table class="om-table" id="a-lab">${resultHead(t, false)}<tbody>${resultRows(a.lab_results, ctx, false)}</tbody></table></div>`
          : `<p class="archive-empty">${t("lab.none")}</p>`}
      </section>`;
    root.querySelector("#a-print").addEventListener("click", () => window.print());
    if (!operator) return;
    const $ = (x) => root.querySelector(`#${x}`);
    const submit = (form, msg, send) => $(form).addEventListener("submit", async (e) => {
      e.preventDefault();
      $(msg).textContent = "";
      try {
        await send();
        await load();
      } catch (err) {
        $(msg).textContent = problemsText(err, t);
      }
    });
    submit("a-edit", "f-msg", () => {
      const h = $("f-households").value.trim();
      return ctx.apiPut(path, {
        process: $("f-process").value.trim(),
        households: h === "" ? null : Number(h),
        villages: $("f-villages").value.split(/[,，]/).map((v) => v.trim()).filter(Boolean),
        notes: $("f-notes").value.trim(),
      });
    });
    submit("e-add", "e-msg", () => ctx.apiPost(`${path.replace("/archive", "")}/equipment`, {
      kind: $("e-kind").value.trim(), model: $("e-model").value.trim(), serial: $("e-serial").value.trim(),
      ...($("e-date").value ? { installed_date: $("e-date").value } : {}),
    }));
    submit("c-add", "c-msg", () => ctx.apiPost(`${path.replace("/archive", "")}/cleanouts`, {
      date: $("c-date").value, volume_m3: Number($("c-volume").value), sludge_destination: $("c-dest").value.trim(), done_by: $("c-by").value.trim(),
    }));
    for (const b of root.querySelectorAll(".eq-del"))
      b.addEventListener("click", async () => {
        try {
          await ctx.apiDelete(`${path.replace("/archive", "")}/equipment/${b.dataset.id}`);
          await load();
        } catch (err) {
          $("e-msg").textContent = problemsText(err, t);
        }
      });
  }

  async function load() {
    const a = await ctx.api(path);
    if (!ctx.current) return;
    draw(a);
    root.dataset.rendered = "1";
  }
  await load();
}
