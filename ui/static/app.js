// weir's web UI: a page per hash route, each drawn from the HTTP API
// (docs/api.md). No framework: DOM built with h() (text is never parsed
// as HTML), SVG for the graph, the health bar and the timeline.

const STATES = ["fresh", "stale", "missing", "failed", "running"];
const TASK_STATES = ["succeeded", "running", "failed", "skipped", "cancelled", "pending"];

// ---- DOM helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const main = () => document.getElementById("main");
const fmtInt = (n) => Number(n || 0).toLocaleString("en-US");
const when = (t) => (t ? new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "–");
const pill = (state) => h("span", { class: `pill s-${state}` }, state);

function showError(err) {
  const box = document.getElementById("error");
  box.hidden = !err;
  box.textContent = err ? String(err.message || err) : "";
}

// ---- the API ----

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra) {
  const hd = Object.assign({ Accept: "application/json" }, extra || {});
  const token = localStorage.getItem("weir_token");
  if (token) hd.Authorization = "Bearer " + token;
  return hd;
}

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: headers(opts.body ? { "Content-Type": "application/json" } : {}) };
  if (opts.body) init.body = JSON.stringify(opts.body);
  const res = await fetch(path, init);
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) {
    askToken();
  }
  if (!res.ok) {
    throw new APIError(res.status, (body && body.error) || `${init.method} ${path}: HTTP ${res.status}`);
  }
  return body;
}

function askToken() {
  if (document.getElementById("token-form")) return;
  const input = h("input", { type: "password", name: "token", "aria-label": "API token", autocomplete: "off" });
  const form = h("form", { id: "token-form", class: "inline", onsubmit: (e) => {
    e.preventDefault();
    localStorage.setItem("weir_token", input.value);
    form.remove();
    route();
  } }, h("label", {}, "This server needs its API token (weir serve --token)", input), h("button", { class: "primary" }, "Use token"));
  document.body.insertBefore(form, document.getElementById("main"));
  input.focus();
}

