// Token-protected API access. The token lives in sessionStorage (per tab, gone when closed).
const KEY = "waternet.token";

export class AuthRequired extends Error {}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || (Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail))) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const auth = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  onExpired: () => {},
};

export async function login(username, password) {
  const body = new URLSearchParams({ username, password, grant_type: "password" });
  const r = await fetch("/api/v1/auth/token", { method: "POST", body });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  auth.token = data.access_token;
  return data;
}

export async function api(path, { method = "GET", json, signal } = {}) {
  const token = auth.token;
  if (!token) { auth.onExpired(); throw new AuthRequired("sign in first"); }
  const headers = { Authorization: `Bearer ${token}` };
  const init = { method, headers, signal };
  if (json !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(json); }
  const r = await fetch(path, init);
  if (r.status === 401) { auth.token = null; auth.onExpired(); throw new AuthRequired("session expired"); }
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}
