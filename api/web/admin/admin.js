// The admin console (/admin/): callbacks, stations, groups, COS, options, PBX commands and
// tokens, live from /v1/stream (no polling). Every value from the API goes in as text.
import { api, token, wireSignIn, el, fill, age, query, ApiError } from "../common/api.js";
import { follow } from "../common/stream.js";

const $ = (id) => document.getElementById(id);
const STATES = ["pending", "notifying", "recalling", "queued", "message_left", "completed", "cancelled", "expired"];
const ACTIVE = STATES.slice(0, 5);
const PAGE = 100;
let stop = null;

// ---- sign-in, tabs, connection ----

function showSignin(message) {
  if (stop) stop();
  stop = null;
  $("console").classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("signin-error").textContent = message || "";
}

async function start() {
  if (!token()) return showSignin();
  try {
    await api("GET", "/v1/system-options");
  } catch (e) {
    return showSignin(e instanceof ApiError && e.status === 403 ? "This token is not an admin or operator token." : e.status === 401 ? "This token was refused." : e.message);
  }
  $("signin").classList.add("hidden");
  $("console").classList.remove("hidden");
  stop = follow(onChange, (up) => $("offline").classList.toggle("hidden", up));
  showTab(location.hash.slice(1) || "callbacks");
  await reloadAll();
}

async function reloadAll() {
  await Promise.allSettled([loadCallbacks(), loadCounts(), loadStations(), loadProvisioning(), loadCommands(), loadTokens()]);
}

function showTab(name) {
  if (!$(`tab-${name}`)) name = "callbacks";
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.classList.toggle("hidden", s.id !== `tab-${name}`);
}

function onChange(type, data) {
  if (type === "reset") return reloadAll();
  if (type === "callback") callbackChanged(data);
  else if (type === "station") stationChanged(data);
  else if (type === "command") commandChanged(data);
}

wireSignIn(start, showSignin);
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));

// ---- forms: fields, values, the API's validation errors beside each field ----

// form(title, [{name, label, type, options, value}], submitLabel, onSubmit(values)).
function form(title, fields, submitLabel, onSubmit, extra) {
  const f = el("form", { "data-form": title }, el("h3", {}, title));
  for (const d of fields) {
    let input;
    if (d.type === "select") input = el("select", { name: d.name }, d.options.map((o) => el("option", { value: o }, o)));
    else if (d.type === "checkbox") input = el("input", { name: d.name, type: "checkbox", checked: !!d.value });
    else input = el("input", { name: d.name, type: d.type || "text", size: d.size || 10, value: d.value ?? "" });
    if (d.type === "select" && d.value !== undefined) input.value = d.value;
    f.append(el("div", { class: "field" }, el("label", {}, d.label, input), el("span", { class: "error", "data-for": d.name })));
  }
  f.append(el("button", { type: "submit" }, submitLabel));
  for (const [label, fn] of extra || []) f.append(el("button", { type: "button", class: "secondary", onclick: () => run(f, fn) }, label));
  f.append(el("span", { class: "error", "data-for": "" }));
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(f, onSubmit);
  });
  return f;
}

function values(f) {
  const v = {};
  for (const i of f.querySelectorAll("input, select")) v[i.name] = i.type === "checkbox" ? i.checked : i.value.trim();
  return v;
}

async function run(f, fn) {
  for (const e of f.querySelectorAll(".error")) e.textContent = "";
  try {
    await fn(values(f));
  } catch (e) {
    showFieldErrors(f, e);
  }
}