// stream reads server-sent events from path (with the token header, which
// EventSource cannot send), calling onEvent(name, data) until stopped.
function stream(path, onEvent) {
  const ctl = new AbortController();
  (async () => {
    try {
      const res = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal: ctl.signal });
      if (!res.ok || !res.body) throw new APIError(res.status, `${path}: HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let at;
        while ((at = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, at);
          buf = buf.slice(at + 2);
          let name = "message", data = "";
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(name, JSON.parse(data));
        }
      }
    } catch (err) {
      if (err.name !== "AbortError") showError(err);
    }
  })();
  return () => ctl.abort();
}

// download fetches path (with the token) and saves it as name.
async function download(path, name) {
  try {
    const res = await fetch(path, { headers: headers() });
    if (!res.ok) throw new APIError(res.status, `${path}: HTTP ${res.status}`);
    save(await res.blob(), name);
  } catch (err) {
    showError(err);
  }
}

// save offers blob as a file called name.
function save(blob, name) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  a.click();
  URL.revokeObjectURL(a.href);
}

// ---- routing and live updates ----

let stops = [];

function onLeave(stop) {
  stops.push(stop);
}

// every runs fn now and then every ms while the page is shown, waiting
// at least three times as long as fn took (a large catalog's status takes
// the server a while: the page must not keep it busy).
function every(ms, fn) {
  let timer = null;
  let gone = false;
  let wait = ms;
  const tick = async () => {
    const start = performance.now();
    try {
      await fn();
      wait = Math.max(ms, 3 * (performance.now() - start));
      document.getElementById("live").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) {
      showError(err);
    }
    if (!gone) timer = setTimeout(tick, wait);
  };
  onLeave(() => {
    gone = true;
    clearTimeout(timer);
  });
  return tick();
}

const routes = [
  [/^\/?$/, graphPage, "graph"],
  [/^\/assets$/, catalogPage, "assets"],
  [/^\/asset\/(.+)$/, assetPage, "assets"],
  [/^\/backfills$/, backfillsPage, "backfills"],
  [/^\/backfills\/new$/, launcherPage, "backfills"],
  [/^\/backfill\/(\d+)$/, (id, q) => runPage(id, q, "backfill"), "backfills"],
  [/^\/runs$/, runsPage, "runs"],
  [/^\/run\/(\d+)$/, (id, q) => runPage(id, q, "run"), "runs"],
  [/^\/task\/(\d+)$/, taskPage, "runs"],
  [/^\/schedules$/, schedulesPage, "schedules"],
  [/^\/sql$/, sqlPage, "sql"],
];

async function route() {
  for (const stop of stops) stop();
  stops = [];
  showError(null);
  const [path, qs] = decodeURIComponent(location.hash.slice(1) || "/").split("?");
  const query = new URLSearchParams(qs || "");
  for (const [re, page, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === nav);
    main().replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      await page(m[1], query);
    } catch (err) {
      showError(err);
    }
    return;
  }
  main().replaceChildren(h("h1", {}, "Not found"), h("p", {}, `No page ${path}. `, h("a", { href: "#/" }, "The asset graph")));
}

function go(hash) {
  location.hash = hash;
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// ---- asset graph ----

async function graphPage(_, query) {
  const sel = query.get("select") || "";
  const input = h("input", { name: "select", value: sel, size: 32, placeholder: "*, +daily_revenue, group:finance, tag:pii",
    "aria-label": "selection" });
  const form = h("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    go("#/" + (input.value ? "?select=" + encodeURIComponent(input.value) : ""));
  } }, h("label", {}, "Select assets (the CLI's selection syntax)", input), h("button", {}, "Select"));
  const holder = h("div", { class: "scroll", id: "graph" });
  const asOf = h("p", { class: "muted", id: "as-of" });
  main().replaceChildren(h("h1", {}, "Asset graph"), form, legend(STATES), holder, asOf);
  await every(5000, async () => {
    const all = (await api("/api/v1/assets")).assets;
    if (all.length) asOf.textContent = "Partition states as of " + new Date(all[0].as_of).toLocaleTimeString();
    let selected = null;
    if (sel) selected = new Set((await api("/api/v1/assets?select=" + encodeURIComponent(sel))).assets.map((a) => a.asset));
    holder.replaceChildren(drawGraph(all, selected));
  });
}

function legend(states) {
  return h("p", { class: "legend muted" }, states.map((st) => h("span", {}, h("i", { class: "k-" + st }), st)));
}

// drawGraph lays the DAG out left to right: each asset in the column of
// its longest path from a source, in the order the API lists them.
function drawGraph(assets, selected) {
  const byKey = new Map(assets.map((a) => [a.asset, a]));
  const layer = new Map();
  const depth = (k, seen = new Set()) => {
    if (layer.has(k)) return layer.get(k);
    if (seen.has(k)) return 0;
    seen.add(k);
    const a = byKey.get(k);
    const d = a && a.deps.length ? 1 + Math.max(...a.deps.map((x) => depth(x, seen))) : 0;
    layer.set(k, d);
    return d;
  };
  const columns = [];
  for (const a of assets) {
    const d = depth(a.asset);
    (columns[d] = columns[d] || []).push(a);
  }
  const W = 210, H = 62, GX = 90, GY = 24, PAD = 10;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((a, y) => pos.set(a.asset, { x: PAD + x * (W + GX), y: PAD + y * (H + GY) })));
  const width = PAD * 2 + columns.length * (W + GX) - GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "asset graph" });
  for (const a of assets) {
    const to = pos.get(a.asset);
    for (const dep of a.deps) {
      const from = pos.get(dep);
      if (!from) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2, mx = (x1 + x2) / 2;
      svg.append(s("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    }
  }
  for (const a of assets) {
    const p = pos.get(a.asset);
    const cls = "node" + (selected ? (selected.has(a.asset) ? " selected" : " dim") : "");
    const total = Math.max(a.total, 1);
    let x = 0;
    const bar = [];
    // Fresh, stale and missing partition the whole; failed and running
    // overlap them and are counted in the text below.
    for (const st of ["fresh", "stale", "missing"]) {
      const w = (a[st].count / total) * (W - 16);
      bar.push(s("rect", { class: "f-" + st, x: 8 + x, y: 28, width: w, height: 8 }));
      x += w;
    }
    const counts = `${fmtInt(a.fresh.count)} fresh · ${fmtInt(a.stale.count)} stale · ${fmtInt(a.missing.count)} missing`;
    const extra = [a.failed.count ? `${fmtInt(a.failed.count)} failed` : "", a.running.count ? `${fmtInt(a.running.count)} running` : ""].filter(Boolean).join(" · ");
    const node = s("a", { href: "#/asset/" + encodeURIComponent(a.asset), class: cls, tabindex: 0, "data-asset": a.asset,
      transform: `translate(${p.x},${p.y})` },
      s("title", {}, `${a.asset}: ${counts}${extra ? " · " + extra : ""}`),
      s("rect", { class: "box", width: W, height: H, rx: 5 }),
      s("text", { x: 8, y: 18, "font-weight": 600 }, a.asset),
      ...bar,
      s("text", { x: 8, y: 53, class: "muted", "font-size": 11 }, extra || counts));
    svg.append(node);
  }
  return svg;
}

// ---- asset catalog ----

async function catalogPage() {
  const search = h("input", { name: "q", placeholder: "key, description, tag…", "aria-label": "search assets" });
  const group = h("select", { name: "group", "aria-label": "group" }, h("option", { value: "" }, "any group"));
  const tag = h("select", { name: "tag", "aria-label": "tag" }, h("option", { value: "" }, "any tag"));
  const status = h("select", { name: "status", "aria-label": "status" }, h("option", { value: "" }, "any status"),
    ...STATES.map((st) => h("option", { value: st }, "has " + st)));
  const body = h("tbody");
  main().replaceChildren(h("h1", {}, "Assets"),
    h("div", { class: "toolbar" }, h("label", {}, "Search", search), h("label", {}, "Group", group), h("label", {}, "Tag", tag), h("label", {}, "Status", status)),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "asset"), h("th", {}, "group"), h("th", {}, "tags"), h("th", {}, "partitions"),
      ...STATES.map((st) => h("th", { class: "num" }, st)))), body));
  let assets = [];
  const draw = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...assets.filter((a) =>
      (!q || [a.asset, a.description, a.group, ...a.tags].join(" ").toLowerCase().includes(q)) &&
      (!group.value || a.group === group.value) && (!tag.value || a.tags.includes(tag.value)) && (!status.value || a[status.value].count > 0)).map((a) =>
      h("tr", {}, h("td", {}, h("a", { href: "#/asset/" + encodeURIComponent(a.asset) }, a.asset), a.description ? h("div", { class: "muted" }, a.description) : null),
        h("td", {}, a.group), h("td", {}, a.tags.join(", ")), h("td", { class: "mono" }, a.partitions),
        ...STATES.map((st) => h("td", { class: "num s-" + (a[st].count ? st : "") }, fmtInt(a[st].count))))));
  };
  for (const el of [search, group, tag, status]) el.addEventListener("input", draw);
  const options = (sel, any, values) => {
    if (sel.options.length !== values.length + 1) sel.replaceChildren(h("option", { value: "" }, any), ...values.map((v) => h("option", {}, v)));
  };
  await every(10000, async () => {
    assets = (await api("/api/v1/assets")).assets;
    options(group, "any group", [...new Set(assets.map((a) => a.group).filter(Boolean))].sort());
    options(tag, "any tag", [...new Set(assets.flatMap((a) => a.tags))].sort());
    draw();
  });
  search.focus();
}

// ---- asset page ----

async function assetPage(key, query) {
  const a = await api("/api/v1/assets/" + encodeURIComponent(key));
  const barHolder = h("div");
  const partInput = h("input", { name: "partition", value: query.get("partition") || "", placeholder: a.bar.length ? a.bar[0].first : "", "aria-label": "partition key" });
  const partOut = h("div");
  const showPartition = async (k) => {
    partInput.value = k;
    if (!k) return;
    try {
      partOut.replaceChildren(await partitionView(key, k));
      showError(null);
    } catch (err) {
      partOut.replaceChildren();
      showError(err);
    }
  };
  // The bar shows view (all partitions until zoomed); the API draws it
  // in at most 1,000 spans, so each zoom asks again.
  const view = { from: 0, to: Math.max(a.total, 1), all: true };
  const rows = [
    ["partitions", a.partitions], ["code version", a.code_version || "–"], ["group", a.group || "–"], ["tags", a.tags.join(", ") || "–"],
    ["pool", a.pool || "default"], ["checks", a.checks.join(", ") || "–"],
    ["schedules", a.schedules.length ? h("span", {}, a.schedules.map((n, i) => [i ? ", " : "", h("a", { href: "#/schedules?schedule=" + encodeURIComponent(n) }, n)])) : "–"],
  ];
  main().replaceChildren(
    h("h1", {}, a.asset), a.description ? h("p", {}, a.description) : null,
    h("div", { class: "grid2" }, rows.flatMap(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)])),
    h("h2", {}, "Depends on"),
    a.deps.length ? h("ul", {}, a.deps.map((d) => h("li", {}, h("a", { href: "#/asset/" + encodeURIComponent(d) }, d), h("span", { class: "muted" }, " — " + a.mappings[d])))) : h("p", { class: "muted" }, "nothing: a source"),
    h("h2", {}, "Read by"),
    a.dependents.length ? h("ul", {}, a.dependents.map((d) => h("li", {}, h("a", { href: "#/asset/" + encodeURIComponent(d) }, d)))) : h("p", { class: "muted" }, "no asset"),
    h("h2", {}, "Partition health"), barHolder,
    h("h2", {}, "A partition"),
    h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); showPartition(partInput.value.trim()); } },
      h("label", {}, "Partition key", partInput), h("button", {}, "Show")),
    partOut);
  let pending = null;
  const load = async () => {
    const cur = await api(`/api/v1/assets/${encodeURIComponent(key)}?bar_width=1000` + (view.all ? "" : `&bar_from=${view.from}&bar_to=${view.to}`));
    if (view.all) view.to = Math.max(cur.total, 1);
    draw(cur);
  };
  // redraw follows a zoom or a pan: one request for a burst of wheel turns.
  const redraw = () => {
    clearTimeout(pending);
    pending = setTimeout(() => load().catch(showError), 120);
  };
  const draw = (cur) => barHolder.replaceChildren(healthBar(cur, view, redraw, showPartition));
  draw(a);
  if (partInput.value) showPartition(partInput.value);
  onLeave(() => clearTimeout(pending));
  await every(5000, load);
}

// healthBar draws a's partitions from index view.from to view.to, one
// rectangle per span of the API's bar (never one per partition); the
// wheel, the buttons and + - ← → zoom and pan, down to single partitions.
function healthBar(a, view, redraw, pick) {
  const total = Math.max(a.total, 1);
  const W = 1000, Hh = 40;
  const span = view.to - view.from;
  const svg = s("svg", { class: "bar", viewBox: `0 0 ${W} ${Hh}`, preserveAspectRatio: "none", tabindex: 0, role: "img",
    "aria-label": `partition health of ${a.asset}: + and - zoom, arrows pan` });
  for (const b of a.bar) {
    if (b.to <= view.from || b.from >= view.to) continue;
    const x0 = ((Math.max(b.from, view.from) - view.from) / span) * W;
    const x1 = ((Math.min(b.to, view.to) - view.from) / span) * W;
    const n = b.to - b.from;
    const label = `${b.mixed ? "mostly or partly " : ""}${b.state}: ${b.first}${n > 1 ? " … " + b.last : ""} (${fmtInt(n)} partition${n > 1 ? "s" : ""}${b.mixed ? ", in more than one state: zoom in" : ""})`;
    svg.append(s("rect", { class: "f-" + b.state, x: x0, y: 0, width: Math.max(x1 - x0, 0.6), height: Hh, "data-state": b.state,
      "data-first": b.first, onclick: () => pick(b.first) }, s("title", {}, label)));
  }
  // zoom and pan read the view as it is now: it changes before the bar
  // is drawn again.
  const zoom = (factor, at = 0.5) => {
    const now = view.to - view.from;
    const mid = view.from + now * at;
    const next = Math.min(Math.max(Math.round(now * factor), 1), total);
    view.from = Math.max(0, Math.min(Math.round(mid - next * at), total - next));
    view.to = view.from + next;
    view.all = next === total;
    redraw();
  };
  const pan = (frac) => {
    const now = view.to - view.from;
    const d = Math.round(now * frac) || Math.sign(frac);
    view.from = Math.max(0, Math.min(view.from + d, total - now));
    view.to = view.from + now;
    view.all = now === total;
    redraw();
  };
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 0.5 : 2, (e.clientX - r.left) / r.width);
  }, { passive: false });
  svg.addEventListener("keydown", (e) => {
    const act = { "+": () => zoom(0.5), "=": () => zoom(0.5), "-": () => zoom(2), ArrowLeft: () => pan(-0.25), ArrowRight: () => pan(0.25) }[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  });
  const keyAt = (i) => {
    const b = a.bar.find((x) => x.from <= i && i < x.to);
    return b ? (i === b.from ? b.first : i === b.to - 1 ? b.last : `#${i}`) : `#${i}`;
  };
  const counts = STATES.map((st) => h("span", { class: "s-" + st }, `${fmtInt(a[st].count)} ${st}  `));
  return h("div", {},
    h("div", { class: "toolbar" }, h("button", { type: "button", onclick: () => zoom(0.5) }, "Zoom in"), h("button", { type: "button", onclick: () => zoom(2) }, "Zoom out"),
      h("button", { type: "button", onclick: () => pan(-0.5) }, "←"), h("button", { type: "button", onclick: () => pan(0.5) }, "→"),
      h("button", { type: "button", onclick: () => { view.from = 0; view.to = total; view.all = true; redraw(); } }, "All"),
      h("span", { class: "muted" }, `showing ${fmtInt(span)} of ${fmtInt(a.total)} partitions, as of ${new Date(a.as_of).toLocaleTimeString()}`)),
    svg, h("div", { class: "axis" }, h("span", {}, keyAt(view.from)), h("span", {}, keyAt(view.to - 1))),
    h("p", {}, counts),
    a.why_stale.length ? h("ul", {}, a.why_stale.map((w) => h("li", {}, h("span", { class: "s-stale" }, "stale: "), `${w.why} — ${fmtInt(w.count)}: `, h("code", {}, w.ranges)))) : null,
    a.late.length ? h("ul", {}, a.late.map((l) => h("li", { class: "s-failed" }, `late (${l.deadline}): ${l.why} — ${fmtInt(l.count)}: ${l.ranges}, by ${Math.round(l.late_by_seconds / 60)} min`))) : null);
}

async function partitionView(asset, key) {
  const base = `/api/v1/assets/${encodeURIComponent(asset)}/partitions/${encodeURIComponent(key)}`;
  const p = await api(base);
  const out = [h("div", { class: "grid2" },
    h("span", { class: "muted" }, "version"), h("code", {}, p.version || "none"),
    h("span", { class: "muted" }, "failed"), h("span", {}, p.failed ? h("span", { class: "s-failed" }, p.error || "yes") : "no"))];
  if (p.manifest) {
    out.push(h("h2", {}, "Manifest"), h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "file"), h("th", { class: "num" }, "bytes"), h("th", { class: "num" }, "rows"), h("th", {}, "sha256"))),
      h("tbody", {}, (p.manifest.files || []).map((f) => h("tr", {}, h("td", { class: "mono" }, f.name || f.path), h("td", { class: "num" }, fmtInt(f.size ?? f.bytes)),
        h("td", { class: "num" }, f.rows ?? "–"), h("td", { class: "mono" }, (f.sha256 || "").slice(0, 16) + "…"))))));
  }
  if (p.checks && p.checks.length) {
    out.push(h("h2", {}, "Checks"), h("ul", {}, p.checks.map((c) => h("li", { class: c.passed ? "s-fresh" : c.warn ? "s-stale" : "s-failed" },
      `${c.name}: ${c.passed ? "passed" : "failed"}${c.value ? " (" + c.value + ")" : ""}${c.error ? " — " + c.error : ""}`))));
  }
  if (p.history && p.history.length) {
    out.push(h("h2", {}, "Versions"), h("table", {}, h("tbody", {}, p.history.map((v) => h("tr", {}, h("td", { class: "mono" }, v.version),
      h("td", {}, when(v.promoted_at)), h("td", {}, v.run_id ? h("a", { href: "#/run/" + v.run_id }, "run " + v.run_id) : ""))))));
  }
  if (p.version) {
    for (const dir of ["upstream", "downstream"]) {
      try {
        const tree = await api(`${base}/lineage?direction=${dir}&depth=5`);
        out.push(h("h2", {}, dir === "upstream" ? "Read (upstream lineage)" : "Read by (downstream impact)"), h("pre", {}, lineageText(tree.root)));
      } catch (err) {
        out.push(h("p", { class: "muted" }, `${dir} lineage: ${err.message}`));
      }
    }
  }
  return h("div", {}, out);
}

