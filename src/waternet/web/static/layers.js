// Network layers, fetched by bbox and zoom on every move/zoom from /api/v1/network/layers/{layer}.
import { api, AuthRequired } from "./api.js";

const L = window.L;

export const DIAMETER_CLASSES = [
  { max: 150, color: "#4a6b8c", weight: 1.6, label: "< 150 mm" },
  { max: 300, color: "#2f9bd6", weight: 2.4, label: "150–299 mm" },
  { max: 500, color: "#53d3f5", weight: 3.4, label: "300–499 mm" },
  { max: Infinity, color: "#c6f4ff", weight: 4.6, label: "≥ 500 mm" },
];

export function pipeStyle(d) {
  const c = DIAMETER_CLASSES.find((k) => (d ?? 0) < k.max) || DIAMETER_CLASSES[0];
  return { color: c.color, weight: c.weight, opacity: 0.95, lineCap: "round", className: "wn-pipe" };
}

const POINT_STYLE = {
  sources: { radius: 7, color: "#0b1118", weight: 2, fillColor: "#7c5cff", fillOpacity: 1 },
  valves: { radius: 3.5, color: "#0b1118", weight: 1, fillColor: "#e6edf3", fillOpacity: 1 },
  hydrants: { radius: 3.5, color: "#0b1118", weight: 1, fillColor: "#ef6f6c", fillOpacity: 1 },
  customers: { radius: 2.2, color: "#0b1118", weight: 0.5, fillColor: "#8fbf7f", fillOpacity: 0.9 },
  sensors: { radius: 3.5, color: "#0b1118", weight: 1, fillColor: "#f4c152", fillOpacity: 1 },
  junctions: { radius: 1.8, color: "#6b7f95", weight: 0, fillColor: "#6b7f95", fillOpacity: 1 },
};

export const LAYERS = [
  { id: "dmas", label: "Districts (DMAs)", swatch: "poly", on: true, pane: "wn-dmas" },
  { id: "pipes", label: "Pipes by diameter", swatch: "pipes", on: true, pane: "wn-pipes" },
  { id: "sources", label: "Sources", swatch: "#7c5cff", on: true, pane: "wn-points" },
  { id: "valves", label: "Isolation valves", swatch: "#e6edf3", on: true, pane: "wn-points" },
  { id: "hydrants", label: "Hydrants", swatch: "#ef6f6c", on: false, pane: "wn-points" },
  { id: "customers", label: "Customers", swatch: "#8fbf7f", on: false, pane: "wn-points" },
  { id: "sensors", label: "Sensors", swatch: "#f4c152", on: false, pane: "wn-points" },
];

const DMA_COLORS = ["#3b82f6", "#10b981", "#a855f7", "#f59e0b", "#ec4899", "#14b8a6", "#eab308", "#6366f1"];

export class NetworkLayers {
  constructor(map, { onPipeClick, onFeatureClick, onStatus }) {
    this.map = map;
    this.onPipeClick = onPipeClick;
    this.onFeatureClick = onFeatureClick;
    this.onStatus = onStatus;
    this.groups = {};
    this.enabled = {};
    this.aborts = {};
    this.truncated = {};
    this.counts = {};
    this.renderers = {};
    for (const def of LAYERS) {
      if (!this.renderers[def.pane]) this.renderers[def.pane] = L.svg({ pane: def.pane, padding: 0.3 });
      this.groups[def.id] = L.featureGroup();
      this.enabled[def.id] = def.on;
      if (def.on) this.groups[def.id].addTo(map);
    }
    map.on("moveend", () => this.refresh());
  }

  setEnabled(id, on) {
    this.enabled[id] = on;
    if (on) { this.groups[id].addTo(this.map); this.load(id); }
    else { this.map.removeLayer(this.groups[id]); this.groups[id].clearLayers(); this.aborts[id]?.abort(); }
  }

  refresh() {
    for (const def of LAYERS) if (this.enabled[def.id]) this.load(def.id);
  }

