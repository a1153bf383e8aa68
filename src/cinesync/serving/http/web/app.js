// CineSync web page: profiles, search + rating, personal recommendations with context controls,
// watchlist, trending / hidden gems, onboarding and the watch party. Vanilla ES modules, no build.

import { api, itemsOf, qs } from "./api.js";
import { miniCard, recCard } from "./cards.js";
import { loadRatings, loadWatchlist, toggleWatchlist } from "./lists.js";
import { initOnboarding } from "./onboarding.js";
import { initParty } from "./party.js";
import * as P from "./profiles.js";
import { initSearch } from "./search.js";
import { $, contextParams, remember, state, userPath } from "./state.js";
import { displayTitle, emptyState, h, skeletons, syncStars, toast, toastError } from "./ui.js";

const N_RECS = 12;
const DOMAIN_NAME = { movie: "movies", tv: "TV titles", all: "titles" };

const actions = {
  signedIn: () => Boolean(state.profile),
  rating: (id) => state.ratings.get(id) ?? 0,
  inWatchlist: (id) => state.watchlist.has(id),
  rate,
  notInterested,
  toggleWatchlist: (item) => (state.profile ? toggleWatchlist(item) : openSignup()),
};

// ---- profile ------------------------------------------------------------------------------------
function renderProfiles() {
  const sel = $("profile-select");
  const list = P.listProfiles();
  sel.replaceChildren(...(list.length
    ? list.map((p) => h("option", { value: p.user_id }, p.display_name || p.user_id))
    : [h("option", { value: "" }, "No profile yet")]));
  sel.disabled = !list.length;
  $("profile-remove").hidden = !list.length;
  if (state.profile) sel.value = state.profile.user_id;
}

async function selectProfile(userId) {
  if (userId) P.setActive(userId);
  state.profile = P.activeProfile();
  state.ratings.clear();
  state.watchlist.clear();
  renderProfiles();
  const signedIn = Boolean(state.profile);
  $("welcome").hidden = signedIn;
  $("personal").hidden = !signedIn;
  onboarding.hide();
  loadStrips(); // strips show stars only when signed in
  if (!signedIn) return;
  $("recs-title").textContent = `Recommended for ${state.profile.display_name || "you"}`;
  let profile = null;
  try {
    profile = await api(userPath(), { token: state.profile.token });
  } catch (err) {
    if ([401, 403, 404].includes(err.status)) {
      const name = state.profile.display_name;
      toast(`The server no longer knows “${name}” (${err.message}). Forget it with ✕ and sign up again.`, "error", 9000);
      $("recs").replaceChildren(emptyState(`“${name}” is not known to this server.`,
        "Forget this profile with ✕ (top right) and sign up again."));
      return;
    }
    toastError(err);
  }
  await Promise.all([loadRatings(), loadWatchlist(), refreshRecs()]);
  const nRatings = profile?.n_ratings ?? state.ratings.size;
  if (nRatings === 0 && !P.onboarded(state.profile.user_id)) onboarding.show();
}

function openSignup() {
  const dlg = $("signup-dialog");
  $("signup-form").reset();
  dlg.showModal();
  $("signup-name").focus();
}

async function signup(ev) {
  ev.preventDefault();
  const name = $("signup-name").value.trim();
  const region = $("signup-region").value.trim().toUpperCase();
  if (!name) { $("signup-name").focus(); return; }
  const btn = $("signup-submit");
  btn.disabled = true;
  try {
    const body = { display_name: name };
    if (region) body.region = region;
    const res = await api("/v1/users", { method: "POST", body });
    P.addProfile({ user_id: res.user_id, token: res.token, display_name: res.display_name || name });
    $("signup-dialog").close();
    toast(`Welcome, ${name}! Rate a few titles to get going.`);
    await selectProfile(res.user_id);
  } catch (err) {
    toastError(err);
  } finally {
    btn.disabled = false;
  }
}

function forgetProfile() {
  const p = state.profile;
  if (!p || !confirm(`Forget “${p.display_name}” in this browser? The account stays on the server.`)) return;
  P.removeProfile(p.user_id);
  selectProfile(null);
}