function showFieldErrors(f, e) {
  const general = f.querySelector('.error[data-for=""]');
  const errors = (e instanceof ApiError && e.problem.errors) || [];
  let unplaced = errors.length ? [] : [e.message];
  for (const { field, message } of errors) {
    const name = String(field).replace(/\[.*$/, "");
    const slot = [...f.querySelectorAll(".error")].find((s) => s.dataset.for && (s.dataset.for === field || s.dataset.for === name));
    if (slot) slot.textContent = message;
    else unplaced.push(`${field}: ${message}`);
  }
  general.textContent = unplaced.join("; ");
}

const list = (s) => s.split(/[\s,]+/).filter(Boolean);
const enc = encodeURIComponent;

// ---- callbacks ----

let cbFilter = {};
let cbCursor = null;
let cbPage = { items: [], next_cursor: null, prev_cursor: null };
let cbSelected = null;
const stateSelect = $("cb-filter").elements.state;
for (const s of STATES) stateSelect.append(el("option", { value: s }, s));

function cbRow(cb) {
  const target = cb.external_number ? `${cb.target} (${cb.external_number})` : cb.target;
  return el("tr", { "data-id": cb.id, class: cb.id === cbSelected ? "selected" : null, onclick: () => openCallback(cb.id) },
    el("td", {}, cb.requester), el("td", {}, target), el("td", {}, cb.reason ?? ""),
    el("td", {}, el("span", { class: `state ${cb.state}` }, cb.state)),
    el("td", { title: cb.created_at }, age(cb.created_at)), el("td", { title: cb.expires_at ?? "" }, cb.expires_at ? age(cb.expires_at) : ""));
}

function renderCallbacks() {
  fill($("cb-table").tBodies[0], cbPage.items.map(cbRow));
  $("cb-prev").disabled = !cbPage.prev_cursor;
  $("cb-next").disabled = !cbPage.next_cursor;
}

async function loadCallbacks(cursor = cbCursor) {
  $("cb-error").textContent = "";
  try {
    cbPage = await api("GET", `/v1/callbacks${query({ ...cbFilter, limit: PAGE, cursor })}`);
    cbCursor = cursor;
    renderCallbacks();
  } catch (e) {
    $("cb-error").textContent = e.message;
  }
}

function matches(cb) {
  return (!cbFilter.state || cb.state === cbFilter.state) && (!cbFilter.requester || cb.requester === cbFilter.requester) && (!cbFilter.target || cb.target === cbFilter.target);
}

function callbackChanged(cb) {
  const i = cbPage.items.findIndex((x) => x.id === cb.id);
  if (i >= 0) {
    if (matches(cb)) cbPage.items[i] = cb;
    else cbPage.items.splice(i, 1);
  } else if (matches(cb) && !cbCursor) cbPage.items.unshift(cb);
  if (cbPage.items.length > PAGE) cbPage.items.length = PAGE;
  renderCallbacks();
  if (cb.id === cbSelected) openCallback(cb.id);
  countsSoon();
  stationCallbacksChanged(cb);
}

$("cb-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = values($("cb-filter"));
  cbFilter = { state: v.state, requester: v.requester, target: v.target };
  loadCallbacks(null);
});
$("cb-next").addEventListener("click", () => loadCallbacks(cbPage.next_cursor));
$("cb-prev").addEventListener("click", () => loadCallbacks(cbPage.prev_cursor));

async function openCallback(id) {
  cbSelected = id;
  const box = $("cb-detail");
  box.classList.remove("hidden");
  try {
    const [cb, history] = await Promise.all([api("GET", `/v1/callbacks/${id}`), api("GET", `/v1/callbacks/${id}/history`)]);
    if (cbSelected !== id) return;
    const active = ACTIVE.includes(cb.state);
    const err = el("p", { class: "error" });
    const act = (fn) => async () => {
      err.textContent = "";
      try {
        await fn();
      } catch (e) {
        err.textContent = e.message;
      }
    };
    fill(box,
      el("h3", {}, `Callback ${cb.requester} → ${cb.target}`),
      el("dl", {}, Object.entries(cb).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v))])),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "danger", disabled: !active, onclick: act(async () => {
          if (confirm(`Cancel the callback from ${cb.requester} to ${cb.target}?`)) await api("DELETE", `/v1/callbacks/${id}`);
        }) }, "Cancel"),
        el("button", { type: "button", disabled: !active, onclick: act(() => api("POST", `/v1/callbacks/${id}/call-again`, {})) }, "Call Again"),
        el("button", { type: "button", class: "secondary", onclick: () => { cbSelected = null; box.classList.add("hidden"); renderCallbacks(); } }, "Close")),
      err,
      el("h4", {}, "History"),
      el("table", {}, el("tbody", {}, history.items.map((h) => el("tr", {}, el("td", { title: h.at }, age(h.at)), el("td", {}, `${h.from ?? "—"} → ${h.to}`), el("td", {}, `${h.cause.kind} ${h.cause.ref}`))))));
    renderCallbacks();
  } catch (e) {
    fill(box, el("p", { class: "error" }, e.message));
  }
}