  bboxParam() {
    const b = this.map.getBounds();
    const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v));
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 85), clamp(b.getEast(), 180), clamp(b.getNorth(), 85)]
      .map((v) => v.toFixed(6)).join(",");
  }

  async load(id) {
    this.aborts[id]?.abort();
    const ctl = new AbortController();
    this.aborts[id] = ctl;
    const zoom = Math.round(this.map.getZoom());
    const url = `/api/v1/network/layers/${id}?bbox=${this.bboxParam()}&zoom=${zoom}`;
    try {
      const fc = await api(url, { signal: ctl.signal });
      if (ctl.signal.aborted || !this.enabled[id]) return;
      this.draw(id, fc);
      this.truncated[id] = Boolean(fc.truncated);
      this.counts[id] = (fc.features || []).length;
      this.onStatus?.(this);
    } catch (e) {
      if (e.name === "AbortError" || e instanceof AuthRequired) return;
      this.onStatus?.(this, `${id}: ${e.message}`);
    }
  }

  draw(id, fc) {
    const def = LAYERS.find((d) => d.id === id);
    const renderer = this.renderers[def.pane];
    const group = this.groups[id];
    group.clearLayers();
    let k = 0;
    const gj = L.geoJSON(fc, {
      pane: def.pane,
      style: (f) => {
        if (id === "pipes") return { ...pipeStyle(f.properties.diameter_mm), renderer };
        if (id === "dmas") {
          const code = String(f.properties.id ?? f.properties.code ?? k++);
          const color = DMA_COLORS[[...code].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % DMA_COLORS.length];
          return { color, weight: 1, opacity: 0.45, fillColor: color, fillOpacity: 0.07, renderer, className: "wn-dma" };
        }
        return { renderer };
      },
      pointToLayer: (f, latlng) => {
        const p = f.properties || {};
        if (p.count > 1) return clusterMarker(latlng, p.count, def);
        const style = { ...(POINT_STYLE[id] || POINT_STYLE.junctions) };
        if (id === "valves") {
          if (p.operable === false) style.fillColor = "#ff4d4f";
          else if (p.normal === "closed") style.fillColor = "#8b949e";
        }
        if (id === "customers" && p.critical) { style.fillColor = "#ff5fa2"; style.radius = 5; style.color = "#fff"; style.weight = 1.2; }
        return L.circleMarker(latlng, { ...style, pane: def.pane, renderer, className: `wn-${id}` });
      },
      onEachFeature: (f, layer) => {
        const p = f.properties || {};
        if (p.count > 1) {
          layer.on("click", (ev) => { L.DomEvent.stopPropagation(ev); this.map.setView(ev.latlng, this.map.getZoom() + 2); });
          return;
        }
        layer.on("click", (ev) => {
          L.DomEvent.stopPropagation(ev);
          if (id === "pipes") this.onPipeClick?.(f, ev.latlng);
          else this.onFeatureClick?.(id, f, ev.latlng);
        });
        if (p.id !== undefined && id !== "dmas") layer.bindTooltip(`${label(id)} ${p.id ?? p.account ?? p.code}`, { sticky: true, className: "wn-tip" });
        if (id === "dmas") layer.bindTooltip(`${p.name || p.code || p.id}`, { sticky: true, className: "wn-tip" });
      },
    });
    gj.eachLayer((l) => group.addLayer(l));
  }
}

function label(id) {
  return { pipes: "Pipe", valves: "Valve", hydrants: "Hydrant", customers: "Customer", sensors: "Sensor", sources: "Source", junctions: "Node" }[id] || id;
}

function clusterMarker(latlng, count, def) {
  const size = count >= 1000 ? 30 : count >= 100 ? 24 : count >= 10 ? 20 : 16;
  return L.marker(latlng, {
    pane: def.pane,
    icon: L.divIcon({ className: `wn-cluster wn-cluster-${def.id}`, html: `<span>${count >= 1000 ? Math.round(count / 100) / 10 + "k" : count}</span>`, iconSize: [size, size] }),
  });
}