// ---- ratings and feedback ---------------------------------------------------------------
async function rate(item, n) {
  if (!state.profile) { toast("Create a profile first — then your ratings shape your picks.", "error"); openSignup(); return; }
  const who = state.profile.user_id;
  const before = state.ratings.get(item.item_id);
  state.ratings.set(item.item_id, n);
  syncStars(item.item_id, n);
  remember([item]);
  try {
    await api(userPath("/ratings"), { method: "POST", token: state.profile.token, body: { item_id: item.item_id, rating: n } });
    if (state.profile?.user_id !== who) return;
    toast(`Rated ${displayTitle(item.title)} ${n}★`);
    await Promise.all([refreshRecs(), loadRatings()]);
  } catch (err) {
    if (before === undefined) state.ratings.delete(item.item_id); else state.ratings.set(item.item_id, before);
    syncStars(item.item_id, before ?? 0);
    toastError(err);
  }
}

async function notInterested(item, card) {
  if (!state.profile) return;
  try {
    await api(userPath("/feedback"), { method: "POST", token: state.profile.token,
      body: { item_id: item.item_id, kind: "not_interested" } });
  } catch (err) {
    toastError(err);
    return;
  }
  toast(`Got it — ${displayTitle(item.title)} won’t be suggested again`);
  card.classList.add("leaving");
  setTimeout(() => { card.remove(); refreshRecs(); }, 250);
}

// ---- recommendations ----------------------------------------------------------------------------
let recRequest = 0;

/** Explanation as one sentence, with MovieLens-style titles ("Heat, The") put the natural way round. */
function normalise(item) {
  const e = item.explanation;
  let text = typeof e === "string" ? e : (e && e.text) || "";
  const because = item.because || (e && e.because) || [];
  for (const b of because) if (b && b.title) text = text.replaceAll(b.title, displayTitle(b.title));
  return { ...item, explanation: text };
}

async function refreshRecs() {
  const box = $("recs");
  if (!state.profile) return;
  const seq = ++recRequest;
  box.dataset.state = "loading";
  box.setAttribute("aria-busy", "true");
  if (!box.querySelector(".rec")) box.replaceChildren(...skeletons(6));
  const params = { k: N_RECS, domain: state.domain, diversity: state.context.diversity, ...contextParams() };
  try {
    const data = await api(userPath(`/recommendations${qs(params)}`), { token: state.profile.token });
    if (seq !== recRequest) return;
    const items = itemsOf(data).map(normalise);
    remember(items);
    const reasons = [...new Set([...(data.context_reasons || []), ...items.flatMap((i) => i.context_reasons || [])])];
    $("context-reasons").textContent = reasons.length ? `Tuned for: ${reasons.join(" · ")}` : "";
    $("model-version").textContent = data.model ? `model ${data.model}` : data.model_version ? `model #${data.model_version}` : "";
    $("cold-hint").hidden = !(data.cold_start && items.length);
    if (items.length) {
      box.replaceChildren(...items.map((it) => recCard(it, actions)));
    } else {
      const filtered = state.context.time_budget || state.context.company || state.context.mood;
      box.replaceChildren(emptyState(`No ${DOMAIN_NAME[state.domain]} to recommend right now.`,
        filtered ? "Try a longer time budget, other company or another mood."
          : state.domain === "all" ? "Rate a few titles you know — search above." : "Switch to All, or rate a few more titles."));
    }
    box.dataset.state = "ready";
  } catch (err) {
    if (seq !== recRequest) return;
    box.replaceChildren(emptyState("Could not load recommendations.", err.message));
    box.dataset.state = "error";
    toastError(err);
  } finally {
    if (seq === recRequest) {
      box.removeAttribute("aria-busy");
      box.dataset.seq = String(++state.rendered);
    }
  }
}