// lineageText indents a lineage tree: each version, then what it read
// (or what read it), marking versions no longer current.
function lineageText(node, depth = 0) {
  if (!node) return "";
  return `${"  ".repeat(depth)}${node.asset} ${node.partition} ${node.version}${node.current === false ? "  (no longer current)" : ""}\n` +
    (node.children || []).map((c) => lineageText(c, depth + 1)).join("");
}

// ---- backfills and runs ----

function progressBar(tasks) {
  const total = TASK_STATES.reduce((n, st) => n + (tasks[st] || 0), 0) || 1;
  return h("div", { class: "progress", role: "img", "aria-label": TASK_STATES.map((st) => `${tasks[st] || 0} ${st}`).join(", ") },
    TASK_STATES.map((st) => {
      const d = h("div", { class: "b-" + st });
      d.style.width = `${(100 * (tasks[st] || 0)) / total}%`; // CSSOM: the CSP refuses style attributes
      return d;
    }));
}

async function runList(kind) {
  const body = h("tbody");
  const noun = kind === "backfill" ? "backfill" : "run";
  const table = h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "id"), h("th", {}, "kind"), h("th", {}, "status"), h("th", {}, "selection"),
    h("th", {}, "partitions"), h("th", {}, "tasks"), h("th", {}, "created"))), body);
  await every(3000, async () => {
    const res = await api(kind === "backfill" ? "/api/v1/backfills?limit=100" : "/api/v1/runs?limit=100");
    const runs = res.backfills || res.runs;
    body.replaceChildren(...runs.map((r) => h("tr", {},
      h("td", {}, h("a", { href: `#/${r.kind === "backfill" ? "backfill" : "run"}/${r.id}` }, `${r.kind === "backfill" ? "backfill" : noun} ${r.id}`)),
      h("td", {}, r.kind), h("td", {}, pill(r.status)), h("td", { class: "mono" }, r.selection), h("td", { class: "mono" }, r.partitions),
      h("td", {}, progressBar(r.tasks), h("span", { class: "muted" }, `${fmtInt(r.tasks.succeeded)} of ${fmtInt(Object.values(r.tasks).reduce((a, b) => a + b, 0))} succeeded`)),
      h("td", {}, when(r.created_at)))));
    if (!runs.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, `No ${noun}s yet.`)));
  });
  return table;
}

