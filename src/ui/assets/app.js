// httshark live view. Plain ES2020, no framework, no build step.
// Captured bytes are hostile: everything from the capture goes into the page with
// textContent (never as HTML); images go through a Blob URL.
"use strict";

const MAX_ROWS = 10000;      // rows the page keeps (the server holds its own ring)
const FIRST_PAGE = 5000;     // rows fetched when the page (or a filter) loads
const ROW_H = 22;            // px, must match --row in app.css
const SENSITIVE = ["authorization", "proxy-authorization", "cookie", "set-cookie"];
const ANOMALY_TEXT = {
  "midstream-pickup": "The connection was picked up mid-stream (no SYN seen): its first request may be missing or partial.",
  "request-interrupted": "The request was cut short (gap, close or limit) before its end.",
  "response-interrupted": "The response was cut short before its end.",
  "unanswered-timeout": "No response within -response-timeout.",
  "unanswered-connection-closed": "The connection closed before a response came.",
  "unanswered-end-of-capture": "The capture ended before a response came.",
  "unanswered-pending-limit": "Too many requests were waiting on the connection; the oldest was exported unanswered.",
  "unanswered-evicted": "The connection was evicted (connection limit or -memory-limit) first.",
  "unanswered-stream-reset": "HTTP/2: the stream was reset before a response came.",
  "body-gap": "The capture lost bytes inside this body; sizes stay exact, the missing bytes are marked.",
  "conflicting-content-length": "Two different Content-Length values (RFC 9112 §6.3).",
  "invalid-content-length": "Content-Length is not a number.",
  "transfer-encoding-and-content-length": "Both Transfer-Encoding and Content-Length; Transfer-Encoding won.",
  "unknown-transfer-encoding": "A Transfer-Encoding other than chunked; the body was read until close.",
  "bare-lf": "Lines ended with a bare LF instead of CRLF (accepted).",
  "obs-fold": "A header value continued on the next line (obs-fold), joined with a space.",
  "invalid-chunk": "A malformed chunk size line: the body ends there.",
  "decode-failed": "The Content-Encoding could not be undone; the body is shown as captured.",
  "head-too-large": "The head exceeded the head size limit.",
  "body-truncated": "Body bytes beyond -max-body-size were not kept (sizes still exact).",
  "body-dropped-memory-limit": "The memory budget ran out while this body was held: its bytes were dropped.",
  "body-dropped-outputs-behind": "The outputs were behind the live capture: this body's bytes were dropped so that no packet was (-overload).",
  "tunnel": "The connection switched protocols or became a CONNECT tunnel; tunnelled bytes were skipped.",
  "late-response": "The response came after the request had already timed out.",
  "malformed-request-line": "The request line is not method SP target SP HTTP/1.x.",
  "request-lost": "The response answers a request the capture lost (placeholder request).",
  "pairing-uncertain": "Request bytes were lost before this request: the response may belong to an earlier one.",
  "stream-reset": "HTTP/2: RST_STREAM or GOAWAY ended the stream early.",
  "hpack-desync": "HTTP/2: headers decoded after HPACK state was lost: some fields may be placeholders.",
  "frames-lost": "HTTP/2: bytes of this direction were lost while the stream was open.",
  "no-status-line": "The response had no status line (HTTP/0.9-style).",
};