// Counts of the active states at the top: recounted (at most once a second) when a callback
// changes.
let countTimer = null;
function countsSoon() {
  if (!countTimer) countTimer = setTimeout(() => { countTimer = null; loadCounts(); }, 1000);
}
async function loadCounts() {
  const counts = await Promise.all(ACTIVE.map((s) => api("GET", `/v1/callbacks?state=${s}&limit=500`).then((p) => (p.next_cursor ? `${p.items.length}+` : String(p.items.length)), () => "?")));
  fill($("counts"), ACTIVE.map((s, i) => el("span", { class: `state ${s}`, "data-state": s }, `${s} ${counts[i]}`)));
}

// ---- stations ----

const stations = new Map();

function stateText(st) {
  const s = st.state || {};
  const flags = ["dnd", "make_busy", "attendant_busy_out", "failed_over"].filter((k) => s[k]);
  return [s.availability, `hook ${s.hook}`, ...flags, s.forward_to ? `fwd ${s.forward_to}` : null].filter(Boolean).join(", ");
}

function renderStations() {
  const rows = [...stations.values()].sort((a, b) => a.number.localeCompare(b.number, undefined, { numeric: true }));
  fill($("st-table").tBodies[0], rows.map((st) => el("tr", { "data-number": st.number, onclick: () => openStation(st.number) },
    el("td", {}, st.number), el("td", {}, st.kind ?? ""), el("td", {}, st.cos ?? ""), el("td", {}, stateText(st)),
    el("td", {}, st.softkey && st.softkey.presented ? `Call Me Back → ${st.softkey.target ?? ""}` : "—"))));
}

async function loadStations() {
  stations.clear();
  let cursor = null;
  do {
    const page = await api("GET", `/v1/stations${query({ limit: 500, cursor })}`);
    for (const st of page.items) stations.set(st.number, st);
    cursor = page.next_cursor;
  } while (cursor);
  renderStations();
}

function stationChanged(s) {
  const known = stations.get(s.number);
  if (known) stations.set(s.number, { ...known, state: s.state, softkey: s.softkey });
  else api("GET", `/v1/stations/${enc(s.number)}`).then((st) => { stations.set(st.number, st); renderStations(); }, () => {});
  renderStations();
  if (openStationNumber === s.number) openStation(s.number);
}

let openStationNumber = null;
async function openStation(number) {
  openStationNumber = number;
  const box = $("st-detail");
  box.classList.remove("hidden");
  const st = stations.get(number);
  const [set, target] = await Promise.all([api("GET", `/v1/callbacks${query({ requester: number, limit: 50 })}`), api("GET", `/v1/callbacks${query({ target: number, limit: 50 })}`)]).catch(() => [{ items: [] }, { items: [] }]);
  const active = (p) => p.items.filter((c) => ACTIVE.includes(c.state));
  const cbList = (items, key) => items.length ? el("ul", {}, items.map((c) => el("li", {}, `${c[key]} · ${c.state} · ${age(c.created_at)}`))) : el("p", { class: "muted" }, "none");
  fill(box, el("h3", {}, `Station ${number}`),
    st ? el("dl", {}, ["kind", "cos", "prime_line", "resilient", "console_group"].flatMap((k) => [el("dt", {}, k), el("dd", {}, st[k] === null || st[k] === undefined ? "—" : String(st[k]))])) : null,
    el("h4", {}, "Callbacks it has set"), cbList(active(set), "target"),
    el("h4", {}, "Callbacks on it"), cbList(active(target), "requester"));
}

function stationCallbacksChanged(cb) {
  if (openStationNumber && (cb.requester === openStationNumber || cb.target === openStationNumber)) openStation(openStationNumber);
}

$("station-forms").append(
  form("Station", [
    { name: "number", label: "Number" },
    { name: "kind", label: "Kind", type: "select", options: ["ip_phone", "analog", "mobile", "console"] },
    { name: "cos", label: "COS", size: 6 },
    { name: "prime_line", label: "Prime line" },
    { name: "console_group", label: "Console group" },
    { name: "resilient", label: "Resilient", type: "checkbox" },
  ], "Save", async (v) => {
    const body = { kind: v.kind, cos: v.cos, resilient: v.resilient };
    if (v.prime_line) body.prime_line = v.prime_line;
    if (v.console_group) body.console_group = v.console_group;
    const st = await api("PUT", `/v1/stations/${enc(v.number)}`, body);
    stations.set(st.number, st);
    renderStations();
  }, [["Remove", async (v) => {
    if (!confirm(`Remove station ${v.number}?`)) return;
    await api("DELETE", `/v1/stations/${enc(v.number)}`);
    stations.delete(v.number);
    renderStations();
  }]]));

