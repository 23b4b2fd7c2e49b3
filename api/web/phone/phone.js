// The phone app (/phone/): what a softkey app on a phone's browser shows for a station token.
// The Call Me Back softkey when the station presents it, the station's callbacks one at a time
// with Previous / Next, Cancel and Call Again, Cancel All; live from /v1/stream.
import { api, token, setToken, onSignedOut, signOut, el, fill, age, ApiError } from "../common/api.js";
import { follow } from "../common/stream.js";

const $ = (id) => document.getElementById(id);
const NUMBER_KEY = "callbackd.station";
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
  if (p.code === "callbacks_not_allowed") $("cos-forbids").classList.remove("hidden");
}

async function loadStation() {
  const st = await api("GET", `/v1/stations/${encodeURIComponent(number)}`);
  showSoftkey(st.softkey);
}

function showSoftkey(softkey) {
  const on = softkey && softkey.presented;
  $("softkey").classList.toggle("hidden", !on);
  $("softkey-none").classList.toggle("hidden", on);
  $("softkey-target").textContent = on && softkey.target ? `Calls back ${softkey.target}` : "";
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
  number = sessionStorage.getItem(NUMBER_KEY);
  if (!token() || !number) return showSignin();
  try {
    await loadStation();
    await loadPage(null);
  } catch (e) {
    return showSignin(e instanceof ApiError && e.status !== 401 ? e.message : "Sign in again.");
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
  if (type === "station" && data.number === number) showSoftkey(data.softkey);
  else if (type === "callback" || type === "reset") {
    if (type === "reset") loadStation().catch(() => {});
    reload();
  }
}

$("signin").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(NUMBER_KEY, $("signin-number").value.trim());
  setToken($("signin-token").value.trim());
  $("signin-token").value = "";
  start();
});
$("signout").addEventListener("click", () => signOut());
onSignedOut(() => showSignin("Your token was refused: sign in again."));

$("softkey").addEventListener("click", async () => {
  showError("softkey-error", null);
  $("cos-forbids").classList.add("hidden");
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
