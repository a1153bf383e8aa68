// Thin client for the CineSync HTTP API (see /docs). Every failure becomes an ApiError whose
// message is the server's human-readable `detail`, ready for a toast.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** FastAPI errors: {"detail": "text"} or {"detail": [{loc: [...], msg}]} (validation). */
function detailOf(data, res) {
  const d = data && typeof data === "object" ? data.detail : null;
  if (typeof d === "string" && d) return d;
  if (Array.isArray(d) && d.length) {
    return d.map((e) => {
      const loc = Array.isArray(e.loc) ? e.loc.filter((x) => x !== "body" && x !== "query").join(".") : "";
      return loc ? `${loc}: ${e.msg}` : String(e.msg ?? e);
    }).join("; ");
  }
  if (typeof data === "string" && data && data.length < 200) return data;
  return `${res.status} ${res.statusText || "error"}`;
}

/** Query string from an object, skipping null / undefined / "" values; arrays are comma-joined. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    q.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** fetch + JSON with Bearer auth. Returns the parsed body (null for 204). Throws ApiError. */
export async function api(path, { method = "GET", body, token, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the CineSync server. Is it still running?");
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) throw new ApiError(res.status, detailOf(data, res));
  return data;
}

/** Lists come back either bare or wrapped as {items: [...]}: accept both. */
export function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}
