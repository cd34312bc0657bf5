// Side panel rendering: isolation plan, element details, criticality ranking. Plain DOM.
const CLASS_LABEL = {
  hospital: "Hospital", dialysis: "Dialysis patient", school: "School", fire_station: "Fire station",
  care_home: "Care home", residential: "Residential", commercial: "Commercial", industrial: "Industrial",
};
const CRITICAL = ["hospital", "dialysis", "school", "fire_station", "care_home"];
const REASON = { inoperable: "inoperable (asset data)", stuck: "reported stuck", broken: "broken" };

export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function fmtInt(n) { return (n ?? 0).toLocaleString("en-US"); }
function dn(mm) { return mm == null ? "–" : `DN ${Math.round(mm)}`; }
function km(m) { return m >= 1000 ? `${(m / 1000).toFixed(2)} km` : `${Math.round(m)} m`; }

function section(title, body, { count, cls = "" } = {}) {
  const c = count === undefined ? "" : `<span class="count">${esc(count)}</span>`;
  return `<section class="block ${cls}"><h3>${esc(title)}${c}</h3>${body}</section>`;
}

export function renderPlan(el, res, { stuck = [] } = {}) {
  const p = res.plan;
  const s = res.summary;
  const cons = p.consequences || {};
  const whatIf = p.what_if || {};
  const burst = res.burst;
  const head = `
    <div class="incident">
      <div class="kicker">Burst · network ${esc(res.network)} v${esc(res.version)}</div>
      <h2>${burst.kind === "pipe" ? "Pipe" : "Node"} <span class="mono">${esc(burst.id)}</span></h2>
      ${burst.snapped_m != null ? `<div class="muted">map point snapped ${esc(burst.snapped_m)} m</div>` : ""}
      <div class="actions"><button type="button" data-action="zoom-plan">Zoom to plan</button>
        <button type="button" class="ghost" data-action="clear-plan">Clear</button></div>
    </div>
    <div class="kpis">
      <div class="kpi valves"><b id="kpi-valves">${fmtInt(s.valves_to_close)}</b><span>valves to close</span></div>
      <div class="kpi customers"><b id="kpi-customers">${fmtInt(s.customers)}</b><span>customers out</span></div>
      <div class="kpi critical ${s.critical_customers ? "alert" : ""}"><b>${fmtInt(s.critical_customers)}</b><span>critical</span></div>
      <div class="kpi"><b>${fmtInt(s.isolated_links)}<small> / ${fmtInt(s.cut_off_links)}</small></b><span>isolated / cut-off links</span></div>
    </div>`;
  const notes = [...(p.warnings || []).map((w) => `<li class="warn">${esc(w)}</li>`),
    ...(p.conflicts || []).map((c) => `<li class="warn">${esc(c.message || c.kind || JSON.stringify(c))}</li>`)];
  if (stuck.length) notes.unshift(`<li class="info">Re-planned with stuck valve(s): ${stuck.map((v) => `<span class="mono">${esc(v)}</span>`).join(", ")}</li>`);
  const notesHtml = notes.length ? `<ul class="notes">${notes.join("")}</ul>` : "";

  const steps = p.steps.map((st) => {
    const wi = whatIf[st.valve];
    const wiTxt = wi ? `<div class="whatif">if stuck: close ${wi.valves_to_close.length} valves, ${fmtInt(wi.affected_customers)} customers out</div>` : "";
    return `<li class="step" data-valve="${esc(st.valve)}">
      <span class="order">${st.order}</span>
      <div class="body"><div><span class="mono strong">${esc(st.valve)}</span> <span class="tag">${dn(st.diameter_mm)}</span>
        ${st.supply_side ? '<span class="tag supply">supply side</span>' : ""}</div>
        <div class="muted">on pipe <span class="mono">${esc(st.link)}</span> at node <span class="mono">${esc(st.node)}</span>
        · ${fmtInt(st.customers_supplied)} still supplied</div>${wiTxt}</div>
      <button type="button" class="ghost small" data-action="stuck" data-valve="${esc(st.valve)}" title="Re-plan: this valve does not close">stuck</button>
    </li>`;
  }).join("");
  const stepsHtml = section("Close valves — in this order", p.steps.length ? `<ol class="steps" id="plan-valves">${steps}</ol>` : '<p class="muted">No valve needs closing.</p>', { count: p.steps.length, cls: "close" });

  const passed = p.passed_valves.length ? section("Passed over", `<ul class="plain">${p.passed_valves.map((v) =>
    `<li><span class="mono">${esc(v.valve)}</span> — ${esc(REASON[v.reason] || v.reason)}</li>`).join("")}</ul>`, { count: p.passed_valves.length }) : "";

  const byClass = Object.entries(cons.by_class || {}).sort((a, b) =>
    (CRITICAL.includes(b[0]) - CRITICAL.includes(a[0])) || b[1] - a[1]);
  const classRows = byClass.map(([k, n]) => `<tr class="${CRITICAL.includes(k) ? "crit" : ""}"><td>${esc(CLASS_LABEL[k] || k)}</td><td class="num">${fmtInt(n)}</td></tr>`).join("");
  const custs = p.affected_customers || [];
  const crit = custs.filter((c) => c.critical);
  const critList = crit.map((c) => `<li class="crit"><span class="tag crit">${esc(CLASS_LABEL[c.class] || c.class)}</span>
      <span class="mono">${esc(c.account)}</span> ${esc(c.address || "")} <span class="muted">${esc(c.status.replace("_", "-"))}</span></li>`).join("");
  const others = custs.filter((c) => !c.critical);
  const otherList = others.slice(0, 200).map((c) => `<li><span class="mono">${esc(c.account)}</span> ${esc(CLASS_LABEL[c.class] || c.class)} <span class="muted">${esc(c.address || "")} · ${esc(c.status.replace("_", "-"))}</span></li>`).join("");
  const custHtml = section("Customers without water", `
      ${classRows ? `<table class="classes">${classRows}</table>` : '<p class="muted">No customer loses water.</p>'}
      ${crit.length ? `<h4>Critical customers — call first</h4><ul class="customers critical" id="plan-critical">${critList}</ul>` : ""}
      ${others.length ? `<details ${crit.length ? "" : "open"}><summary>${fmtInt(others.length)} ${crit.length ? "other " : ""}customers</summary><ul class="customers" id="plan-customers">${otherList}${others.length > 200 ? `<li class="muted">… ${fmtInt(others.length - 200)} more</li>` : ""}</ul></details>` : ""}`,
    { count: custs.length, cls: "custs" });

  const hyd = cons.hydrants_out_of_service || [];
  const hydHtml = section("Hydrants out of service", hyd.length ? `<div class="chips">${hyd.map((h) => `<span class="chip mono">${esc(h)}</span>`).join("")}</div>` : '<p class="muted">None.</p>', { count: hyd.length });

  const areas = res.cut_off_areas || [];
  const areasHtml = section("Cut-off areas (outside the closed valves, no supply)", areas.length ? `<ul class="plain">${areas.map((a) =>
    `<li>Area ${a.area}: ${fmtInt(a.links.length)} links, ${km(a.length_m)}, ${fmtInt(a.customers)} customers${a.critical_customers ? ` <span class="tag crit">${a.critical_customers} critical</span>` : ""}</li>`).join("")}</ul>` : '<p class="muted">No unintended isolation.</p>', { count: areas.length });

  const restore = section("Restore after repair", `<ol class="restore">${p.restore.map((r) =>
    `<li><span class="tag ${r.stage === 1 ? "supply" : ""}">stage ${r.stage}</span> open <span class="mono">${esc(r.valve)}</span><div class="muted">${esc(r.note)}</div></li>`).join("")}</ol>`);

  const facts = `<dl class="facts">
      <dt>Isolated pipe length</dt><dd>${km(cons.isolated_pipe_length_m || 0)}</dd>
      <dt>Volume to drain</dt><dd>${(cons.isolated_volume_m3 || 0).toFixed(1)} m³</dd>
      <dt>Cut-off pipe length</dt><dd>${km(cons.cut_off_pipe_length_m || 0)}</dd>
      <dt>DMAs touched</dt><dd>${esc((cons.dmas_touched || []).join(", ") || "–")}</dd>
      <dt>Sensors reading zero</dt><dd>${fmtInt((cons.sensors_reading_zero || []).length)}</dd></dl>`;
  el.innerHTML = head + notesHtml + stepsHtml + passed + custHtml + hydHtml + areasHtml + restore + section("Facts", facts);
}

