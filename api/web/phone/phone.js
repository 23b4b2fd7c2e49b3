// The phone app (/phone/): what a softkey app on a phone's browser shows for a station token.
// The Call Me Back softkey when the station presents it, or a line saying that its class of
// service allows no callback; the station's callbacks one at a time with Previous / Next,
// Cancel and Call Again, Cancel All; live from /v1/stream. The token alone signs in: its
// station comes from GET /v1/whoami (a token of several stations picks one in the header).
import { api, token, setToken, wireSignIn, el, fill, age, ApiError } from "../common/api.js";
import { follow } from "../common/stream.js";

const $ = (id) => document.getElementById(id);
const NUMBER_KEY = "callbackd.station"; // the station picked, for a token of several
let number = null;
let stop = null;
let page = { items: [], next_cursor: null, prev_cursor: null };
let cursor = null; // the cursor of the page shown (null: the first)
let index = 0; // the callback shown, in page.items

function showSignin(message) {
  if (stop) stop();
  stop = null;
  $("phone").classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("signin-error").textContent = message || "";
}

function showError(where, e) {
  const p = e instanceof ApiError ? e.problem : {};
  $(where).textContent = e ? (p.detail || e.message) : "";
  if (p.code === "callbacks_not_allowed") showStation({ callbacks_allowed: false });
}

async function loadStation() {
  showStation(await api("GET", `/v1/stations/${encodeURIComponent(number)}`));
}

// The softkey area from the station (GET or its stream event): while the class of service
// forbids callbacks, one clear line instead of the softkey and what it would call back.
function showStation(st) {
  const forbidden = st.callbacks_allowed === false;
  const on = !forbidden && st.softkey && st.softkey.presented;
  $("cos-forbids").classList.toggle("hidden", !forbidden);
  $("softkey").classList.toggle("hidden", !on);
  $("softkey-none").classList.toggle("hidden", on || forbidden);
  $("softkey-target").textContent = on && st.softkey.target ? `Calls back ${st.softkey.target}` : "";
  if (forbidden) $("softkey-error").textContent = "";
}

// The station of the token (GET /v1/whoami); the one picked before when it has several.
async function whichStation() {
  const me = await api("GET", "/v1/whoami");
  if (me.stations.length === 0) return null;
  const kept = sessionStorage.getItem(NUMBER_KEY);
  const pick = $("station-pick");
  fill(pick, me.stations.map((n) => el("option", { value: n }, `Station ${n}`)));
  pick.classList.toggle("hidden", me.stations.length < 2);
  $("station-title").classList.toggle("hidden", me.stations.length > 1);
  const n = me.stations.includes(kept) ? kept : me.stations[0];
  pick.value = n;
  return n;
}

async function loadPage(c) {
  const q = c ? `&cursor=${encodeURIComponent(c)}` : "";
  page = await api("GET", `/v1/stations/${encodeURIComponent(number)}/callbacks?limit=20${q}`);
  cursor = c;
  if (index >= page.items.length) index = Math.max(0, page.items.length - 1);
  render();
}

function render() {
  const cb = page.items[index];
  const card = $("card");
  if (!cb) {
    fill(card, el("p", { class: "muted" }, "No callbacks set."));
    $("position").textContent = "";
  } else {
    const target = cb.external_number ? `${cb.target} (${cb.external_number})` : cb.target;
    fill(card,
      el("div", { class: "who" }, target),
      el("div", {}, el("span", { class: `state ${cb.state}` }, cb.state), " · ", cb.reason || ""),
      el("div", { class: "muted" }, `set ${age(cb.created_at)} ago`, cb.expires_at ? ` · ends ${age(cb.expires_at)}` : ""));
    $("position").textContent = `(${index + 1} of ${page.items.length}${page.next_cursor ? "+" : ""})`;
  }
  $("prev").disabled = index === 0 && !page.prev_cursor;
  $("next").disabled = index >= page.items.length - 1 && !page.next_cursor;
  $("cancel").disabled = $("again").disabled = !cb;
  $("cancel-all").disabled = page.items.length === 0;
}

async function act(fn) {
  showError("list-error", null);
  try {
    await fn();
  } catch (e) {
    showError("list-error", e);
  }
}

async function start() {
  if (stop) stop();
  stop = null;
  if (!token()) return showSignin();
  try {
    number = await whichStation();
    if (!number) {
      setToken(null);
      return showSignin("This is not a station token: the phone app needs one with the scope station:<number>.");
    }
    await loadStation();
    await loadPage(null);
  } catch (e) {
    // A 401 has already shown the sign-in, saying the token was refused.
    return e instanceof ApiError && e.status === 401 ? undefined : showSignin(e.message);
  }
  $("signin").classList.add("hidden");
  $("phone").classList.remove("hidden");
  $("station-title").textContent = `Station ${number}`;
  stop = follow(onChange, (up) => $("offline").classList.toggle("hidden", up), "callback,station");
}

let reloading = null;
function reload() {
  // Several changes at once are one reload of the page shown.
  if (!reloading) reloading = Promise.resolve().then(() => { reloading = null; return loadPage(cursor); }).catch(() => {});
}

function onChange(type, data) {
  if (type === "station" && data.number === number) showStation(data);
  else if (type === "callback" || type === "reset") {
    if (type === "reset") loadStation().catch(() => {});
    reload();
  }
}

wireSignIn(start, showSignin);
$("station-pick").addEventListener("change", () => {
  sessionStorage.setItem(NUMBER_KEY, $("station-pick").value);
  index = 0;
  start();
});

$("softkey").addEventListener("click", async () => {
  showError("softkey-error", null);
  try {
    await api("POST", `/v1/stations/${encodeURIComponent(number)}/callbacks`, {});
    await loadStation();
    index = page.items.length; // the new one is the newest: shown once loaded
    await loadPage(cursor);
  } catch (e) {
    showError("softkey-error", e);
  }
});
$("next").addEventListener("click", () => act(async () => {
  if (index < page.items.length - 1) { index++; render(); }
  else if (page.next_cursor) { index = 0; await loadPage(page.next_cursor); }
}));
$("prev").addEventListener("click", () => act(async () => {
  if (index > 0) { index--; render(); }
  else if (page.prev_cursor) { index = Infinity; await loadPage(page.prev_cursor); index = page.items.length - 1; render(); }
}));
$("cancel").addEventListener("click", () => act(async () => {
  const cb = page.items[index];
  if (cb && confirm(`Cancel the callback to ${cb.target}?`)) {
    await api("DELETE", `/v1/callbacks/${cb.id}`);
    await loadPage(cursor);
  }
}));
$("again").addEventListener("click", () => act(async () => {
  const cb = page.items[index];
  if (cb) await api("POST", `/v1/callbacks/${cb.id}/call-again`, {});
}));
$("cancel-all").addEventListener("click", () => act(async () => {
  if (confirm("Cancel all your callbacks?")) {
    await api("DELETE", `/v1/stations/${encodeURIComponent(number)}/callbacks`);
    index = 0;
    await loadPage(null);
  }
}));

start();
