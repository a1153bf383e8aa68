// Item views: recommendation cards, compact cards for strips / onboarding, search rows, party picks.
// Cards get an `actions` object from app.js: {rating(id), rate(item, n), notInterested(item, el),
// toggleWatchlist(item, btn), inWatchlist(id), signedIn()}.

import { displayTitle, domainBadge, genreChips, h, poster, runtimeText, stars, yearText } from "./ui.js";

function meta(item) {
  const bits = [yearText(item.year), runtimeText(item.runtime)].filter(Boolean);
  return h("p", { class: "meta" }, bits.join(" · "));
}

function watchlistButton(item, actions) {
  const on = actions.inWatchlist(item.item_id);
  const btn = h("button", {
    type: "button", class: `btn small ${on ? "ghost on" : "ghost"}`, "data-testid": "add-watchlist",
    "data-watchlist-item": item.item_id, "aria-pressed": String(on),
    onclick: () => actions.toggleWatchlist(item, btn),
  }, on ? "✓ Watchlist" : "+ Watchlist");
  return btn;
}

function overview(text) {
  if (!text) return null;
  const p = h("p", { class: "overview clamped", "data-testid": "overview" }, text);
  const more = h("button", { type: "button", class: "link more", "aria-expanded": "false" }, "More");
  more.addEventListener("click", () => {
    const open = p.classList.toggle("clamped") === false;
    more.textContent = open ? "Less" : "More";
    more.setAttribute("aria-expanded", String(open));
  });
  const wrap = h("div", { class: "overview-wrap" }, p, more);
  // only offer "More" when the text is actually cut off
  requestAnimationFrame(() => { if (p.scrollHeight <= p.clientHeight + 2) more.hidden = true; });
  return wrap;
}

/** The main recommendation card. */
export function recCard(item, actions) {
  const title = displayTitle(item.title);
  const reasons = item.context_reasons || [];
  const card = h("article", { class: "card rec", "data-testid": "rec-card", "data-item-id": item.item_id,
    "data-domain": item.domain, "data-runtime": item.runtime ?? "", "aria-label": title },
  h("div", { class: "card-head" },
    poster(item),
    h("div", { class: "card-title-block" },
      h("div", { class: "card-badges" }, domainBadge(item.domain),
        h("span", { class: "score", title: "Model score (higher = stronger match)", "data-testid": "score" },
          `score ${Number(item.score).toFixed(2)}`)),
      h("h3", { class: "card-title", "data-testid": "card-title" }, title),
      meta(item))),
  genreChips(item.genres),
  item.explanation ? h("p", { class: "explanation", "data-testid": "explanation" },
    h("span", { class: "why", "aria-hidden": "true" }, "✦"), item.explanation) : null,
  overview(item.overview),
  reasons.length ? h("p", { class: "card-reasons", "data-testid": "card-reasons" }, reasons.join(" · ")) : null,
  h("div", { class: "card-actions" },
    stars(item.item_id, item.title, actions.rating(item.item_id), (n) => actions.rate(item, n)),
    h("div", { class: "card-buttons" },
      watchlistButton(item, actions),
      h("button", { type: "button", class: "btn small ghost danger", "data-testid": "not-interested",
        onclick: () => actions.notInterested(item, card) }, "Not interested"))));
  return card;
}

/** Compact card for the trending / hidden-gems strips and onboarding. */
export function miniCard(item, actions, testid = "strip-card") {
  return h("article", { class: "mini", "data-testid": testid, "data-item-id": item.item_id, "aria-label": displayTitle(item.title) },
    poster(item, "wide"),
    h("div", { class: "mini-body" },
      h("div", { class: "card-badges" }, domainBadge(item.domain),
        h("span", { class: "muted small" }, yearText(item.year))),
      h("h3", { class: "mini-title", title: displayTitle(item.title) }, displayTitle(item.title)),
      genreChips(item.genres, 2),
      actions.signedIn() ? stars(item.item_id, item.title, actions.rating(item.item_id), (n) => actions.rate(item, n))
        : null));
}

/** One search hit: title, year, badge, genres (filled in later when the hit lacks them), stars. */
export function searchRow(hit, actions) {
  const genres = h("div", { class: "genres-slot" }, genreChips(hit.genres, 3));
  const row = h("li", { class: "search-row", "data-testid": "search-result", "data-item-id": hit.item_id },
    poster(hit, "tiny"),
    h("div", { class: "search-main" },
      h("div", { class: "search-title" }, h("strong", {}, displayTitle(hit.title)), " ",
        h("span", { class: "muted" }, yearText(hit.year)), " ", domainBadge(hit.domain)),
      genres),
    stars(hit.item_id, hit.title, actions.rating(hit.item_id), (n) => actions.rate(hit, n)));
  row.fillGenres = (g) => genres.replaceChildren(genreChips(g, 3) || "");
  return row;
}

/** A watch-party pick with one satisfaction bar per member. members: [{user_id, display_name}]. */
export function partyCard(item, members, satisfaction, index) {
  const bars = h("ul", { class: "sat-bars", "aria-label": "Predicted satisfaction" });
  for (const m of members) {
    const v = Math.max(0, Math.min(1, Number((satisfaction[m.user_id] || [])[index] ?? 0)));
    const pct = Math.round(v * 100);
    bars.append(h("li", { class: "sat", "data-testid": "sat-bar", "data-user-id": m.user_id },
      h("span", { class: "sat-name" }, m.display_name || m.user_id),
      h("span", { class: "sat-track", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(pct), "aria-label": `${m.display_name || m.user_id}: ${pct}%` },
      h("span", { class: `sat-fill ${pct >= 70 ? "hi" : pct >= 40 ? "mid" : "lo"}`, style: { width: `${pct}%` } })),
      h("span", { class: "sat-pct" }, `${pct}%`)));
  }
  return h("article", { class: "card party", "data-testid": "party-card", "data-item-id": item.item_id },
    h("div", { class: "card-head" },
      poster(item),
      h("div", { class: "card-title-block" },
        h("div", { class: "card-badges" }, domainBadge(item.domain), h("span", { class: "rank" }, `#${index + 1}`)),
        h("h3", { class: "card-title" }, displayTitle(item.title)),
        meta(item))),
    genreChips(item.genres),
    bars);
}
