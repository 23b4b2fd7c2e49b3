// Follows GET /v1/stream with fetch (the token in the Authorization header, never in a URL):
// each message to onMessage(type, data); reconnects after a drop with the last id it saw, so
// nothing is missed, and tells onStatus(true/false) when it is connected or not. An
// `event: reset` (the id is too old) is passed on: the page reloads what it shows.
import { token, signOut } from "./api.js";

export function follow(onMessage, onStatus, types) {
  let lastId = null;
  let stopped = false;
  let controller = null;

  async function once() {
    controller = new AbortController();
    const headers = { Authorization: `Bearer ${token()}` };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const res = await fetch(`/v1/stream${types ? `?types=${types}` : ""}`, { headers, signal: controller.signal });
    if (res.status === 401) {
      stopped = true;
      signOut();
      return;
    }
    if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
    onStatus(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let id = null, event = "message", data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data.length) {
            if (id !== null) lastId = id;
            let parsed = null;
            try {
              parsed = JSON.parse(data.join("\n"));
            } catch {
              parsed = data.join("\n");
            }
            onMessage(event, parsed);
          }
          id = null;
          event = "message";
          data = [];
        } else if (line.startsWith(":")) {
          continue;
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") id = val;
          else if (field === "event") event = val;
          else if (field === "data") data.push(val);
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch {
        // dropped or refused: said on the page, tried again below
      }
      if (stopped) break;
      onStatus(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