// ---- groups, classes of service, system options ----

async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await api("GET", `${path}${query({ limit: 500, cursor })}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

async function loadProvisioning() {
  const [cos, trunks, hunts, options] = await Promise.all([allPages("/v1/classes-of-service"), allPages("/v1/trunk-groups"), allPages("/v1/hunt-groups"), api("GET", "/v1/system-options")]);
  const table = (title, head, rows) => el("div", {}, el("h3", {}, title), el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))), el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c)))))));
  fill($("prov-lists"),
    table("Classes of service", ["Id", "Callbacks allowed"], cos.map((c) => [c.id, c.callbacks_allowed ? "yes" : "no"])),
    table("Trunk groups", ["Number", "Lines", "Activation"], trunks.map((t) => [t.number, (t.lines || []).join(", "), t.callback_activation ? "yes" : "no"])),
    table("Hunt groups", ["Number", "Members", "Activation"], hunts.map((h) => [h.number, (h.members || []).join(", "), h.callback_activation ? "yes" : "no"])));
  fill($("prov-forms"),
    form("Class of service", [{ name: "id", label: "Id", size: 6 }, { name: "callbacks_allowed", label: "Callbacks allowed", type: "checkbox", value: true }], "Save",
      async (v) => { await api("PUT", `/v1/classes-of-service/${enc(v.id)}`, { callbacks_allowed: v.callbacks_allowed }); await loadProvisioning(); }),
    form("Trunk group", [{ name: "number", label: "Number" }, { name: "lines", label: "Lines (comma-separated)", size: 24 }, { name: "callback_activation", label: "Callback Activation", type: "checkbox" }], "Save",
      async (v) => { await api("PUT", `/v1/trunk-groups/${enc(v.number)}`, { lines: list(v.lines), callback_activation: v.callback_activation }); await loadProvisioning(); },
      [["Remove", async (v) => { if (confirm(`Remove trunk group ${v.number}?`)) { await api("DELETE", `/v1/trunk-groups/${enc(v.number)}`); await loadProvisioning(); } }]]),
    form("Hunt group", [{ name: "number", label: "Number" }, { name: "members", label: "Members (comma-separated)", size: 24 }, { name: "callback_activation", label: "Callback Activation", type: "checkbox" }], "Save",
      async (v) => { await api("PUT", `/v1/hunt-groups/${enc(v.number)}`, { members: list(v.members), callback_activation: v.callback_activation }); await loadProvisioning(); },
      [["Remove", async (v) => { if (confirm(`Remove hunt group ${v.number}?`)) { await api("DELETE", `/v1/hunt-groups/${enc(v.number)}`); await loadProvisioning(); } }]]),
    optionsForm(options));
}

// The system options as they are, one field each (fac.* nested), sent back as changed.
function optionsForm(options) {
  const fields = [];
  for (const [k, v] of Object.entries(options)) {
    if (v && typeof v === "object") for (const [k2, v2] of Object.entries(v)) fields.push({ name: `${k}.${k2}`, label: `${k}.${k2}`, value: v2, size: 6 });
    else fields.push({ name: k, label: k.replace(/_/g, " "), type: typeof v === "boolean" ? "checkbox" : "text", value: v, size: 8 });
  }
  return form("System options", fields, "Save", async (v) => {
    const body = {};
    for (const [k, val] of Object.entries(v)) {
      const [a, b] = k.split(".");
      const orig = b ? options[a][b] : options[a];
      const typed = typeof orig === "number" && /^-?\d+$/.test(val) ? Number(val) : val;
      if (b) (body[a] ??= {})[b] = typed;
      else body[a] = typed;
    }
    await api("PUT", "/v1/system-options", body);
    await loadProvisioning();
  });
}

// ---- PBX commands ----

const commands = new Map();
const KEEP = 200;
const LATE_MS = 5000; // a command the PBX has not acknowledged this long after the page saw it

async function loadCommands() {
  commands.clear();
  let cursor = null;
  do { // oldest first: read to the end, keep the newest
    const page = await api("GET", `/v1/commands${query({ limit: 500, cursor })}`);
    for (const c of page.items) keepCommand(c);
    cursor = page.next_cursor;
    trimCommands();
  } while (cursor);
  renderCommands();
}

function keepCommand(c) {
  const known = commands.get(c.id);
  commands.set(c.id, { ...(known || {}), ...c, seenAt: known ? known.seenAt : Date.now() });
}

function trimCommands() {
  while (commands.size > KEEP) commands.delete(commands.keys().next().value);
}

function commandChanged(c) {
  keepCommand(c);
  trimCommands();
  renderCommands();
}

const isLate = (c) => c.status === "pending" && Date.now() - c.seenAt > LATE_MS;

// A retry changes a command's attempts and last error but not its status, so it is no stream
// change: only while a command is late (the PBX not acknowledging) are the late ones read again,
// every LATE_MS, to show their attempts and last error.
let lateReadAt = 0;
setInterval(async () => {
  const late = [...commands.values()].filter(isLate);
  renderCommandAlarm();
  if (!late.length || !token() || Date.now() - lateReadAt < LATE_MS) return;
  lateReadAt = Date.now();
  const after = Math.min(...late.map((c) => c.seq)) - 1;
  try {
    const page = await api("GET", `/v1/commands${query({ after, limit: 500 })}`);
    for (const c of page.items) if (commands.has(c.id)) keepCommand(c);
    renderCommands();
  } catch {
    // said by the stream's banner when callbackd is away
  }
}, 1000);

function renderCommands() {
  const rows = [...commands.values()].sort((a, b) => b.seq - a.seq);
  fill($("cmd-table").tBodies[0], rows.map((c) => el("tr", { "data-id": c.id },
    el("td", {}, c.seq), el("td", {}, c.type), el("td", {}, c.station ?? c.from_station ?? c.for_station ?? ""),
    el("td", { class: `status-${c.status}${isLate(c) ? " late" : ""}` }, c.status), el("td", {}, c.attempts ?? 0),
    el("td", {}, c.last_error ?? ""), el("td", { title: c.created_at }, age(c.created_at)))));
  renderCommandAlarm();
}

// The PBX stops acknowledging: a command failed, or one is still pending LATE_MS after it came.
function renderCommandAlarm() {
  const stuck = [...commands.values()].filter((c) => c.status === "failed" || isLate(c)).sort((a, b) => b.seq - a.seq);
  const alarm = $("pbx-alarm");
  alarm.classList.toggle("hidden", stuck.length === 0);
  const last = stuck.find((c) => c.last_error);
  alarm.textContent = stuck.length ? `The PBX is not acknowledging commands: ${stuck.length} pending or failed; last error: ${last ? last.last_error : "none yet"}` : "";
}

// ---- tokens ----

async function loadTokens() {
  const tokens = await allPages("/v1/tokens");
  fill($("tok-table").tBodies[0], tokens.map((t) => el("tr", { "data-id": t.id },
    el("td", {}, t.id), el("td", {}, t.scopes.join(", ")), el("td", { title: t.created_at }, age(t.created_at)),
    el("td", {}, t.expires_at ? age(t.expires_at) : "never"), el("td", {}, t.last_used_at ? age(t.last_used_at) : "never"),
    el("td", {}, el("button", { type: "button", class: "danger", onclick: async () => {
      if (confirm(`Revoke token ${t.id}?`)) { await api("DELETE", `/v1/tokens/${t.id}`); await loadTokens(); }
    } }, "Revoke")))));
}

$("token-forms").append(form("Mint a token", [{ name: "scopes", label: "Scopes (admin, operator, station:<n>)", size: 24 }, { name: "expires_in_s", label: "Expires in (s, empty: never)", size: 10 }], "Mint", async (v) => {
  const body = { scopes: list(v.scopes) };
  if (v.expires_in_s) body.expires_in_s = /^\d+$/.test(v.expires_in_s) ? Number(v.expires_in_s) : v.expires_in_s;
  const t = await api("POST", "/v1/tokens", body);
  const code = el("code", { id: "minted-token" }, t.token);
  fill($("token-minted"), el("span", {}, "New token (shown once):"), code,
    el("button", { type: "button", onclick: (ev) => navigator.clipboard.writeText(t.token).then(() => { ev.target.textContent = "Copied"; }, () => { ev.target.textContent = "Copy failed: select it"; }) }, "Copy"),
    el("button", { type: "button", class: "secondary", onclick: () => $("token-minted").classList.add("hidden") }, "Done"));
  $("token-minted").classList.remove("hidden");
  await loadTokens();
}));

start();