const $ = (id) => document.getElementById(id);
const state = {
  rows: [], byKey: new Map(), filter: "", paused: false, pending: [], selected: null,
  picked: new Set(), follow: true, es: null, lastSeq: 0, prevHealth: null, prevAt: 0,
  missed: 0, tab: "overview", detail: null, gen: 0,
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmtBytes(n) {
  if (n === null || n === undefined || n < 0) return "";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " K";
  return (n / 1048576).toFixed(1) + " M";
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? ms.toFixed(ms < 10 ? 2 : 0) + " ms" : (ms / 1000).toFixed(2) + " s";
}
function qs(params) {
  return Object.entries(params).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
}

// ---- the list -------------------------------------------------------------------------

function addRows(rows) {
  for (const r of rows) {
    if (r.seq <= state.lastSeq && state.byKey.has(r.seq)) continue;
    state.rows.push(r);
    state.byKey.set(r.seq, r);
    if (r.seq > state.lastSeq) state.lastSeq = r.seq;
  }
  if (state.rows.length > MAX_ROWS) {
    const cut = state.rows.splice(0, state.rows.length - MAX_ROWS);
    for (const r of cut) state.byKey.delete(r.seq);
  }
  scheduleRender();
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function rowEl(r) {
  const d = el("div", "row");
  d.dataset.seq = r.seq;
  if (r.status === null) d.classList.add("unans");
  else if (r.status >= 400) d.classList.add("err");
  else if (r.status >= 300) d.classList.add("redir");
  else d.classList.add("okk");
  if (r.seq === state.selected) d.classList.add("sel");
  if (state.picked.has(r.seq)) d.classList.add("picked");
  const time = (r.ts || "").slice(11, 23);
  const cells = [
    ["c-seq", r.seq], ["c-time", time], ["c-client", r.process ? `${r.process} · ${r.client}` : r.client], ["c-method", r.method],
    ["c-host", r.host], ["c-path", r.path], ["c-status", r.status === null ? (r.unanswered || "—") : r.status],
    ["c-ct", (r.ct || "").split(";")[0]], ["c-size", fmtBytes(r.reqSize)], ["c-size", fmtBytes(r.respSize)],
    ["c-dur", fmtMs(r.time)], ["c-dur", r.status === null ? "" : fmtMs(r.wait)],
  ];
  for (const [c, t] of cells) {
    const s = el("span", c, t);
    s.title = String(t);
    d.appendChild(s);
  }
  const flag = el("span", "c-flag");
  const names = (r.anomalies || []).filter((a) => !a.startsWith("unanswered-"));
  if (names.length) {
    const b = el("span", "badge", names.length);
    b.title = names.join(", ");
    flag.appendChild(b);
  }
  d.appendChild(flag);
  return d;
}

function render() {
  const list = $("list"), rows = $("rows"), spacer = $("spacer");
  spacer.style.height = state.rows.length * ROW_H + "px";
  if (state.follow) list.scrollTop = list.scrollHeight;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 10);
  const count = Math.ceil(list.clientHeight / ROW_H) + 20;
  rows.style.top = first * ROW_H + "px";
  rows.replaceChildren(...state.rows.slice(first, first + count).map(rowEl));
  const shown = state.rows.length;
  const p = state.paused ? " — paused" : "";
  const missed = state.missed ? `; ${state.missed} entries missed while away (evicted from the server's buffer)` : "";
  $("status-line").textContent = `${shown} rows${state.filter ? " matching the filter" : ""}${p}${missed}`;
}

function onScroll() {
  const list = $("list");
  state.follow = list.scrollTop + list.clientHeight >= list.scrollHeight - ROW_H;
  scheduleRender();
}

// ---- the stream -----------------------------------------------------------------------

function connect(since) {
  if (state.es) state.es.close();
  const gen = state.gen;
  const es = new EventSource("/api/v1/stream?" + qs({ filter: state.filter, since }));
  state.es = es;
  es.onmessage = (e) => {
    if (gen !== state.gen || !e.data) return;
    const rows = JSON.parse(e.data);
    if (state.paused) {
      state.pending.push(...rows);
      if (state.pending.length > MAX_ROWS) state.pending.splice(0, state.pending.length - MAX_ROWS);
      showNew();
    } else addRows(rows);
  };
  es.addEventListener("evicted", (e) => {
    if (gen !== state.gen) return;
    state.missed += JSON.parse(e.data).count;
    scheduleRender();
  });
  es.addEventListener("health", (e) => { if (gen === state.gen) showHealth(JSON.parse(e.data)); });
}

function showNew() {
  const n = $("new-count");
  n.hidden = !state.paused;
  n.textContent = `${state.pending.length} new`;
}

async function load() {
  state.gen++;
  if (state.es) { state.es.close(); state.es = null; }
  state.rows = []; state.byKey.clear(); state.pending = []; state.lastSeq = 0; state.missed = 0;
  state.picked.clear();
  const r = await fetch("/api/v1/entries?" + qs({ filter: state.filter, limit: FIRST_PAGE }));
  const body = await r.json();
  if (!r.ok) { showFilterError(body.error); render(); return; }
  showFilterError(null);
  addRows(body.entries);
  state.follow = true;
  connect(body.next - 1);
}

// ---- the filter -----------------------------------------------------------------------

function showFilterError(err) {
  const box = $("filter-error"), input = $("filter");
  input.classList.toggle("bad", !!err);
  box.hidden = !err;
  if (!err) return;
  const t = state.filter;
  box.replaceChildren(
    el("span", null, t.slice(0, err.start)), el("span", "mark", t.slice(err.start, err.end) || " "),
    el("span", null, t.slice(err.end)), el("div", null, err.message));
}

function filterFromUrl() {
  const m = /(?:^#|&)filter=([^&]*)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : "";
}

let filterTimer = 0;
function onFilterInput() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.filter = $("filter").value.trim();
    history.replaceState(null, "", state.filter ? "#filter=" + encodeURIComponent(state.filter) : location.pathname);
    load();
  }, 300);
}