async function backfillsPage() {
  const holder = h("div");
  main().replaceChildren(h("h1", {}, "Backfills"), h("p", {}, h("a", { href: "#/backfills/new", accesskey: "n" }, "Launch a backfill…")), holder);
  holder.append(await runList("backfill"));
}

async function runsPage() {
  const holder = h("div");
  main().replaceChildren(h("h1", {}, "Runs"), holder);
  holder.append(await runList(""));
}

function field(label, name, attrs = {}) {
  return h("label", {}, label, h("input", Object.assign({ name }, attrs)));
}

async function launcherPage(_, query) {
  const reprocess = h("select", { name: "reprocess" }, ["missing", "failed", "stale", "all"].map((r) => h("option", { value: r }, r)));
  const priority = h("select", { name: "priority" }, ["normal", "low", "high"].map((r) => h("option", { value: r }, r)));
  const preview = h("div");
  const launch = h("button", { type: "button", class: "primary", disabled: true, name: "launch" }, "Launch");
  const form = h("form", { id: "launcher", onsubmit: (e) => { e.preventDefault(); dryRun(); } },
    h("div", { class: "toolbar" },
      field("Select", "select", { value: query.get("select") || "*", required: true, size: 28 }),
      field("Partitions (A...B, or a key)", "partitions", { value: query.get("partitions") || "", required: true, size: 28, placeholder: "2024-01-01...2024-01-31" }),
      h("label", {}, "Reprocess", reprocess), h("label", {}, "Priority", priority)),
    h("div", { class: "toolbar" },
      field("At most running", "max_concurrent", { type: "number", min: 0, value: 0 }),
      field("Rate (e.g. 5/s, 100/m)", "rate", { size: 10 }),
      field("Pool", "pool", { size: 10 }),
      field("Breaker: failure rate (0–1)", "max_failure_rate", { type: "number", min: 0, max: 1, step: "any" }),
      field("Breaker: failures in a row", "max_consecutive_failures", { type: "number", min: 0 })),
    h("div", { class: "toolbar" }, h("button", { name: "preview" }, "Preview (dry run)"), launch));
  main().replaceChildren(h("h1", {}, "Launch a backfill"), form, preview);
  const body = (dry) => {
    const f = new FormData(form);
    const b = { select: f.get("select"), partitions: f.get("partitions"), reprocess: f.get("reprocess"), priority: f.get("priority"), dry_run: dry };
    for (const k of ["max_concurrent", "max_consecutive_failures"]) if (f.get(k)) b[k] = parseInt(f.get(k), 10);
    if (f.get("max_failure_rate")) b.max_failure_rate = parseFloat(f.get("max_failure_rate"));
    for (const k of ["rate", "pool"]) if (f.get(k)) b[k] = f.get(k);
    return b;
  };
  const dryRun = async () => {
    launch.disabled = true;
    try {
      const res = await api("/api/v1/backfills", { method: "POST", body: body(true) });
      showError(null);
      preview.replaceChildren(planView(res));
      launch.disabled = !res.plan || !res.plan.tasks;
    } catch (err) {
      preview.replaceChildren();
      showError(err);
    }
  };
  launch.addEventListener("click", async () => {
    try {
      const res = await api("/api/v1/backfills", { method: "POST", body: body(false) });
      if (res.backfill) go("#/backfill/" + res.backfill.id);
      else showError(res.message || "nothing to run");
    } catch (err) {
      showError(err);
    }
  });
  for (const el of form.elements) el.addEventListener("input", () => (launch.disabled = true));
}

