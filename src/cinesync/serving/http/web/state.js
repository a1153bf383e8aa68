// The page's shared state: the active profile, its ratings and watchlist, the domain and context
// controls, and a title cache so ratings / watchlist rows can be named.

export const state = {
  domain: "all",
  context: { mood: "", company: "", time_budget: "", device: "", diversity: 0.2 },
  profile: null, // {user_id, token, display_name}
  ratings: new Map(), // item_id -> rating of the active profile
  watchlist: new Map(), // item_id -> item
  titles: new Map(), // item_id -> item (anything seen on the page)
  rendered: 0, // recommendation renders so far (exposed as #recs[data-seq])
};

export const $ = (id) => document.getElementById(id);

/** `/v1/users/{active user}{suffix}`. */
export function userPath(suffix = "") {
  return `/v1/users/${encodeURIComponent(state.profile.user_id)}${suffix}`;
}

/** Keep items' titles/years so later lists that only carry ids can show names. */
export function remember(items) {
  for (const it of items) if (it && it.item_id && it.title) state.titles.set(it.item_id, it);
}

/** Context fields (only the ones set) + the browser's local hour and weekday (the server's clock
 * may sit in another time zone). */
export function contextParams() {
  const c = state.context;
  const now = new Date();
  return {
    mood: c.mood || null, company: c.company || null, device: c.device || null,
    time_budget: c.time_budget ? Number(c.time_budget) : null,
    hour: now.getHours(), weekday: (now.getDay() + 6) % 7,
  };
}