// ---- pause, clear, export --------------------------------------------------------------

function togglePause() {
  state.paused = !state.paused;
  const b = $("pause");
  b.textContent = state.paused ? "Resume" : "Pause";
  b.classList.toggle("paused", state.paused);
  if (!state.paused) {
    const p = state.pending; state.pending = [];
    addRows(p);
  }
  showNew();
  scheduleRender();
}

function clearView() {
  state.rows = []; state.byKey.clear(); state.pending = []; state.missed = 0; state.picked.clear();
  showNew();
  closeDetail();
  scheduleRender();
}

function download(url) {
  const a = el("a");
  a.href = url;
  a.download = "httshark-view.har";
  document.body.appendChild(a);
  a.click();
  a.remove();
}
function exportUrl(params) {
  if ($("sensitive").checked) params.sensitive = "1";
  return "/api/v1/export.har?" + qs(params);
}

// ---- health ---------------------------------------------------------------------------

function showHealth(h) {
  const now = performance.now();
  const p = state.prevHealth, dt = p ? (now - state.prevAt) / 1000 : 0;
  const rate = (k) => (p && dt > 0 ? Math.max(0, (h[k] - p[k]) / dt) : 0);
  const moved = (v, pv) => p && v > pv;
  const ui = h.ui || {};
  const pui = (p && p.ui) || {};
  const losses = [
    ["kernel drops", h.kernelDropped + h.interfaceDropped, p && p.kernelDropped + p.interfaceDropped],
    ["gaps", h.gaps, p && p.gaps],
    ["view evicted", h.ring.evicted, p && p.ring.evicted],
    ["stream dropped", ui.ui_stream_dropped || 0, pui.ui_stream_dropped || 0],
  ];
  const budget = h.memoryLimit ? (((h.bufferedBytes || 0) + h.ring.bytes) / h.memoryLimit) * 100 : 0;
  const strip = $("health");
  const items = [
    el("span", null, `${rate("packets").toFixed(0)} packets/s`),
    el("span", null, `${((rate("bytes") * 8) / 1e6).toFixed(2)} Mbit/s`),
    el("span", null, `open connections ${h.openConnections ?? 0}`),
    el("span", null, `memory budget ${budget.toFixed(1)}%${h.memoryBytes ? " (RSS " + fmtBytes(h.memoryBytes) + ")" : ""}`),
    el("span", null, `view ${h.ring.entries}/${h.ring.maxEntries} entries, ${fmtBytes(h.ring.bytes)}/${fmtBytes(h.ring.maxBytes)}`),
  ];
  let anyMoved = false;
  for (const [name, v, pv] of losses) {
    const s = el("span", null, `${name} ${v}`);
    if (moved(v, pv)) { s.classList.add("moved"); anyMoved = true; }
    items.push(s);
  }
  strip.replaceChildren(...items);
  strip.classList.toggle("loss", anyMoved);
  strip.dataset.packets = h.packets;
  state.prevHealth = h; state.prevAt = now;
}

