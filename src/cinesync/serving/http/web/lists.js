// The side panels of the active profile: its ratings (GET /v1/users/{id}/ratings) and watchlist
// (GET/POST/DELETE /v1/users/{id}/watchlist), kept in sync with every "+ Watchlist" button.

import { api, itemsOf } from "./api.js";
import { $, remember, state, userPath } from "./state.js";
import { displayTitle, h, poster, starText, syncStars, toast, toastError, yearText } from "./ui.js";

const SHOWN = 8;

function row(item, testid, ...tail) {
  return h("li", { "data-item-id": item.item_id, "data-testid": testid }, poster(item, "tiny"),
    h("span", { class: "mini-list-title", title: displayTitle(item.title || item.item_id) },
      displayTitle(item.title || item.item_id), " ", h("span", { class: "muted" }, yearText(item.year))),
    ...tail);
}

export async function loadRatings() {
  const who = state.profile?.user_id;
  if (!who) return;
  let rows;
  try {
    rows = itemsOf(await api(userPath("/ratings"), { token: state.profile.token }));
  } catch (err) {
    toastError(err);
    return;
  }
  if (state.profile?.user_id !== who) return;
  state.ratings.clear();
  for (const r of rows) if (r.rating !== null && r.rating !== undefined) state.ratings.set(r.item_id, Number(r.rating));
  for (const [id, v] of state.ratings) syncStars(id, v);
  remember(rows);
  rows.sort((a, b) => (Number(b.ts) || 0) - (Number(a.ts) || 0));
  $("rated-count").textContent = rows.length ? String(rows.length) : "";
  const items = rows.slice(0, SHOWN).map((r) => row({ ...state.titles.get(r.item_id), ...r }, "rated-item",
    h("span", { class: "stars-text", "aria-label": r.rating === null ? "watched" : `rated ${r.rating} of 5` },
      starText(r.rating))));
  if (!rows.length) items.push(h("li", { class: "muted placeholder" }, "No ratings yet — search a title you know and rate it."));
  if (rows.length > SHOWN) items.push(h("li", { class: "muted placeholder" }, `and ${rows.length - SHOWN} more`));
  $("rated").replaceChildren(...items);
}

export async function loadWatchlist() {
  const who = state.profile?.user_id;
  if (!who) return;
  let rows;
  try {
    rows = itemsOf(await api(userPath("/watchlist"), { token: state.profile.token }));
  } catch (err) {
    toastError(err);
    return;
  }
  if (state.profile?.user_id !== who) return;
  state.watchlist = new Map(rows.map((r) => [r.item_id, { ...state.titles.get(r.item_id), ...r }]));
  renderWatchlist();
}

export function renderWatchlist() {
  $("wl-count").textContent = state.watchlist.size ? String(state.watchlist.size) : "";
  $("watchlist").replaceChildren(...(state.watchlist.size ? [...state.watchlist.values()].map((it) =>
    row(it, "watchlist-item", h("button", { type: "button", class: "btn icon small", "data-testid": "watchlist-remove",
      "aria-label": `Remove ${displayTitle(it.title)} from watchlist`, onclick: () => toggleWatchlist(it) }, "✕")))
    : [h("li", { class: "muted placeholder" }, "Nothing saved yet — use “+ Watchlist” on a card.")]));
  for (const b of document.querySelectorAll("[data-watchlist-item]")) {
    const on = state.watchlist.has(b.dataset.watchlistItem);
    b.textContent = on ? "✓ Watchlist" : "+ Watchlist";
    b.setAttribute("aria-pressed", String(on));
    b.classList.toggle("on", on);
  }
}

export async function toggleWatchlist(item) {
  if (!state.profile) return;
  const on = state.watchlist.has(item.item_id);
  try {
    if (on) {
      await api(userPath(`/watchlist/${encodeURIComponent(item.item_id)}`), { method: "DELETE", token: state.profile.token });
      state.watchlist.delete(item.item_id);
      toast(`Removed ${displayTitle(item.title)} from your watchlist`);
    } else {
      await api(userPath("/watchlist"), { method: "POST", token: state.profile.token, body: { item_id: item.item_id } });
      state.watchlist.set(item.item_id, item);
      toast(`Added ${displayTitle(item.title)} to your watchlist`);
    }
    renderWatchlist();
  } catch (err) {
    toastError(err);
  }
}
