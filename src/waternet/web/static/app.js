// waternet dispatch map: wiring of login, map, layers, isolation plans and the side panel.
import { api, auth, login, AuthRequired } from "./api.js";
import { DIAMETER_CLASSES, LAYERS, NetworkLayers } from "./layers.js";
import { renderCriticality, renderDetails, renderPlan } from "./panel.js";

const L = window.L;
const $ = (sel) => document.querySelector(sel);
const DEFAULT_VIEW = { center: [31.82, 117.23], zoom: 13 };

const state = { plan: null, stuck: [], burst: null, network: null, planSeq: 0 };

// ------------------------------------------------------------------ map
const map = L.map("map", { zoomControl: true, preferCanvas: false, zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 3, maxZoom: 21, attributionControl: true });
map.attributionControl.setPrefix("waternet");
for (const [name, z] of [["wn-dmas", 350], ["wn-pipes", 400], ["wn-plan", 450], ["wn-points", 500], ["wn-planpoints", 620], ["wn-labels", 640]]) {
  map.createPane(name).style.zIndex = z;
}
map.setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);

const planRenderer = L.svg({ pane: "wn-plan", padding: 0.3 });
const planPointRenderer = L.svg({ pane: "wn-planpoints", padding: 0.3 });
const planLayer = L.featureGroup().addTo(map);

const layers = new NetworkLayers(map, {
  onPipeClick: (f, latlng) => planFor({ pipe: String(f.properties.id) }, latlng),
  onFeatureClick: (layer, f, latlng) => showDetails(layer, f, latlng),
  onStatus: (nl, err) => updateStatus(nl, err),
});

// Clicking the map near (not exactly on) a pipe: snap the point to the nearest pipe within ~10 px.
map.on("click", (ev) => {
  if (!auth.token || !layers.enabled.pipes) return;
  const metresPerPx = 40075016.686 * Math.cos((ev.latlng.lat * Math.PI) / 180) / 2 ** (map.getZoom() + 8);
  planFor({ point: { lon: ev.latlng.lng, lat: ev.latlng.lat }, snap_m: Math.max(1, 10 * metresPerPx) }, ev.latlng, { quiet404: true });
});

// ------------------------------------------------------------------ layer control + legend
const LayerControl = L.Control.extend({
  options: { position: "topleft" },
  onAdd() {
    const div = L.DomUtil.create("div", "wn-control wn-layers");
    div.innerHTML = `<h4>Layers</h4>${LAYERS.map((d) => `
      <label><input type="checkbox" data-layer="${d.id}" ${d.on ? "checked" : ""}>
      ${swatch(d.swatch)} ${d.label}</label>`).join("")}
      <h4>Pipe diameter</h4>${DIAMETER_CLASSES.map((c) => `<div class="legend-row"><i style="background:${c.color};height:${Math.max(2, c.weight)}px"></i>${c.label}</div>`).join("")}
      <h4>Plan</h4>
      <div class="legend-row"><i class="dot" style="background:#ffd166"></i>valve to close</div>
      <div class="legend-row"><i style="background:#ff4d4f;height:4px"></i>isolated</div>
      <div class="legend-row"><i style="background:#ff9f1c;height:3px"></i>cut off</div>
      <div class="legend-row"><i class="dot" style="background:#ff5fa2"></i>customer without water</div>`;
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    div.addEventListener("change", (e) => {
      const id = e.target.dataset.layer;
      if (id) layers.setEnabled(id, e.target.checked);
    });
    return div;
  },
});
function swatch(s) {
  if (s === "pipes") return '<i class="sw line"></i>';
  if (s === "poly") return '<i class="sw poly"></i>';
  return `<i class="sw dot" style="background:${s}"></i>`;
}
new LayerControl().addTo(map);

// ------------------------------------------------------------------ status bar
function setStatus(text, kind = "") {
  const el = $("#status");
  el.textContent = text;
  el.className = `status ${kind}`;
}
function updateStatus(nl, err) {
  if (err) { setStatus(err, "error"); return; }
  const trunc = Object.entries(nl.truncated).filter(([id, t]) => t && nl.enabled[id]).map(([id]) => id);
  const n = nl.counts.pipes ?? 0;
  setStatus(`zoom ${Math.round(map.getZoom() * 4) / 4} · ${n.toLocaleString("en-US")} pipe features${trunc.length ? ` · simplified: ${trunc.join(", ")} (zoom in for all)` : ""}`, trunc.length ? "warn" : "");
  document.body.dataset.pipes = String(n);
}

// ------------------------------------------------------------------ tabs
function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("#panel .tab")) s.hidden = s.id !== `tab-${name}`;
}
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));

