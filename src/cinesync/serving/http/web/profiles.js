// Profiles kept in this browser (localStorage): [{user_id, token, display_name}], the active one,
// and small per-browser preferences (domain, context controls, onboarding done).

const PROFILES = "cinesync.profiles";
const ACTIVE = "cinesync.active";
const PREFS = "cinesync.prefs";

function read(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  localStorage.setItem(key, JSON.stringify(value));
}

export function listProfiles() {
  const list = read(PROFILES, []);
  return Array.isArray(list) ? list.filter((p) => p && p.user_id && p.token) : [];
}

export function addProfile(profile) {
  const list = listProfiles().filter((p) => p.user_id !== profile.user_id);
  list.push({ user_id: profile.user_id, token: profile.token, display_name: profile.display_name || profile.user_id });
  write(PROFILES, list);
  setActive(profile.user_id);
}

export function removeProfile(userId) {
  write(PROFILES, listProfiles().filter((p) => p.user_id !== userId));
  if (read(ACTIVE, null) === userId) {
    const rest = listProfiles();
    setActive(rest.length ? rest[rest.length - 1].user_id : null);
  }
}

export function getProfile(userId) {
  return listProfiles().find((p) => p.user_id === userId) ?? null;
}

export function activeProfile() {
  const id = read(ACTIVE, null);
  return (id && getProfile(id)) || listProfiles().at(-1) || null;
}

export function setActive(userId) {
  write(ACTIVE, userId);
}

export function prefs() {
  return read(PREFS, {});
}

export function savePrefs(patch) {
  write(PREFS, { ...prefs(), ...patch });
}

export function onboarded(userId) {
  return Boolean((prefs().onboarded || {})[userId]);
}

export function setOnboarded(userId) {
  const done = { ...(prefs().onboarded || {}), [userId]: true };
  savePrefs({ onboarded: done });
}
