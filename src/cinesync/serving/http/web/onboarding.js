// Onboarding for a new profile: pick genres (GET /v1/genres), then rate well-known titles from
// GET /v1/onboarding?genres=…; each rating goes through actions.rate, which refreshes the picks.

import { itemsOf, qs } from "./api.js";
import { miniCard } from "./cards.js";
import * as P from "./profiles.js";
import { emptyState, h, skeletons, toastError } from "./ui.js";

const $ = (id) => document.getElementById(id);

export function initOnboarding({ state, actions, api, onDone }) {
  let genres = null; // cached list of all genres
  const chosen = new Set();

  async function loadGenres() {
    if (genres) return genres;
    const data = await api("/v1/genres");
    genres = (Array.isArray(data) ? data : data?.genres || itemsOf(data)).map(String)
      .filter((g) => g && g !== "(no genres listed)");
    return genres;
  }

  function renderGenres() {
    const box = $("onb-genres");
    box.replaceChildren(...genres.map((g) => {
      const b = h("button", { type: "button", class: "chip toggle", "data-testid": "genre-chip", "data-genre": g,
        "aria-pressed": String(chosen.has(g)) }, g);
      b.addEventListener("click", () => {
        if (chosen.has(g)) chosen.delete(g); else chosen.add(g);
        b.setAttribute("aria-pressed", String(chosen.has(g)));
      });
      return b;
    }));
  }

  async function showTitles() {
    $("onb-step-genres").hidden = true;
    $("onb-step-rate").hidden = false;
    const row = $("onb-items");
    row.replaceChildren(...skeletons(6, "mini skeleton"));
    try {
      const data = await api(`/v1/onboarding${qs({ genres: [...chosen], k: 12, domain: state.domain })}`);
      const items = itemsOf(data);
      row.replaceChildren(...(items.length ? items.map((it) => miniCard(it, actions, "onboarding-card"))
        : [emptyState("No suggestions for these genres.", "Search for titles you know instead.")]));
    } catch (err) {
      row.replaceChildren();
      toastError(err);
    }
  }

  async function show() {
    chosen.clear();
    $("onboarding").hidden = false;
    $("onb-step-genres").hidden = false;
    $("onb-step-rate").hidden = true;
    try {
      await loadGenres();
      renderGenres();
    } catch (err) {
      toastError(err);
    }
  }

  function hide() {
    $("onboarding").hidden = true;
  }

  $("onb-next").addEventListener("click", showTitles);
  $("onb-skip").addEventListener("click", () => {
    if (state.profile) P.setOnboarded(state.profile.user_id);
    hide();
    onDone();
  });

  return { show, hide };
}
