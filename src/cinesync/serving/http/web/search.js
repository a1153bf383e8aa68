// Search as you type: GET /v1/items/search?q=… (debounced, the previous request aborted), each hit
// with its genres (fetched from /v1/items/{id} when the hit lacks them) and a star rating control.

import { api, itemsOf, qs } from "./api.js";
import { searchRow } from "./cards.js";
import { $, remember, state } from "./state.js";
import { debounce, emptyState, h, toastError } from "./ui.js";

const DEBOUNCE_MS = 250;
const K = 8;

export function initSearch(actions) {
  const input = $("search-input");
  const panel = $("search-results");
  const details = new Map(); // item_id -> Promise<item | null>
  let inflight = null;

  const itemDetails = (id) => {
    if (!details.has(id)) details.set(id, api(`/v1/items/${encodeURIComponent(id)}`).catch(() => null));
    return details.get(id);
  };

  function hide() {
    panel.hidden = true;
    panel.replaceChildren();
    panel.dataset.state = "idle";
    panel.dataset.query = "";
  }

  async function run() {
    const q = input.value.trim();
    inflight?.abort();
    if (q.length < 2) { hide(); return; }
    inflight = new AbortController();
    $("search-spinner").hidden = false;
    panel.dataset.state = "loading";
    try {
      const hits = itemsOf(await api(`/v1/items/search${qs({ q, k: K, domain: state.domain })}`, { signal: inflight.signal }));
      remember(hits);
      const head = h("div", { class: "search-head" },
        h("span", { class: "muted small" }, hits.length ? `Rate what you have seen · ${hits.length} match${hits.length > 1 ? "es" : ""}` : ""),
        h("button", { type: "button", class: "link", onclick: clear }, "Close"));
      const list = h("ul", { class: "search-list", "aria-label": `Titles matching ${q}` });
      for (const hit of hits) {
        const row = searchRow(hit, actions);
        list.append(row);
        if (!hit.genres) {
          itemDetails(hit.item_id).then((d) => {
            if (d) { row.fillGenres(d.genres); remember([d]); }
          });
        }
      }
      panel.replaceChildren(head, hits.length ? list : emptyState(`No titles match “${q}”.`, "Check the spelling or try fewer words."));
      panel.hidden = false;
      panel.dataset.query = q;
      panel.dataset.state = "ready";
    } catch (err) {
      if (err.name !== "AbortError") { toastError(err); panel.dataset.state = "error"; }
    } finally {
      $("search-spinner").hidden = true;
    }
  }

  function clear() {
    input.value = "";
    run();
    input.focus();
  }

  input.addEventListener("input", debounce(run, DEBOUNCE_MS));
  input.addEventListener("keydown", (e) => { if (e.key === "Escape") clear(); });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") clear(); });

  return { run, clear, active: () => Boolean(input.value.trim()) };
}