export function renderDetails(el, layer, id, props) {
  const rows = Object.entries(props || {}).filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(typeof v === "number" ? Math.round(v * 1000) / 1000 : v)}</dd>`).join("");
  const nested = Object.entries(props || {}).filter(([, v]) => v && typeof v === "object")
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd class="mono small">${esc(JSON.stringify(v).slice(0, 300))}</dd>`).join("");
  el.innerHTML = `<div class="incident"><div class="kicker">${esc(layer)}</div><h2 class="mono">${esc(id)}</h2></div>
    <dl class="facts" id="details-facts">${rows}${nested}</dl>`;
}

export function renderCriticality(el, res) {
  const rows = res.ranking.map((r) => `<tr data-pipe="${esc(r.pipes[0] || "")}" data-node="${esc(r.node || "")}" class="${r.critical_customers ? "crit" : ""}">
      <td>${r.rank}</td><td class="num">${fmtInt(r.critical_customers)}</td><td class="num">${fmtInt(r.customers)}</td>
      <td class="num">${fmtInt(r.links_out)}</td><td class="num">${fmtInt(r.valves_to_close)}</td>
      <td class="mono">${esc(r.pipes[0] || (r.node ? "node " + r.node : "–"))}</td></tr>`).join("");
  const b = res.best_new_valve;
  let best = "";
  if (b && b.after_worst_piece.customers < b.before.customers) {
    best = `<p class="note">Best single new valve for the worst segment: on pipe <span class="mono">${esc(b.link)}</span> next to node <span class="mono">${esc(b.node)}</span>
     — its worst piece would leave ${fmtInt(b.after_worst_piece.customers)} customers without water instead of ${fmtInt(b.before.customers)}.</p>`;
  } else if (b) {
    best = `<p class="note">No single new valve inside the worst segment reduces its outage: the customers are lost through unintended isolation (cut-off areas).</p>`;
  }
  el.innerHTML = `<div class="incident"><div class="kicker">network ${esc(res.network)} v${esc(res.version)} · ${fmtInt(res.segments)} segments</div>
    <h2>Most critical segments</h2></div>${best}
    <table class="rank"><thead><tr><th>#</th><th>crit.</th><th>cust.</th><th>links</th><th>valves</th><th>pipe</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="muted">Click a row to plan a burst in that segment.</p>`;
}