// ------------------------------------------------------------------ isolation plan
async function planFor(target, latlng, { quiet404 = false, stuck = [] } = {}) {
  const seq = ++state.planSeq;
  setStatus("computing isolation plan…", "busy");
  try {
    const res = await api("/api/v1/isolation/plans", { method: "POST", json: { ...target, stuck, what_if: true } });
    if (seq !== state.planSeq) return;
    state.plan = res;
    state.burst = { pipe: res.burst.kind === "pipe" ? res.burst.id : undefined, node: res.burst.kind === "node" ? res.burst.id : undefined };
    state.stuck = stuck;
    drawPlan(res);
    renderPlan($("#tab-plan"), res, { stuck });
    showTab("plan");
    document.body.dataset.plan = res.burst.id;
    setStatus(`plan for ${res.burst.kind} ${res.burst.id}: ${res.summary.valves_to_close} valves, ${res.summary.customers} customers`, "ok");
  } catch (e) {
    if (e instanceof AuthRequired) return;
    if (quiet404 && e.status === 404) { setStatus("no pipe here — click on a pipe", ""); return; }
    setStatus(`plan failed: ${e.message}`, "error");
  }
}

function drawPlan(res) {
  planLayer.clearLayers();
  const fc = res.geojson;
  const byRole = (r) => ({ type: "FeatureCollection", features: fc.features.filter((f) => f.properties.role === r) });
  const lines = (role, style) => L.geoJSON(byRole(role), { pane: "wn-plan", style: () => ({ ...style, renderer: planRenderer }) }).addTo(planLayer);
  lines("cut_off", { color: "#ff9f1c", weight: 5, opacity: 0.95, dashArray: "8 5", className: "wn-plan-cutoff" });
  lines("isolated", { color: "#ff4d4f", weight: 7, opacity: 0.95, className: "wn-plan-isolated" });
  const pts = (role, make) => L.geoJSON(byRole(role), { pointToLayer: (f, ll) => make(f.properties, ll) }).addTo(planLayer);
  pts("affected_customer", (p, ll) => L.circleMarker(ll, {
    pane: "wn-planpoints", renderer: planPointRenderer, radius: p.critical ? 7 : 3.6, color: p.critical ? "#ffffff" : "#fde2ef",
    weight: p.critical ? 2 : 0.8, fillColor: "#ff5fa2", fillOpacity: 0.95, className: p.critical ? "wn-plan-customer wn-critical" : "wn-plan-customer",
  }).bindTooltip(`${p.critical ? "CRITICAL " : ""}${p.class} ${p.account}${p.address ? " · " + p.address : ""}`, { className: "wn-tip" }));
  pts("hydrant_out_of_service", (p, ll) => L.circleMarker(ll, {
    pane: "wn-planpoints", renderer: planPointRenderer, radius: 5, color: "#ef6f6c", weight: 2, fillColor: "#1b2430", fillOpacity: 1, className: "wn-plan-hydrant",
  }).bindTooltip(`hydrant ${p.id} out of service`, { className: "wn-tip" }));
  pts("passed_valve", (p, ll) => L.marker(ll, { pane: "wn-labels", icon: L.divIcon({ className: "wn-valve-passed", html: "✕", iconSize: [18, 18] }) })
    .bindTooltip(`valve ${p.valve} passed over: ${p.reason}`, { className: "wn-tip" }));
  pts("valve_to_close", (p, ll) => L.marker(ll, {
    pane: "wn-labels", zIndexOffset: 1000,
    icon: L.divIcon({ className: `wn-valve-close${p.supply_side ? " supply" : ""}`, html: `<span>${p.order}</span>`, iconSize: [24, 24] }),
  }).bindTooltip(`close #${p.order}: valve ${p.valve} (DN ${Math.round(p.diameter_mm ?? 0)})`, { className: "wn-tip" }));
  if (res.burst.lat != null) {
    L.marker([res.burst.lat, res.burst.lon], { pane: "wn-labels", icon: L.divIcon({ className: "wn-burst", html: "<span></span>", iconSize: [22, 22] }) })
      .bindTooltip(`burst: ${res.burst.kind} ${res.burst.id}`, { className: "wn-tip" }).addTo(planLayer);
  }
}

function zoomToPlan() {
  const b = planLayer.getBounds();
  if (b.isValid()) map.fitBounds(b.pad(0.25), { maxZoom: 17 });
}