function planView(res) {
  const p = res.plan;
  return h("div", { id: "preview" },
    h("h2", {}, `Preview: ${fmtInt(p.tasks)} tasks`),
    h("p", {}, `Throttle: ${res.throttle}. Estimate: ${res.estimate ? Math.round(res.estimate.seconds) + " s at " + res.estimate.parallel + " at once" : "none (no durations measured yet)"}.`),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "asset"), h("th", {}, "requested"), h("th", {}, "kept"), h("th", {}, "in flight"), h("th", {}, "to run"), h("th", { class: "num" }, "tasks"))),
      h("tbody", {}, p.assets.map((a) => h("tr", {}, h("td", {}, a.asset),
        ...["requested", "kept", "in_flight", "to_run"].map((k) => h("td", { class: "mono" }, `${fmtInt(a[k].count)} ${a[k].ranges ? "(" + a[k].ranges + ")" : ""}`)),
        h("td", { class: "num" }, fmtInt(a.tasks)))))));
}

async function runPage(id, _, kind) {
  const base = `/api/v1/${kind === "backfill" ? "backfills" : "runs"}/${id}`;
  const noun = kind === "backfill" ? "Backfill" : "Run";
  const head = h("div"), perAsset = h("tbody"), timeline = h("div", { class: "scroll" }), controls = h("div", { class: "toolbar" });
  const act = async (action) => {
    try {
      await api(`${base}/${action}`, { method: "POST", body: { actor: "ui" } });
      showError(null);
      draw(await api(base));
    } catch (err) {
      showError(err);
    }
  };
  const actions = ["pause", "resume", "cancel"].concat(kind === "backfill" ? ["retry"] : []);
  for (const a of actions) controls.append(h("button", { type: "button", name: a, onclick: () => act(a) }, a[0].toUpperCase() + a.slice(1) + (a === "retry" ? " failed" : "")));
  main().replaceChildren(h("h1", {}, `${noun} ${id}`), head, controls,
    h("h2", {}, "By asset"), h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "asset"), h("th", {}, "progress"),
      ...["pending", "running", "succeeded", "failed", "skipped", "cancelled"].map((st) => h("th", { class: "num" }, st)))), perAsset),
    h("h2", {}, "Timeline"), timeline,
    kind === "backfill" ? h("p", {}, h("button", { type: "button", name: "report", onclick: () => download(`${base}/report`, `backfill-${id}-report.json`) }, "Download the audit report (JSON)")) : null);
  const draw = (p) => {
    const eta = p.eta_seconds ? `, ETA ${Math.round(p.eta_seconds / 60)} min` : "";
    head.replaceChildren(
      h("p", {}, pill(p.status), ` ${fmtInt(p.tasks_ended)} of ${fmtInt(p.tasks_total)} tasks ended — ${fmtInt(p.tasks_succeeded)} succeeded, ${fmtInt(p.tasks_failed)} failed, ${fmtInt(p.tasks_running)} running, ${fmtInt(p.tasks_pending)} pending; ${(p.tasks_per_minute || 0).toFixed(1)} tasks/min${eta}`),
      h("p", { class: "muted" }, `Throttle: ${p.throttle}. Breaker: ${p.breaker}.`),
      progressBar({ succeeded: p.tasks_succeeded, running: p.tasks_running, failed: p.tasks_failed, skipped: p.tasks_skipped, cancelled: p.tasks_cancelled, pending: p.tasks_pending }));
    for (const b of controls.querySelectorAll("button")) {
      b.disabled = { pause: p.status !== "running" && p.status !== "queued", resume: p.status !== "paused" && p.status !== "tripped",
        cancel: ["succeeded", "failed", "cancelled"].includes(p.status), retry: !p.tasks_failed }[b.name];
    }
    perAsset.replaceChildren(...(p.assets || []).map((a) => h("tr", {}, h("td", {}, h("a", { href: "#/asset/" + encodeURIComponent(a.asset) }, a.asset)),
      h("td", {}, progressBar(a)), ...["pending", "running", "succeeded", "failed", "skipped", "cancelled"].map((st) => h("td", { class: "num" }, fmtInt(a[st]))))));
  };
  draw(await api(base));
  // progress while it runs, end once it ended (the stream closes), error
  // when the server's store failed.
  onLeave(stream(`${base}/events`, (name, data) => {
    if (name === "error") {
      showError(data.error);
      return;
    }
    draw(data);
    document.getElementById("live").textContent = (name === "end" ? "ended " : "live ") + new Date().toLocaleTimeString();
  }));
  // The timeline pages 500 tasks at a time, of one state or all.
  const tl = { after: 0, prev: [], state: "" };
  const refresh = async () => timeline.replaceChildren(await gantt(base, tl, () => refresh().catch(showError)));
  await every(4000, refresh);
}