// ---- detail ---------------------------------------------------------------------------

function select(seq, open) {
  state.selected = seq;
  scheduleRender();
  if (open) openDetail(seq);
}

async function openDetail(seq) {
  const r = await fetch("/api/v1/entries/" + seq);
  if (!r.ok) { showDetailMessage(`Entry ${seq} is no longer held by the server (evicted).`); return; }
  state.detail = await r.json();
  $("detail").hidden = false;
  showTab(state.tab);
}
function showDetailMessage(msg) {
  $("detail").hidden = false;
  state.detail = null;
  $("detail-body").replaceChildren(el("p", "note", msg));
}
function closeDetail() {
  $("detail").hidden = true;
  state.detail = null;
  $("list").focus();
}

// `mask`: true hides every value until clicked (cookies); "names" hides the values of
// SENSITIVE header names.
function kvTable(pairs, mask) {
  const t = el("table", "kv");
  for (const [k, v] of pairs) {
    const tr = el("tr");
    tr.appendChild(el("td", null, k));
    const td = el("td");
    if (mask === true || (mask === "names" && SENSITIVE.includes(String(k).toLowerCase()))) {
      const m = el("span", "masked", "•••••• (click to reveal)");
      m.addEventListener("click", () => { m.textContent = v; m.className = ""; });
      td.appendChild(m);
    } else td.textContent = v;
    tr.appendChild(td);
    t.appendChild(tr);
  }
  return t;
}

function timingBars(e) {
  const t = e.timings, wrap = el("div");
  const total = Math.max(e.time, 0.001);
  let offset = 0;
  for (const k of ["connect", "ssl", "send", "wait", "receive"]) {
    const v = t[k];
    if (v === undefined || v < 0) continue;
    const row = el("div", "timing");
    row.appendChild(el("span", "lbl", k));
    const track = el("div", "track");
    const pad = el("div");
    const start = k === "ssl" ? offset - v : offset;
    pad.style.width = (Math.max(0, start) / total) * 100 + "%";
    const bar = el("div", "bar " + k);
    bar.style.width = (v / total) * 100 + "%";
    track.append(pad, bar);
    row.append(track, el("span", null, fmtMs(v)));
    wrap.appendChild(row);
    if (k !== "ssl") offset += v;
  }
  wrap.appendChild(el("div", "note", "Timings from packet timestamps as seen at the capture point (no DNS or queueing: a passive capture cannot see them)."));
  return wrap;
}

function overview(d) {
  const e = d.entry, s = d.summary, frag = document.createDocumentFragment();
  frag.appendChild(el("h3", null, "Overview"));
  const resp = e.response;
  frag.appendChild(kvTable([
    ["URL", e.request.url], ["Method", e.request.method], ["Version", e.request.httpVersion],
    ["Status", resp.status ? `${resp.status} ${resp.statusText}` : `unanswered (${s.unanswered || "?"})`],
    ["Started", e.startedDateTime], ["Client", `${e._clientIPAddress}:${e._clientPort}`],
    ...(e._process ? [["Process", processText(e._process)]] : []),
    ["Server", `${e.serverIPAddress}:${e._serverPort}`], ["Connection", `#${e.connection}, request ${e._depth} on it`],
    ["Request", `head ${fmtBytes(e.request.headersSize)}, body ${fmtBytes(e.request.bodySize)}${s.reqMissing ? `, ${s.reqMissing} bytes not captured` : ""}`],
    ["Response", resp.status ? `head ${fmtBytes(resp.headersSize)}, body ${fmtBytes(resp.bodySize)}, content ${fmtBytes(resp.content.size)}${s.respMissing ? `, ${s.respMissing} bytes not captured` : ""}` : "none"],
    ["Total time", fmtMs(e.time)],
    ...(e._tls ? [["TLS", JSON.stringify(e._tls)]] : []),
  ]));
  frag.appendChild(el("h3", null, "Timing"));
  frag.appendChild(timingBars(e));
  return frag;
}

