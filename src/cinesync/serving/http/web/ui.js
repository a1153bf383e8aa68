// DOM helpers shared by the views: element builder, toasts, the star rating control, chips and badges.

/** h("div", {class: "x", onclick: fn, dataset: {...}}, ...children): a small createElement wrapper. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---- toasts -----------------------------------------------------------------------------------
export function toast(message, kind = "info", ms = 3500) {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast ${kind}`, "data-testid": kind === "error" ? "toast-error" : "toast" },
    h("span", { class: "toast-icon", "aria-hidden": "true" }, kind === "error" ? "!" : "✓"),
    h("span", { class: "toast-text" }, message),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => t.remove() }, "×"));
  box.append(t);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => {
    t.classList.add("leaving");
    setTimeout(() => t.remove(), 300);
  }, ms);
}

export function toastError(err) {
  if (err && err.name === "AbortError") return;
  console.warn(err);
  toast(err && err.message ? err.message : "Something went wrong", "error", 7000);
}

// ---- titles, chips, badges, poster art --------------------------------------------------------
const ARTICLE = /^(.*), (The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El)$/;

/** "Matrix, The" -> "The Matrix" (MovieLens files titles that way). */
export function displayTitle(title) {
  const m = ARTICLE.exec(String(title ?? "").trim());
  return m ? `${m[2]} ${m[1]}` : String(title ?? "");
}

const DOMAIN_LABEL = { movie: "Movie", tv: "TV", other: "Other" };

export function domainBadge(domain) {
  const d = domain || "other";
  return h("span", { class: `badge domain-${d}`, "data-testid": "domain-badge", "data-domain": d },
    DOMAIN_LABEL[d] ?? d);
}

export function genreChips(genres, max = 4) {
  const list = (genres || []).filter((g) => g && g !== "(no genres listed)");
  if (!list.length) return null;
  const ul = h("ul", { class: "chips", "aria-label": "Genres" });
  for (const g of list.slice(0, max)) ul.append(h("li", { class: "chip" }, g));
  if (list.length > max) ul.append(h("li", { class: "chip more", title: list.slice(max).join(", ") }, `+${list.length - max}`));
  return ul;
}

function hash(s) {
  let x = 2166136261;
  for (const ch of String(s)) x = Math.imul(x ^ ch.codePointAt(0), 16777619);
  return x >>> 0;
}

// deep blues, violets, wines, ambers and teals: tasteful next to the dark theme (no acid greens)
const HUES = [205, 218, 232, 248, 262, 278, 295, 318, 338, 352, 8, 22, 34, 186, 172];

/** A generated "poster": a gradient whose hue comes from the id, with the title's initials. */
export function poster(item, size = "") {
  const title = displayTitle(item.title);
  const words = title.replace(/[^\p{L}\p{N} ]/gu, " ").split(/\s+/).filter((w) => w && !/^(the|a|an|of|and)$/i.test(w));
  const initials = (words.slice(0, 2).map((w) => w[0]).join("") || "?").toUpperCase();
  const hue = HUES[hash(item.item_id ?? title) % HUES.length];
  return h("div", { class: `poster ${size}`, style: { "--h": String(hue) }, "aria-hidden": "true" },
    h("span", {}, initials));
}

/** A round initial for a person (watch party), coloured from their id. */
export function avatar(name, id) {
  return h("span", { class: "avatar", "aria-hidden": "true", style: { "--h": String(HUES[hash(id ?? name) % HUES.length]) } },
    (name || "?").trim().slice(0, 1).toUpperCase());
}

export function yearText(year) {
  return year ? String(year) : "";
}

export function runtimeText(minutes) {
  if (!minutes || !Number.isFinite(Number(minutes))) return "";
  const m = Math.round(Number(minutes));
  return m >= 60 ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")}` : `${m} min`;
}

// ---- star rating ------------------------------------------------------------------------------
/**
 * Five buttons; clicking star n calls onRate(n). value: current rating (0 = none; halves shown half-lit).
 * Every control for the same item carries data-rate-item so a rating anywhere updates them all.
 */
export function stars(itemId, title, value, onRate) {
  const group = h("div", { class: "stars", role: "group", "aria-label": `Rate ${displayTitle(title)}`,
    "data-rate-item": itemId, "data-testid": "stars" });
  for (let n = 1; n <= 5; n++) {
    group.append(h("button", {
      type: "button", class: "star", "data-n": n, "data-testid": `star-${n}`,
      "aria-label": `${n} star${n > 1 ? "s" : ""}`,
      onclick: (e) => { e.stopPropagation(); onRate(n); },
    }, "★"));
  }
  setStars(group, value);
  return group;
}

export function setStars(group, value) {
  const v = Number(value) || 0;
  group.dataset.value = String(v);
  group.classList.toggle("rated", v > 0);
  for (const b of group.querySelectorAll(".star")) {
    const n = Number(b.dataset.n);
    b.classList.toggle("on", v >= n);
    b.classList.toggle("half", v < n && v >= n - 0.5);
    b.setAttribute("aria-pressed", String(v > 0 && Math.ceil(v) === n));
  }
}

/** Update every star control of ``itemId`` on the page. */
export function syncStars(itemId, value) {
  for (const g of document.querySelectorAll(`.stars[data-rate-item="${CSS.escape(itemId)}"]`)) setStars(g, value);
}

export function starText(r) {
  if (r === null || r === undefined) return "watched";
  return `${Number.isInteger(r) ? r : r.toFixed(1)}★`;
}

// ---- misc -------------------------------------------------------------------------------------
export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function skeletons(n, cls = "card skeleton") {
  return Array.from({ length: n }, () => h("div", { class: cls, "aria-hidden": "true" },
    h("div", { class: "sk-line w60" }), h("div", { class: "sk-line w40" }), h("div", { class: "sk-line w90" }),
    h("div", { class: "sk-line w80" })));
}

export function emptyState(text, sub = "") {
  return h("div", { class: "empty", "data-testid": "empty-state" },
    h("p", { class: "empty-title" }, text), sub ? h("p", { class: "muted" }, sub) : null);
}