// gantt draws a page of the run's tasks (500 from tl.after, of tl.state
// or all) that started as bars on a time axis, with their state, phase
// and attempts in the tooltip; each opens the task.
async function gantt(base, tl, redraw) {
  const res = await api(`${base}/tasks?limit=500&after=${tl.after}${tl.state ? "&state=" + tl.state : ""}`);
  const stateSel = h("select", { name: "timeline_state", "aria-label": "tasks of state", oninput: () => {
    Object.assign(tl, { after: 0, prev: [], state: stateSel.value });
    redraw();
  } }, h("option", { value: "" }, "all tasks"), TASK_STATES.map((st) => h("option", { value: st, selected: st === tl.state }, st)));
  const nav = h("div", { class: "toolbar" }, stateSel,
    h("button", { type: "button", disabled: !tl.prev.length, onclick: () => { tl.after = tl.prev.pop(); redraw(); } }, "← Previous 500"),
    h("button", { type: "button", disabled: !res.next, onclick: () => { tl.prev.push(tl.after); tl.after = res.tasks[res.tasks.length - 1].id; redraw(); } }, "Next 500 →"));
  const tasks = res.tasks.filter((t) => t.started_at);
  if (!tasks.length) return h("div", {}, nav, h("p", { class: "muted" }, "No task here has started yet."));
  const now = Date.now();
  const t0 = Math.min(...tasks.map((t) => Date.parse(t.started_at)));
  const t1 = Math.max(...tasks.map((t) => (t.finished_at ? Date.parse(t.finished_at) : now)), t0 + 1);
  const W = 1000, row = 14, left = 230;
  const svg = s("svg", { width: "100%", viewBox: `0 0 ${W + left} ${tasks.length * row + 20}`, role: "img", "aria-label": "task timeline" });
  svg.append(s("text", { x: left, y: 11, class: "muted" }, when(new Date(t0))), s("text", { x: left + W, y: 11, "text-anchor": "end" }, `${((t1 - t0) / 1000).toFixed(1)} s`));
  tasks.forEach((t, i) => {
    const a = Date.parse(t.started_at), b = t.finished_at ? Date.parse(t.finished_at) : now;
    const y = 16 + i * row;
    svg.append(s("a", { href: "#/task/" + t.id },
      s("text", { x: 0, y: y + 10, "font-size": 11 }, `${t.asset} ${t.partitions}`),
      s("rect", { class: "f-" + t.state, x: left + ((a - t0) / (t1 - t0)) * W, y, width: Math.max(((b - a) / (t1 - t0)) * W, 2), height: row - 3 },
        s("title", {}, `task ${t.id}: ${t.asset} ${t.partitions} — ${t.state} (phase ${t.phase}, attempt ${t.attempt} of ${t.max_attempts}) ${when(t.started_at)} → ${when(t.finished_at)}`))));
  });
  return h("div", {}, nav, svg);
}

