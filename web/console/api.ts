// The console's JSON API client. Every unsafe request carries the CSRF
// token the server issued at login.
export interface Me { id: number; username: string; display_name: string; admin: boolean; csrf: string }
export interface AuditRow {
  at: string; kind: string; staff_id?: number; username?: string; session_id?: string;
  reason?: string; device?: string; duration_ms?: number;
}
/** A customer's request to join a waiting session, until staff decide. */
export interface JoinRequest { id: string; check: string; device: string; browser: string; at: string }
export interface SessionInfo {
  id: string; code?: string; staff_name: string; state: string; reason?: string; device?: string; browser?: string;
  requests?: JoinRequest[];
  customer_connected: boolean; customer_seen: boolean; created_at: string; expires_in_ms?: number; duration_ms?: number;
}

export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

export class API {
  csrf = '';

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = this.csrf;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    if (res.status === 204) return undefined as T;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new APIError(res.status, data.error || 'internal', data.message || res.statusText);
    return data as T;
  }

  async me(): Promise<Me> {
    const m = await this.call<Me>('GET', '/api/me');
    this.csrf = m.csrf;
    return m;
  }

  async login(username: string, password: string): Promise<Me> {
    const m = await this.call<Me>('POST', '/api/login', { username, password });
    this.csrf = m.csrf;
    return m;
  }

  logout(): Promise<void> { return this.call('POST', '/api/logout'); }
  sessions(): Promise<SessionInfo[]> { return this.call('GET', '/api/sessions'); }
  create(): Promise<SessionInfo> { return this.call('POST', '/api/sessions'); }
  audit(): Promise<AuditRow[]> { return this.call('GET', '/api/audit'); }
  admit(id: string, rid: string): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/requests/${encodeURIComponent(rid)}/admit`); }
  decline(id: string, rid: string): Promise<void> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/requests/${encodeURIComponent(rid)}/decline`); }
  end(id: string, reason: 'staff' | 'staff_cut'): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/end`, { reason }); }
}
