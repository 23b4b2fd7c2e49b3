// The admin console and the phone app in Debian's chromium, headless, as a user clicks them,
// against the real callbackd, its PostgreSQL and a fake PBX that test_pages.py started.
// Environment: BASE (callbackd's URL), ADMIN (its admin token), SECRET (the PBX secret), OTHER
// (a page on another origin, allowed by CALLBACKD_CORS_ORIGINS), STRANGER (the same page on an
// origin that is not), SHOTS (where the screenshots go). Exits non-zero at the first failure.
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const { BASE, ADMIN, SECRET, OTHER, STRANGER, SHOTS } = process.env;
const WAIT = 10000;
let seq = 0;

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function call(method, path, body, token = ADMIN) {
  const init = { method, headers: { Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(BASE + path, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

// PBX events, signed as the PBX signs them.
async function pbx(...events) {
  const body = JSON.stringify({ events: events.map((e) => ({ id: `browser-${process.pid}-${++seq}`, ...e })) });
  const ts = String(Math.floor(Date.now() / 1000));
  const mac = createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex");
  const res = await fetch(`${BASE}/v1/pbx/events`, { method: "POST", body, headers: { "Content-Type": "application/json", "X-Callbackd-Timestamp": ts, "X-Callbackd-Signature": `v1=${mac}` } });
  if (res.status !== 202) throw new Error(`PBX events refused: ${res.status} ${await res.text()}`);
}

// Waits until the API shows what `pred` wants (the PBX's events are applied after their 202).
async function until(path, pred, what) {
  const end = Date.now() + WAIT;
  while (!pred((await call("GET", path)).json)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Clicks what `sel` finds at that instant (the tables are redrawn as changes come, so a handle
// found a moment before may be gone).
const press = (page, sel) => page.waitForSelector(sel, { timeout: WAIT }).then(() => page.$eval(sel, (n) => n.click()));
// Asks test_pages.py to do what only it can (restart callbackd): a line out, its answer in.
const answers = createInterface({ input: process.stdin });
const pending = [];
answers.on("line", (l) => pending.shift()?.(l));
function ask(what) {
  return new Promise((resolve) => {
    pending.push(resolve);
    process.stdout.write(`ASK ${what}\n`);
  });
}

const text = (page, sel) => page.$eval(sel, (n) => n.textContent);
const visible = (page, sel) => page.waitForSelector(sel, { visible: true, timeout: WAIT });
async function waitText(page, sel, want, what) {
  await page.waitForFunction((s, w) => { const n = document.querySelector(s); return n && n.textContent.includes(w); }, { timeout: WAIT }, sel, want);
  check(true, what);
}
async function fillForm(page, form, values) {
  await page.waitForSelector(`form[data-form="${form}"]`, { timeout: WAIT });
  for (const [name, value] of Object.entries(values)) {
    const sel = `form[data-form="${form}"] [name="${name}"]`;
    if (typeof value === "boolean") {
      if ((await page.$eval(sel, (n) => n.checked)) !== value) await page.click(sel);
    } else if ((await page.$eval(sel, (n) => n.tagName)) === "SELECT") await page.select(sel, value);
    else {
      await page.$eval(sel, (n) => { n.value = ""; });
      await page.type(sel, value);
    }
  }
  await page.click(`form[data-form="${form}"] button[type=submit]`);
}

mkdirSync(SHOTS, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "callbackd-chromium-"));
const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  userDataDir: profile,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const cspViolations = [];
  const admin = await browser.newPage();
  await admin.setViewport({ width: 1280, height: 900 });
  admin.on("dialog", (d) => d.accept());
  admin.on("console", (m) => { if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text()); });

  // Sign in: the token is typed into the form, kept in session storage, never in the URL.
  const res = await admin.goto(`${BASE}/admin/`);
  check(res.headers()["content-security-policy"].includes("script-src 'self'"), "the console is served with a strict CSP");
  await visible(admin, "#signin");
  await admin.type("#signin-token", "not-a-token-0123456789");
  await admin.click("#signin button[type=submit]");
  await waitText(admin, "#signin-error", "refused", "a wrong token is refused at the sign-in");
  await admin.type("#signin-token", ADMIN);
  await admin.click("#signin button[type=submit]");
  await visible(admin, "#console");
  check(!admin.url().includes(ADMIN) && (await admin.evaluate(() => sessionStorage.getItem("callbackd.token"))) === ADMIN, "signed in; the token is in session storage, not in the URL");

  // Provisioning through the forms, a validation error shown beside its field.
  await admin.click('#tabs button[data-tab="provisioning"]');
  await fillForm(admin, "Class of service", { id: "staff", callbacks_allowed: true });
  await waitText(admin, "#prov-lists", "staff", "a class of service added through its form");
  await admin.click('#tabs button[data-tab="stations"]');
  for (const n of ["2001", "2002", "2003"]) {
    await fillForm(admin, "Station", { number: n, kind: "ip_phone", cos: "staff", prime_line: "", console_group: "" });
    await visible(admin, `#st-table tr[data-number="${n}"]`);
  }
  check(true, "stations 2001, 2002, 2003 added through the station form");
  await fillForm(admin, "Station", { number: "2004", kind: "ip_phone", cos: "staff", prime_line: "not a number" });
  await admin.waitForFunction(() => document.querySelector('form[data-form="Station"] .error[data-for="prime_line"]').textContent !== "", { timeout: WAIT });
  const fieldError = await text(admin, 'form[data-form="Station"] .error[data-for="prime_line"]');
  check(fieldError.length > 0 && (await call("GET", "/v1/stations/2004")).status === 404, `the API's validation error is shown beside prime_line ("${fieldError}")`);

  // Values from the API are text, never HTML.
  await fillForm(admin, "Station", { number: "2005", kind: "console", cos: "staff", prime_line: "", console_group: '<img src=x onerror="window.injected=1">' });
  await visible(admin, '#st-table tr[data-number="2005"]');
  await press(admin, '#st-table tr[data-number="2005"]');
  await waitText(admin, "#st-detail", '<img src=x onerror="window.injected=1">', "a console group that looks like HTML shows as text");
  check((await admin.evaluate(() => window.injected)) === undefined && (await admin.$("#st-detail img")) === null, "and it is not HTML (no element, no script ran)");
  await admin.screenshot({ path: join(SHOTS, "admin-stations.png") });

  // A callback set through the API appears without a reload; the PBX matures it live.
  await admin.evaluate(() => { window.sameDocument = true; });
  await admin.click('#tabs button[data-tab="callbacks"]');
  await pbx({ type: "station.state", station: "2002", availability: "busy" });
  await until("/v1/stations/2002", (st) => st.state.availability === "busy", "2002 busy");
  const cb = (await call("POST", "/v1/callbacks", { requester: "2001", target: "2002" })).json;
  await waitText(admin, `#cb-table tr[data-id="${cb.id}"]`, "pending", "a callback set through the API appears in the table");
  await waitText(admin, '#counts [data-state="pending"]', "pending 1", "the counts at the top follow it");
  await pbx({ type: "station.state", station: "2002", availability: "idle" });
  await waitText(admin, `#cb-table tr[data-id="${cb.id}"]`, "notifying", "a PBX event that matures it turns its row to notifying");
  check(await admin.evaluate(() => window.sameDocument === true), "without a reload of the page");
  // The stream drops (callbackd restarts): the page says so, reconnects with its last id and
  // misses nothing.
  const restarted = ask("restart");
  await visible(admin, "#offline");
  check(true, "a dropped stream is said on the page");
  await restarted;
  const missed = (await call("POST", "/v1/callbacks", { requester: "2003", target: "2002" })).json;
  await admin.waitForSelector("#offline", { hidden: true, timeout: WAIT });
  await waitText(admin, `#cb-table tr[data-id="${missed.id}"]`, "2003", "after reconnecting, a callback set meanwhile is in the table");
  check(await admin.evaluate(() => window.sameDocument === true), "still without a reload");
  await call("DELETE", `/v1/callbacks/${missed.id}`);
  await press(admin, `#cb-table tr[data-id="${cb.id}"]`);
  await waitText(admin, "#cb-detail", "History", "a row opens the callback with its history");
  await admin.screenshot({ path: join(SHOTS, "admin-callbacks.png") });
  const cancel = await admin.waitForSelector("#cb-detail button.danger:not([disabled])", { timeout: WAIT });
  await cancel.click();
  await waitText(admin, `#cb-table tr[data-id="${cb.id}"]`, "cancelled", "Cancel from the console ends it, live in the table");
  check((await call("GET", `/v1/callbacks/${cb.id}`)).json.state === "cancelled", "and the API says cancelled");

  await admin.click('#tabs button[data-tab="commands"]');
  await visible(admin, "#cmd-table tbody tr");
  check((await text(admin, "#cmd-table tbody")).includes("ring"), "the PBX commands feed shows the ring");
  await admin.screenshot({ path: join(SHOTS, "admin-commands.png") });

  // A station token minted in the console, shown once.
  await admin.click('#tabs button[data-tab="tokens"]');
  await fillForm(admin, "Mint a token", { scopes: "station:2001", expires_in_s: "" });
  await visible(admin, "#minted-token");
  const stationToken = await text(admin, "#minted-token");
  check((await call("GET", "/v1/stations/2001", undefined, stationToken)).status === 200, "a station token minted in the console works");
  await admin.screenshot({ path: join(SHOTS, "admin-tokens.png") });

  // The phone app: the softkey after a busy attempt, set with it, paged, cancelled.
  const phoneCtx = await browser.createBrowserContext();
  const phone = await phoneCtx.newPage();
  await phone.setViewport({ width: 480, height: 900 });
  phone.on("dialog", (d) => d.accept());
  await phone.goto(`${BASE}/phone/`);
  await visible(phone, "#signin");
  check((await phone.$("#signin-number")) === null, "the phone app asks for the token alone");
  await phone.type("#signin-token", ADMIN);
  await phone.click("#signin button[type=submit]");
  await waitText(phone, "#signin-error", "not a station token", "an admin token is not a phone's");
  await phone.type("#signin-token", stationToken);
  await phone.click("#signin button[type=submit]");
  await visible(phone, "#phone");
  await waitText(phone, "#station-title", "Station 2001", "the station token signs in as its station (GET /v1/whoami)");
  check(await phone.$eval("#cos-forbids", (n) => n.classList.contains("hidden")), "no forbidding line: staff allows callbacks");
  check(await phone.$eval("#softkey", (n) => n.classList.contains("hidden")), "no softkey before a failed call");
  for (const target of ["2002", "2003"]) {
    await pbx({ type: "station.state", station: target, availability: "busy" }, { type: "call.attempt", from: "2001", to: target, result: "busy" });
    await visible(phone, "#softkey");
    await waitText(phone, "#softkey-target", target, `the Call Me Back softkey shows after a busy call to ${target}, with what it calls back`);
    await phone.click("#softkey");
    await waitText(phone, "#card .who", target, `the softkey sets the callback on ${target}`);
  }
  await waitText(phone, "#position", "2 of 2", "two callbacks, the newest shown");
  await phone.screenshot({ path: join(SHOTS, "phone.png") });
  await phone.click("#prev");
  await waitText(phone, "#card .who", "2002", "Previous shows the first");
  await phone.click("#next");
  await waitText(phone, "#card .who", "2003", "Next the second");
  await phone.click("#cancel");
  await waitText(phone, "#position", "1 of 1", "Cancel ends the one shown");
  const left = (await call("GET", "/v1/stations/2001/callbacks")).json.items;
  check(left.length === 1 && left[0].target === "2002", "the API agrees: only the callback on 2002 is left");

  // Call Again while the PBX fails every command: the console says at once that it does not
  // acknowledge.
  await ask("pbx fail");
  await phone.click("#again");
  await admin.click('#tabs button[data-tab="commands"]');
  await visible(admin, "#pbx-alarm");
  await waitText(admin, "#pbx-alarm", "HTTP 500", "Call Again from the phone; the console says the PBX stops acknowledging, with its error");
  await waitText(admin, "#cmd-table tbody tr:first-child", "originate", "with the originate, its attempts and last error in the feed");
  await admin.screenshot({ path: join(SHOTS, "admin-pbx-failing.png") });
  await ask("pbx ok");
  await admin.waitForSelector("#pbx-alarm", { hidden: true, timeout: 40000 });
  check(true, "and that it acknowledges again once it does");
  await phone.click("#cancel-all");
  await waitText(phone, "#card", "No callbacks set.", "Cancel All on the phone");
  check((await call("GET", "/v1/stations/2001/callbacks")).json.items.length === 0, "the API agrees: none left");
  await admin.click('#tabs button[data-tab="tokens"]');

  // A phone whose class of service forbids callbacks: one clear line instead of the softkey,
  // following its COS and the COS's option live.
  check((await call("PUT", "/v1/classes-of-service/lobby", { callbacks_allowed: false })).status === 200, "a COS that forbids callbacks");
  check((await call("PUT", "/v1/stations/2005", { kind: "ip_phone", cos: "lobby" })).status === 200, "a station in it");
  check((await call("PUT", "/v1/stations/2006", { kind: "ip_phone", cos: "staff" })).status === 200, "and one in an allowing COS");
  const lobbyToken = (await call("POST", "/v1/tokens", { scopes: ["station:2005"] })).json.token;
  const lobbyCtx = await browser.createBrowserContext();
  const lobby = await lobbyCtx.newPage();
  await lobby.setViewport({ width: 480, height: 900 });
  await lobby.goto(`${BASE}/phone/`);
  await visible(lobby, "#signin");
  await lobby.type("#signin-token", lobbyToken);
  await lobby.click("#signin button[type=submit]");
  await visible(lobby, "#cos-forbids");
  await waitText(lobby, "#cos-forbids", "Callbacks are not allowed on this phone", "the phone of a forbidding COS says so");
  const shown = (sel) => lobby.$eval(sel, (n) => !n.classList.contains("hidden"));
  check(!(await shown("#softkey")) && !(await shown("#softkey-none")), "instead of the softkey and its line");
  await lobby.screenshot({ path: join(SHOTS, "phone-forbidden.png") });
  await call("PUT", "/v1/classes-of-service/lobby", { callbacks_allowed: true });
  await lobby.waitForSelector("#cos-forbids", { hidden: true, timeout: WAIT });
  await visible(lobby, "#softkey-none");
  check(true, "the COS turned to allow: the line goes at once (the stream)");
  await call("PUT", "/v1/classes-of-service/lobby", { callbacks_allowed: false });
  await visible(lobby, "#cos-forbids");
  check(true, "and back to forbid: it comes back");
  // A busy call from it, then (a mark that it was applied: events apply in order) DND on 2006.
  await pbx({ type: "station.state", station: "2002", availability: "busy" }, { type: "call.attempt", from: "2005", to: "2002", result: "busy" },
    { type: "station.feature", station: "2006", feature: "dnd", active: true });
  await until("/v1/stations/2006", (st) => st.state.dnd, "the busy call applied");
  check(await shown("#cos-forbids") && !(await shown("#softkey")), "a busy call gets no softkey, the line stays");
  await call("PUT", "/v1/stations/2005", { kind: "ip_phone", cos: "staff" });
  await lobby.waitForSelector("#cos-forbids", { hidden: true, timeout: WAIT });
  await visible(lobby, "#softkey");
  await waitText(lobby, "#softkey-target", "2002", "the station moved to an allowing COS: the line goes and the softkey shows, live");
  await call("PUT", "/v1/stations/2005", { kind: "ip_phone", cos: "lobby" });
  await visible(lobby, "#cos-forbids");
  // A token of two stations: the first shown, the other picked in the header.
  const twoToken = (await call("POST", "/v1/tokens", { scopes: ["station:2005", "station:2006"] })).json.token;
  await lobby.click("#signout");
  await visible(lobby, "#signin");
  await lobby.type("#signin-token", twoToken);
  await lobby.click("#signin button[type=submit]");
  await visible(lobby, "#station-pick");
  await visible(lobby, "#cos-forbids");
  check(await lobby.$eval("#station-pick", (n) => n.value) === "2005", "a token of two stations shows its first, with a choice of the other");
  await lobby.select("#station-pick", "2006");
  await lobby.waitForSelector("#cos-forbids", { hidden: true, timeout: WAIT });
  await visible(lobby, "#softkey-none");
  check(true, "the other station picked: its own COS allows, no line");
  await lobbyCtx.close();

  // A revoked token sends the page back to its sign-in.
  const tokId = (await call("GET", "/v1/tokens")).json.items.find((t) => t.scopes.includes("station:2001")).id;
  await press(admin, `#tok-table tr[data-id="${tokId}"] button`);
  await visible(phone, "#signin");
  check((await phone.evaluate(() => sessionStorage.getItem("callbackd.token"))) === null, "the token revoked in the console sends the phone app back to its sign-in");

  // A page on another origin calls the API with CORS; an origin not allowed cannot.
  const other = await browser.newPage();
  const probe = (base, token) => fetch(`${base}/v1/system-options`, { headers: { Authorization: `Bearer ${token}` } }).then(async (r) => `${r.status} ${Object.keys(await r.json()).length}`, (e) => `refused: ${e.message}`);
  await other.goto(OTHER);
  const allowed = await other.evaluate(probe, BASE, ADMIN);
  check(allowed.startsWith("200 "), `a page on ${OTHER} calls the API (${allowed})`);
  await other.goto(STRANGER);
  const refused = await other.evaluate(probe, BASE, ADMIN);
  check(refused.startsWith("refused"), `a page on ${STRANGER} cannot (${refused})`);
  check(cspViolations.length === 0, `no Content-Security-Policy violation on the console (${cspViolations.join("; ")})`);
} catch (e) {
  failed = true;
  console.error(`not ok - ${e.stack || e}`);
  const pages = (await browser.pages()).filter((p) => p.url().startsWith("http"));
  const shot = (p, i) => Promise.race([p.screenshot({ path: join(SHOTS, `failure-${i}.png`) }), new Promise((r) => setTimeout(r, 5000))]);
  for (const [i, p] of pages.entries()) await shot(p, i).catch(() => {});
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