async function taskPage(id) {
  const t = await api("/api/v1/tasks/" + id);
  const logs = h("tbody");
  const attemptSel = h("select", { name: "attempt", "aria-label": "attempt" }, t.attempts.map((a) => h("option", { value: a.attempt, selected: a.attempt === t.task.attempt }, `attempt ${a.attempt} (${a.phase}, ${a.state})`)));
  main().replaceChildren(
    h("h1", {}, `Task ${id}: ${t.task.asset} ${t.task.partitions}`),
    h("p", {}, pill(t.task.state), ` phase ${t.task.phase}, attempt ${t.task.attempt} of ${t.task.max_attempts}, `, h("a", { href: "#/run/" + t.task.run_id }, "run " + t.task.run_id)),
    t.task.error ? h("pre", { class: "s-failed" }, t.task.error) : null,
    h("h2", {}, "Attempts"),
    h("table", {}, h("tbody", {}, t.attempts.map((a) => h("tr", {}, h("td", {}, a.attempt), h("td", {}, a.phase), h("td", {}, pill(a.state)), h("td", {}, a.worker),
      h("td", {}, when(a.started_at)), h("td", {}, when(a.finished_at)), h("td", { class: "s-failed" }, a.error || ""))))),
    h("h2", {}, "Logs"), h("div", { class: "toolbar" }, attemptSel), h("table", { class: "logs" }, logs));
  const load = async () => {
    const l = await api(`/api/v1/tasks/${id}/logs?attempt=${attemptSel.value}`);
    logs.replaceChildren(...(l.lines.length ? l.lines.map((x) => h("tr", {}, h("td", { class: "mono muted" }, when(x.time)), h("td", { class: "s-" + (x.level === "ERROR" ? "failed" : x.level === "WARN" ? "stale" : "") }, x.level),
      h("td", {}, x.msg, " ", h("span", { class: "muted mono" }, x.attrs ? JSON.stringify(x.attrs) : "")))) : [h("tr", {}, h("td", { class: "muted" }, l.logged ? "No lines." : "This attempt logged nothing (or its log is not written yet)."))]));
  };
  attemptSel.addEventListener("input", load);
  // A task still running logs on: follow it.
  if (t.task.state === "running" || t.task.state === "pending") await every(3000, load);
  else await load();
}

