// What both pages share: the token (this tab's session storage, never a URL), calls to the
// API with it, and building the page from API values as text only (never HTML).

const TOKEN_KEY = "callbackd.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// A refused call: the HTTP status and the problem+json body (code, detail, errors).
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// Listeners told when the token is refused (401): the page goes back to its sign-in.
const signedOut = new Set();
export function onSignedOut(fn) {
  signedOut.add(fn);
}
export function signOut() {
  setToken(null);
  for (const fn of signedOut) fn();
}

// A page's sign-in form (#signin, its field #signin-token) and sign-out button (#signout): the
// token goes to this tab's session storage, then `start()`; a token refused later brings the
// page back to its sign-in (`showSignin(message)`).
export function wireSignIn(start, showSignin) {
  const field = document.getElementById("signin-token");
  document.getElementById("signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken(field.value.trim());
    field.value = "";
    start();
  });
  document.getElementById("signout").addEventListener("click", () => signOut());
  onSignedOut(() => showSignin("Your token was refused: sign in again."));
}

// Calls the API; resolves to the parsed JSON (null for an empty answer), rejects with ApiError.
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.status === 401) signOut();
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// el("td", {class: "x", onclick: f}, "text", child...): an element whose strings are text nodes.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "value" || k === "checked") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Replaces the children of `node`.
export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
}

// "3 min" for the time since an ISO timestamp (negative: until it).
export function age(iso, now = Date.now()) {
  if (!iso) return "";
  let s = Math.round((now - Date.parse(iso)) / 1000);
  const sign = s < 0 ? "in " : "";
  s = Math.abs(s);
  const t = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
  return sign + t;
}