function headersBlock(title, headers, rawFirstLine) {
  const frag = document.createDocumentFragment();
  frag.appendChild(el("h3", null, title));
  const modes = el("div", "modes");
  const table = kvTable(headers.map((h) => [h.name, h.value]), "names");
  // The raw view masks the same values; the table reveals them on a click.
  const shown = (h) => (SENSITIVE.includes(h.name.toLowerCase()) ? "•••••• (click it in the table)" : h.value);
  const raw = el("pre", "raw", [rawFirstLine, ...headers.map((h) => `${h.name}: ${shown(h)}`)].join("\n"));
  raw.hidden = true;
  const bt = el("button", "on", "Table"), br = el("button", null, "Raw");
  bt.type = br.type = "button";
  bt.onclick = () => { table.hidden = false; raw.hidden = true; bt.classList.add("on"); br.classList.remove("on"); };
  br.onclick = () => { table.hidden = true; raw.hidden = false; br.classList.add("on"); bt.classList.remove("on"); };
  modes.append(bt, br);
  frag.append(modes, table, raw);
  return frag;
}

function b64ToBytes(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Lines of 16 bytes; `base` is the offset of bytes[0] in the body.
function hexDump(bytes, limit, base = 0) {
  const lines = [];
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i += 16) {
    const chunk = bytes.subarray(i, Math.min(i + 16, n));
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const asc = Array.from(chunk, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push((base + i).toString(16).padStart(8, "0") + "  " + hex.padEnd(48) + "  " + asc);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes (download the body)`);
  return lines.join("\n");
}

// One body: text, pretty JSON, hex, image, download. `missing` bytes were lost by the
// capture; `gaps` ([offset, length] in the shown bytes) says where: the text and hex views
// mark each in place. Without offsets (a decoded body) the mark goes where the bytes stop.
// `dropped`: the content-type policy left the body out (HAR `_requestBodyDropped`,
// `_responseBodyDropped`), which the note says rather than an unexplained "no body".
function bodyBlock(seq, side, text, encoding, mime, missing, gaps, dropped) {
  const frag = document.createDocumentFragment();
  frag.appendChild(el("h3", null, "Body"));
  if (text === undefined || text === null) {
    const why = dropped
      ? `Body not kept: its type (${mime || "none"}) is dropped by -drop-content-type (default image,audio,video) or not in -keep-content-type.`
      : missing ? `No body bytes kept; ${missing} bytes not captured.` : "No body kept.";
    frag.appendChild(el("p", "note", why));
    return frag;
  }
  const bytes = encoding === "base64" ? b64ToBytes(text) : new TextEncoder().encode(text);
  const asText = encoding === "base64" ? null : text;
  const modes = el("div", "modes"), view = el("div");
  const gapMark = (n) => el("span", "gap", `⟪${n} bytes not captured⟫`);
  const ranges = (gaps && gaps.length) ? gaps : (missing ? [[bytes.length, missing]] : []);
  // The bytes cut at each gap: [[start, end, gapLength|0], ...].
  const pieces = () => {
    const out = [];
    let at = 0;
    for (const [off, len] of ranges) {
      const o = Math.min(Math.max(off, at), bytes.length);
      out.push([at, o, len]);
      at = o;
    }
    out.push([at, bytes.length, 0]);
    return out;
  };
  const show = (mode) => {
    for (const b of modes.querySelectorAll("button")) b.classList.toggle("on", b.dataset.mode === mode);
    const pre = el("pre", "body");
    if (mode === "text") {
      if (asText === null) pre.textContent = "(binary body: see hex)";
      else {
        const dec = new TextDecoder();
        for (const [a, b, gap] of pieces()) {
          pre.appendChild(document.createTextNode(dec.decode(bytes.subarray(a, b))));
          if (gap) pre.appendChild(gapMark(gap));
        }
      }
      view.replaceChildren(pre);
    } else if (mode === "json") {
      try { pre.textContent = JSON.stringify(JSON.parse(asText), null, 2); }
      catch (err) { pre.textContent = "Not valid JSON: " + err.message; }
      view.replaceChildren(pre);
    } else if (mode === "hex") {
      let shown = 0;
      for (const [a, b, gap] of pieces()) {
        if (shown < 65536) pre.appendChild(document.createTextNode(hexDump(bytes.subarray(a, b), 65536 - shown, a) + "\n"));
        shown += b - a;
        if (gap) { pre.appendChild(gapMark(gap)); pre.appendChild(document.createTextNode("\n")); }
      }
      view.replaceChildren(pre);
    } else if (mode === "image") {
      const ct = (mime || "").split(";")[0].trim().toLowerCase();
      const img = el("img", "preview");
      img.alt = "image preview";
      img.src = URL.createObjectURL(new Blob([bytes], { type: ct.startsWith("image/") ? ct : "application/octet-stream" }));
      view.replaceChildren(img);
    }
  };
  const modesList = [["text", "Text"], ["json", "JSON"], ["hex", "Hex"]];
  if ((mime || "").toLowerCase().startsWith("image/")) modesList.push(["image", "Image"]);
  for (const [m, label] of modesList) {
    const b = el("button", null, label);
    b.type = "button"; b.dataset.mode = m;
    b.onclick = () => show(m);
    modes.appendChild(b);
  }
  const dl = el("a", null, "Download");
  dl.href = `/api/v1/entries/${seq}/body/${side}`;
  dl.download = `entry-${seq}-${side}.bin`;
  modes.appendChild(dl);
  frag.append(modes, view);
  const json = /json/i.test(mime || "") && asText !== null;
  const img = (mime || "").toLowerCase().startsWith("image/");
  show(img ? "image" : json ? "json" : asText !== null ? "text" : "hex");
  return frag;
}

function requestTab(d) {
  const e = d.entry, r = e.request, frag = document.createDocumentFragment();
  frag.appendChild(headersBlock("Headers", r.headers, `${r.method} ${e._requestTarget || new URL(r.url).pathname + new URL(r.url).search} ${r.httpVersion}`));
  if (r.queryString.length) { frag.appendChild(el("h3", null, "Query")); frag.appendChild(kvTable(r.queryString.map((q) => [q.name, q.value]))); }
  if (r.cookies.length) { frag.appendChild(el("h3", null, "Cookies")); frag.appendChild(kvTable(r.cookies.map((c) => [c.name, c.value]), true)); }
  const pd = r.postData;
  frag.appendChild(bodyBlock(d.seq, "request", pd && pd.text, pd && pd._encoding, pd && pd.mimeType, d.summary.reqMissing, d.summary.reqGaps, e._requestBodyDropped));
  return frag;
}

function responseTab(d) {
  const e = d.entry, r = e.response, frag = document.createDocumentFragment();
  if (!r.status) { frag.appendChild(el("p", "note", `No response: ${d.summary.unanswered || "unanswered"}.`)); return frag; }
  frag.appendChild(headersBlock("Headers", r.headers, `${r.httpVersion} ${r.status} ${r.statusText}`));
  if (r.cookies.length) { frag.appendChild(el("h3", null, "Cookies")); frag.appendChild(kvTable(r.cookies.map((c) => [c.name, c.value]), true)); }
  frag.appendChild(bodyBlock(d.seq, "response", r.content.text, r.content.encoding, r.content.mimeType, d.summary.respMissing, d.summary.respGaps, e._responseBodyDropped));
  return frag;
}

function anomaliesTab(d) {
  const names = d.entry._anomalies || [], frag = document.createDocumentFragment();
  frag.appendChild(el("h3", null, "Anomalies"));
  if (!names.length) { frag.appendChild(el("p", "note", "None: the capture saw this transaction whole.")); return frag; }
  frag.appendChild(kvTable(names.map((n) => [n, ANOMALY_TEXT[n] || "See docs/har.md."])));
  return frag;
}

function showTab(tab) {
  state.tab = tab;
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("on", b.dataset.tab === tab);
  const d = state.detail;
  if (!d) return;
  const f = { overview, request: requestTab, response: responseTab, anomalies: anomaliesTab }[tab];
  $("detail-body").replaceChildren(f(d));
}

async function copyCurl() {
  if (!state.detail) return;
  const r = await fetch(`/api/v1/entries/${state.detail.seq}/curl`);
  const text = await r.text();
  let box = $("curl-text");
  if (!box) {
    box = el("textarea"); box.id = "curl-text"; box.readOnly = true;
    $("detail-body").prepend(el("p", "note", "This command carries the request's credentials (cookies, Authorization)."), box);
  }
  box.value = text;
  try { await navigator.clipboard.writeText(text); } catch (_) { box.select(); }
}

// ---- keyboard -------------------------------------------------------------------------

function move(delta) {
  if (!state.rows.length) return;
  let i = state.rows.findIndex((r) => r.seq === state.selected);
  i = i < 0 ? (delta > 0 ? 0 : state.rows.length - 1) : Math.min(state.rows.length - 1, Math.max(0, i + delta));
  state.selected = state.rows[i].seq;
  const list = $("list"), y = i * ROW_H;
  if (y < list.scrollTop) list.scrollTop = y;
  else if (y + ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = y + ROW_H - list.clientHeight;
  state.follow = false;
  scheduleRender();
  if (!$("detail").hidden) openDetail(state.selected);
}

function onKey(e) {
  const inInput = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
  if (inInput) {
    if (e.key === "Escape" || e.key === "Enter") { e.target.blur(); $("list").focus(); }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const page = Math.max(1, Math.floor($("list").clientHeight / ROW_H) - 1);
  switch (e.key) {
    case "ArrowDown": case "j": move(1); break;
    case "ArrowUp": case "k": move(-1); break;
    case "PageDown": move(page); break;
    case "PageUp": move(-page); break;
    case "Home": move(-1e9); break;
    case "End": move(1e9); state.follow = true; break;
    case "Enter": if (state.selected !== null) openDetail(state.selected); break;
    case "Escape": closeDetail(); break;
    case "/": $("filter").focus(); break;
    case " ": togglePause(); break;
    default: return;
  }
  e.preventDefault();
}

// ---- start ----------------------------------------------------------------------------

function start() {
  state.filter = filterFromUrl();
  $("filter").value = state.filter;
  $("filter").addEventListener("input", onFilterInput);
  $("list").addEventListener("scroll", onScroll);
  $("rows").addEventListener("click", (e) => {
    const row = e.target.closest(".row");
    if (!row) return;
    const seq = Number(row.dataset.seq);
    if (e.ctrlKey || e.metaKey) {
      if (state.picked.has(seq)) state.picked.delete(seq); else state.picked.add(seq);
      scheduleRender();
    } else select(seq, false);
  });
  $("rows").addEventListener("dblclick", (e) => {
    const row = e.target.closest(".row");
    if (row) select(Number(row.dataset.seq), true);
  });
  $("pause").onclick = togglePause;
  $("clear").onclick = clearView;
  $("export-filter").onclick = () => download(exportUrl({ filter: state.filter }));
  $("export-selection").onclick = () => {
    const seqs = state.picked.size ? [...state.picked] : state.selected !== null ? [state.selected] : [];
    if (seqs.length) download(exportUrl({ seqs: seqs.join(",") }));
  };
  $("close-detail").onclick = closeDetail;
  $("copy-curl").onclick = copyCurl;
  for (const b of $("tabs").querySelectorAll("button")) b.onclick = () => showTab(b.dataset.tab);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", scheduleRender);
  window.addEventListener("hashchange", () => {
    const f = filterFromUrl();
    if (f !== state.filter) { state.filter = f; $("filter").value = f; load(); }
  });
  fetch("/api/v1/health").then((r) => r.json()).then(showHealth).catch(() => {});
  load();
  $("list").focus();
}

document.addEventListener("DOMContentLoaded", start);

// The HAR entry's `_process` (docs/har.md) in one line: command, pid, user, executable,
// container; or why no process was found.
function processText(p) {
  if (p.unattributed) return `unknown (${p.unattributed})`;
  const parts = [`${p.name} ${p.pid}`];
  if (p.user) parts.push(`user ${p.user}`);
  if (p.exe) parts.push(p.exe);
  if (p.container) parts.push(`container ${p.container}`);
  return parts.join(", ");
}