// ---- schedules ----

function tickText(t) {
  return t.skipped ? `skipped: ${t.skipped}` : `run ${t.run_id}`;
}

async function schedulesPage(_, query) {
  const body = h("tbody");
  const history = h("div");
  const showTicks = async (name) => {
    const res = await api(`/api/v1/schedules/${encodeURIComponent(name)}/ticks?limit=50`);
    history.replaceChildren(h("h2", {}, `Ticks of ${name}`), res.ticks.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "scheduled for"), h("th", {}, "fired at"), h("th", {}, "outcome"))),
      h("tbody", {}, res.ticks.map((t) => h("tr", {}, h("td", {}, t.scheduled_at), h("td", {}, t.fired_at),
        h("td", {}, t.run_id ? h("a", { href: "#/run/" + t.run_id }, tickText(t)) : tickText(t)))))) : h("p", { class: "muted" }, "No tick yet."));
  };
  main().replaceChildren(h("h1", {}, "Schedules"), h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "cron"), h("th", {}, "zone"),
    h("th", {}, "selection"), h("th", {}, "state"), h("th", {}, "next tick"), h("th", {}, "last tick"), h("th", {}, ""))), body), history);
  if (query.get("schedule")) await showTicks(query.get("schedule"));
  await every(10000, async () => {
    const res = await api("/api/v1/schedules");
    body.replaceChildren(...res.schedules.map((sc) => h("tr", {}, h("td", {}, h("a", { href: "#/schedules?schedule=" + encodeURIComponent(sc.name) }, sc.name)),
      h("td", { class: "mono" }, sc.cron), h("td", {}, sc.zone),
      h("td", { class: "mono" }, sc.selection), h("td", {}, pill(sc.state)), h("td", {}, sc.next || "–"),
      h("td", {}, sc.last_tick ? `${sc.last_tick.scheduled_at}: ${tickText(sc.last_tick)}` : "–"),
      h("td", {}, h("button", { type: "button", onclick: async () => {
        try {
          await api(`/api/v1/schedules/${encodeURIComponent(sc.name)}/${sc.state === "paused" ? "resume" : "pause"}`, { method: "POST", body: {} });
          route();
        } catch (err) {
          showError(err);
        }
      } }, sc.state === "paused" ? "Resume" : "Pause")))));
    if (!res.schedules.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "This binary declares no schedules.")));
  });
}

// ---- SQL ----

async function sqlPage() {
  const editor = h("textarea", { name: "sql", spellcheck: "false", "aria-label": "SQL" },
    localStorage.getItem("weir_sql") || "SELECT asset, state, count(*) AS partitions\nFROM partitions GROUP BY 1, 2 ORDER BY 1, 2");
  const out = h("div", { id: "result" });
  let last = null;
  const csv = h("button", { type: "button", disabled: true, onclick: () => {
    const esc = (v) => (v === null ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
    const text = [last.columns, ...last.rows].map((r) => r.map(esc).join(",")).join("\n") + "\n";
    save(new Blob([text], { type: "text/csv" }), "weir-query.csv");
  } }, "Download CSV");
  const run = async () => {
    localStorage.setItem("weir_sql", editor.value);
    out.replaceChildren(h("p", { class: "muted" }, "Running…"));
    try {
      last = await api("/api/v1/query", { method: "POST", body: { sql: editor.value } });
      showError(null);
      csv.disabled = false;
      out.replaceChildren(h("p", { class: "muted" }, `${fmtInt(last.rows.length)} rows${last.truncated ? " (truncated)" : ""}`),
        h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, last.columns.map((c) => h("th", {}, c)))),
          h("tbody", {}, last.rows.map((r) => h("tr", {}, r.map((v) => h("td", { class: typeof v === "number" ? "num" : "" }, v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : v))))))));
    } catch (err) {
      out.replaceChildren();
      showError(err);
    }
  };
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  main().replaceChildren(h("h1", {}, "SQL"),
    h("p", { class: "muted" }, "weir's metadata in DuckDB: assets, partitions, partition_ranges, materializations, lineage, runs, tasks, attempts, backfills, check_results, schedules, ticks. Ctrl+Enter runs."),
    editor, h("div", { class: "toolbar" }, h("button", { type: "button", class: "primary", name: "run", onclick: run }, "Run"), csv), out);
  editor.focus();
}