// ---- trending / hidden gems ---------------------------------------------------------------------
async function loadStrip(id, path) {
  const row = $(id);
  row.dataset.state = "loading";
  if (!row.children.length) row.replaceChildren(...skeletons(6, "mini skeleton"));
  try {
    const items = itemsOf(await api(`${path}${qs({ k: 12, domain: state.domain })}`));
    remember(items);
    row.replaceChildren(...(items.length ? items.map((it) => miniCard(it, actions))
      : [emptyState(`No ${DOMAIN_NAME[state.domain]} here yet.`)]));
    row.dataset.state = "ready";
  } catch (err) {
    row.replaceChildren(emptyState("Could not load this list.", err.message));
    row.dataset.state = "error";
  }
}

function loadStrips() {
  loadStrip("trending", "/v1/trending");
  loadStrip("gems", "/v1/hidden-gems");
}

// ---- controls -----------------------------------------------------------------------------------
function setDomain(domain, refresh = true) {
  state.domain = domain;
  P.savePrefs({ domain });
  for (const b of document.querySelectorAll(".segmented [data-domain]")) b.setAttribute("aria-checked", String(b.dataset.domain === domain));
  if (!refresh) return;
  loadStrips();
  refreshRecs();
  if (search.active()) search.run();
  party.domainChanged();
}

function readContext() {
  const f = $("context-form");
  state.context = {
    mood: f.mood.value, company: f.company.value, time_budget: f.time_budget.value, device: f.device.value,
    diversity: Number(f.diversity.value),
  };
  $("ctx-diversity-out").textContent = state.context.diversity.toFixed(1);
  P.savePrefs({ context: state.context });
}

function restoreControls() {
  const prefs = P.prefs();
  if (["movie", "tv", "all"].includes(prefs.domain)) state.domain = prefs.domain;
  setDomain(state.domain, false);
  const f = $("context-form");
  const c = { ...state.context, ...(prefs.context || {}) };
  for (const k of ["mood", "company", "time_budget", "device", "diversity"]) f[k].value = String(c[k] ?? "");
  readContext();
}

function showView(view) {
  const isParty = view === "party";
  $("view-home").hidden = isParty;
  $("view-party").hidden = !isParty;
  for (const b of document.querySelectorAll(".view-tab")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  if (isParty) party.show();
}

// ---- wiring -------------------------------------------------------------------------------------
const onboarding = initOnboarding({ state, actions, api, onDone: () => refreshRecs() });
const party = initParty({ state, contextParams });
const search = initSearch(actions);

function init() {
  restoreControls();
  $("signup-open").addEventListener("click", openSignup);
  $("hero-signup").addEventListener("click", openSignup);
  $("signup-cancel").addEventListener("click", () => $("signup-dialog").close());
  $("signup-form").addEventListener("submit", signup);
  $("profile-select").addEventListener("change", (e) => selectProfile(e.target.value));
  $("profile-remove").addEventListener("click", forgetProfile);
  const domainButtons = [...document.querySelectorAll(".segmented [data-domain]")];
  for (const [i, b] of domainButtons.entries()) {
    b.addEventListener("click", () => setDomain(b.dataset.domain));
    b.addEventListener("keydown", (e) => { // radiogroup: arrows move the choice
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const next = domainButtons[(i + step + domainButtons.length) % domainButtons.length];
      next.focus();
      setDomain(next.dataset.domain);
    });
  }
  const form = $("context-form");
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", () => { readContext(); refreshRecs(); });
  form.diversity.addEventListener("input", () => { $("ctx-diversity-out").textContent = Number(form.diversity.value).toFixed(1); });
  for (const b of document.querySelectorAll(".view-tab")) {
    b.addEventListener("click", () => { location.hash = b.dataset.view === "party" ? "party" : ""; showView(b.dataset.view); });
  }
  $("brand").addEventListener("click", (e) => { e.preventDefault(); location.hash = ""; showView("home"); });
  window.addEventListener("hashchange", () => showView(location.hash === "#party" ? "party" : "home"));
  showView(location.hash === "#party" ? "party" : "home");
  selectProfile(null);
  document.documentElement.dataset.ready = "true";
}

init();