$("#tab-plan").addEventListener("click", (e) => {
  const btn = e.target.closest("button[data-action]");
  const row = e.target.closest("li.step");
  if (btn?.dataset.action === "zoom-plan") zoomToPlan();
  else if (btn?.dataset.action === "clear-plan") {
    planLayer.clearLayers(); state.plan = null; state.planSeq++;
    $("#tab-plan").innerHTML = '<div class="empty"><h2>No incident selected</h2><p>Click a pipe on the map to plan its isolation.</p></div>';
  } else if (btn?.dataset.action === "stuck" && state.burst) {
    const stuck = [...new Set([...state.stuck, btn.dataset.valve])];
    planFor(state.burst, null, { stuck });
  } else if (row) {
    const f = state.plan?.geojson.features.find((x) => x.properties.role === "valve_to_close" && x.properties.valve === row.dataset.valve);
    if (f) map.setView([f.geometry.coordinates[1], f.geometry.coordinates[0]], Math.max(map.getZoom(), 16));
  }
});

// ------------------------------------------------------------------ details
async function showDetails(layer, f, latlng) {
  const p = f.properties || {};
  const id = p.id ?? p.account ?? p.code;
  renderDetails($("#tab-details"), layer, id, p);
  showTab("details");
  try {
    const detail = await api(`/api/v1/network/elements/${layer}/${encodeURIComponent(id)}`);
    const { properties, layer: _l, id: _i, ...extra } = detail || {};
    renderDetails($("#tab-details"), layer, id, { ...(properties || {}), ...extra });
  } catch (e) {
    if (!(e instanceof AuthRequired)) setStatus(`details: ${e.message}`, "warn");
  }
}

// ------------------------------------------------------------------ criticality
async function loadCriticality() {
  const el = $("#tab-critical");
  el.innerHTML = '<div class="empty"><p>Ranking every segment…</p></div>';
  try {
    const res = await api("/api/v1/isolation/criticality?limit=25");
    renderCriticality(el, res);
  } catch (e) {
    if (!(e instanceof AuthRequired)) el.innerHTML = `<div class="empty"><p class="error">${e.message}</p></div>`;
  }
}
$("#tab-critical").addEventListener("click", (e) => {
  if (e.target.closest("#load-critical")) { loadCriticality(); return; }
  const tr = e.target.closest("tr[data-pipe]");
  if (!tr) return;
  const target = tr.dataset.pipe ? { pipe: tr.dataset.pipe } : tr.dataset.node ? { node: tr.dataset.node } : null;
  if (target) planFor(target, null).then(zoomToPlan);
});

// ------------------------------------------------------------------ session
async function fitNetwork() {
  try {
    const versions = await api("/api/v1/network/versions");
    const active = (versions || []).find((v) => v.active) || (versions || [])[0];
    if (!active) { $("#netinfo").textContent = "no network imported"; return; }
    state.network = active;
    $("#netinfo").innerHTML = `<b>${escapeHtml(active.name)}</b> <span class="muted">version ${active.id}</span>`;
    const b = findBounds(active) || findBounds(await api(`/api/v1/network/versions/${active.id}`));
    if (b) map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { paddingTopLeft: [200, 16], paddingBottomRight: [16, 16] });
  } catch (e) {
    if (!(e instanceof AuthRequired)) setStatus(`network: ${e.message}`, "error");
  }
}
function findBounds(obj, depth = 0) {
  if (!obj || typeof obj !== "object" || depth > 4) return null;
  for (const k of ["bounds_lonlat", "bounds", "bbox"]) {
    const v = obj[k];
    if (Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === "number")) return v;
  }
  for (const v of Object.values(obj)) { const b = findBounds(v, depth + 1); if (b) return b; }
  return null;
}
function escapeHtml(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }

async function startSession() {
  $("#login").hidden = true;
  try {
    const me = await api("/api/v1/auth/me");
    $("#username").textContent = me.name;
    $("#role").textContent = me.role;
    $("#user").hidden = false;
  } catch (e) { if (e instanceof AuthRequired) return; }
  await fitNetwork();
  layers.refresh();
}

auth.onExpired = () => {
  $("#user").hidden = true;
  $("#login").hidden = false;
  $("#login-user").focus();
};

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#login-error").textContent = "";
  $("#login-submit").disabled = true;
  try {
    await login($("#login-user").value, $("#login-password").value);
    $("#login-password").value = "";
    await startSession();
  } catch (err) {
    $("#login-error").textContent = err.status === 401 ? "Wrong user or password." : err.message;
  } finally {
    $("#login-submit").disabled = false;
  }
});
$("#logout").addEventListener("click", () => {
  auth.token = null;
  planLayer.clearLayers();
  for (const g of Object.values(layers.groups)) g.clearLayers();
  auth.onExpired();
});

window.waternet = { map, layers, planLayer, state, planFor };
if (auth.token) startSession(); else auth.onExpired();
