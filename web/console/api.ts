// The console's JSON API client. Every unsafe request carries the CSRF
// token the server issued at login.
export type Role = 'agent' | 'supervisor' | 'admin';
export interface Me { id: number; username: string; display_name: string; role: Role; csrf: string }
/** A staff member on a session; colour is their number for the pointer palette. */
export interface Member { staff_id: number; name: string; colour: number }
export interface Handover { to: Member; by: number; kind: 'handover' | 'takeover' }
export interface Colleague { id: number; display_name: string; role: Role }
export interface AuditRow {
  id: number; at: string; kind: string; staff_id?: number; staff?: string; username?: string; session_id?: string;
  reason?: string; device?: string; duration_ms?: number; count: number;
}
export interface AuditPage { rows: AuditRow[]; next_before: number }
/** Filters of the audit view; empty fields do not filter. */
export interface AuditFilter { staff?: string; kind?: string; reason?: string; from?: string; to?: string }
export interface Account {
  id: number; username: string; display_name: string; role: Role; disabled: boolean; created_at: string; password?: string;
}
/** A customer's request to join a waiting session, until staff decide. */
export interface JoinRequest { id: string; check: string; device: string; browser: string; at: string }
export interface SessionInfo {
  id: string; code?: string; staff_name: string; state: string; reason?: string; device?: string; browser?: string;
  requests?: JoinRequest[]; refused_busy?: number; staff_id: number;
  presenters?: Member[]; watchers?: Member[]; handover?: Handover;
  /** What the asking staff member is on it. */
  access: 'in_charge' | 'presenting' | 'incoming' | 'supervising';
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
  audit(f: AuditFilter, before = 0): Promise<AuditPage> { return this.call('GET', `/api/audit?${auditParams(f, before)}`); }
  auditCSVURL(f: AuditFilter): string { return `/api/audit?${auditParams(f, 0)}&format=csv`; }
  accounts(): Promise<Account[]> { return this.call('GET', '/api/staff'); }
  addAccount(username: string, display_name: string, role: Role): Promise<Account> { return this.call('POST', '/api/staff', { username, display_name, role }); }
  updateAccount(id: number, change: { username?: string; display_name?: string; disabled?: boolean; role?: Role }): Promise<Account> { return this.call('POST', `/api/staff/${id}`, change); }
  resetPassword(id: number): Promise<{ password: string }> { return this.call('POST', `/api/staff/${id}/password`, {}); }
  admit(id: string, rid: string): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/requests/${encodeURIComponent(rid)}/admit`); }
  decline(id: string, rid: string): Promise<void> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/requests/${encodeURIComponent(rid)}/decline`); }
  colleagues(): Promise<Colleague[]> { return this.call('GET', '/api/colleagues'); }
  handover(id: string, to: number): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/handover`, { to }); }
  takeover(id: string): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/takeover`); }
  cancelHandover(id: string): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/handover/cancel`); }
  end(id: string, reason: 'staff' | 'staff_cut'): Promise<SessionInfo> { return this.call('POST', `/api/sessions/${encodeURIComponent(id)}/end`, { reason }); }
}

function auditParams(f: AuditFilter, before: number): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  if (before) p.set('before', String(before));
  return p.toString();
}
