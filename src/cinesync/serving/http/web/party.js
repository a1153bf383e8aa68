// Watch party: pick 2+ profiles of this browser and a strategy; POST /v1/groups/recommendations
// with their tokens and show each pick with every member's predicted satisfaction.

import { api, itemsOf } from "./api.js";
import { partyCard } from "./cards.js";
import * as P from "./profiles.js";
import { avatar, emptyState, h, skeletons, toastError } from "./ui.js";

const $ = (id) => document.getElementById(id);

export function initParty({ state, contextParams }) {
  const picked = new Set();

  function renderMembers() {
    const profiles = P.listProfiles();
    for (const id of [...picked]) if (!profiles.some((p) => p.user_id === id)) picked.delete(id);
    if (!picked.size) for (const p of profiles.slice(-4)) picked.add(p.user_id);
    const box = $("party-members");
    if (profiles.length < 2) {
      box.replaceChildren(h("p", { class: "muted", "data-testid": "party-need-profiles" },
        profiles.length ? "A party needs at least two people: sign up a second profile (top right) — one per person."
          : "Create a profile for each person watching (Sign up, top right)."));
    } else {
      box.replaceChildren(...profiles.map((p) => {
        const input = h("input", { type: "checkbox", value: p.user_id, "data-testid": "party-member",
          checked: picked.has(p.user_id) });
        input.addEventListener("change", () => { if (input.checked) picked.add(p.user_id); else picked.delete(p.user_id); });
        return h("label", { class: "member" }, input, avatar(p.display_name, p.user_id),
          h("span", {}, p.display_name || p.user_id));
      }));
    }
    $("party-go").disabled = profiles.length < 2;
  }

  function summary(members) {
    return members.map((m) => {
      const pct = Math.round(Math.max(0, Math.min(1, Number(m.mean_satisfaction) || 0)) * 100);
      return h("div", { class: "member-score", "data-testid": "party-member-score" },
        avatar(m.display_name, m.user_id),
        h("span", { class: "member-name" }, m.display_name || m.user_id),
        h("span", { class: "muted small" }, `${pct}% happy on average`));
    });
  }

  async function run(ev) {
    ev?.preventDefault();
    const profiles = P.listProfiles().filter((p) => picked.has(p.user_id));
    if (profiles.length < 2) {
      toastError(new Error("Pick at least two people for a watch party."));
      return;
    }
    const strategy = $("party-form").strategy.value;
    const ctx = Object.fromEntries(Object.entries(contextParams()).filter(([, v]) => v !== null && v !== ""));
    const body = { member_tokens: profiles.map((p) => p.token), strategy, k: 8, domain: state.domain,
      diversity: state.context.diversity, context: ctx };
    const box = $("party-results");
    box.dataset.state = "loading";
    box.setAttribute("aria-busy", "true");
    box.replaceChildren(...skeletons(4));
    $("party-go").disabled = true;
    try {
      const data = await api("/v1/groups/recommendations", { method: "POST", body });
      const local = new Map(profiles.map((p) => [p.user_id, p]));
      const members = (data.members?.length ? data.members : profiles.map((p) => ({ user_id: p.user_id })))
        .map((m) => ({ ...m, display_name: m.display_name || local.get(m.user_id)?.display_name || m.user_id }));
      const items = itemsOf(data);
      $("party-summary").replaceChildren(...summary(members));
      box.replaceChildren(...(items.length ? items.map((it, i) => partyCard(it, members, data.satisfaction || {}, i))
        : [emptyState("No shared picks found.", "Try All titles or another strategy.")]));
      box.dataset.state = "ready";
    } catch (err) {
      box.replaceChildren(emptyState("Could not plan the party.", err.message));
      box.dataset.state = "error";
      toastError(err);
    } finally {
      box.removeAttribute("aria-busy");
      $("party-go").disabled = false;
    }
  }

  $("party-form").addEventListener("submit", run);
  $("party-form").addEventListener("change", (e) => {
    if (e.target.name === "strategy" && $("party-results").dataset.state === "ready") run();
  });

  return {
    show: renderMembers,
    domainChanged() {
      if (!$("view-party").hidden && $("party-results").dataset.state === "ready") run();
    },
  };
}
