// Administrators' views: the audit (metadata only, filtered, paged,
// exported as CSV) and staff accounts.
import { Account, API, APIError, AuditFilter, AuditRow, Role } from './api';
import type { Texts } from './i18n';

type H = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, ...kids: (Node | string)[]) => HTMLElementTagNameMap[K];

const END_REASONS = ['staff', 'staff_cut', 'customer', 'customer_declined', 'customer_error', 'expired', 'shutdown', 'customer_lost', 'staff_idle', 'max_duration'];

export class AdminViews {
  // Each render of the accounts view; an answer for an older one is dropped,
  // so answers arriving out of order cannot show a stale list.
  private accountsSeq = 0;

  constructor(private api: API, private h: H, private t: () => Texts, private locale: () => string) {}

  /** The audit: a filter form, a page of rows, older rows on demand, CSV. */
  async audit(panel: HTMLElement): Promise<void> {
    const { h } = this;
    const t = this.t();
    let staff: Account[] = [];
    try { staff = await this.api.accounts(); } catch { /* the filter then lists nobody */ }
    const select = (id: string, label: string, options: [string, string][]) =>
      h('label', {}, label, h('select', { id }, h('option', { value: '' }, t.filterAll), ...options.map(([v, text]) => h('option', { value: v }, text))));
    const reasons = [...new Set([...END_REASONS, ...Object.keys(t.auditReasons)])];
    const form = h('form', { class: 'filters', id: 'audit-filters' },
      select('audit-staff', t.filterStaff, staff.map((a) => [String(a.id), `${a.display_name} (${a.username})`])),
      select('audit-kind', t.filterKind, Object.entries(t.auditKinds)),
      select('audit-reason', t.filterReason, reasons.map((r) => [r, t.reasons[r] || t.auditReasons[r] || r])),
      h('label', {}, t.filterFrom, h('input', { type: 'date', id: 'audit-from' })),
      h('label', {}, t.filterTo, h('input', { type: 'date', id: 'audit-to' })),
      h('button', { type: 'submit', class: 'primary' }, t.filterApply));
    const csv = h('a', { id: 'audit-csv', class: 'button', download: '' }, t.auditCSV);
    const body = h('tbody', { id: 'audit-rows' });
    const table = h('table', { class: 'audit', id: 'audit-table' }, h('thead', {}, h('tr', {}, ...t.auditCols.map((c) => h('th', {}, c)))), body);
    const more = h('button', { class: 'link', id: 'audit-more', hidden: '' }, t.auditMore);
    const status = h('div', { class: 'hint', id: 'audit-status', role: 'status' });
    panel.replaceChildren(h('div', { class: 'audit-view' }, h('h2', {}, t.audit), h('p', { class: 'hint' }, t.auditNote), form, csv, status, table, more));

    let filter: AuditFilter = {};
    let before = 0;
    const value = (id: string) => (panel.querySelector(`#${id}`) as HTMLInputElement | HTMLSelectElement).value;
    const load = async (reset: boolean) => {
      if (reset) { body.replaceChildren(); before = 0; }
      let page;
      try { page = await this.api.audit(filter, before); } catch (x) {
        status.textContent = x instanceof APIError ? x.message : t.error;
        return;
      }
      body.append(...page.rows.map((r) => this.auditRow(r)));
      before = page.next_before;
      more.hidden = !before;
      status.textContent = body.children.length ? '' : t.auditNone;
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      // Dates are the staff's local days; the server takes instants.
      const day = (v: string, next: boolean) => {
        if (!v) return undefined;
        const d = new Date(`${v}T00:00:00`);
        if (next) d.setDate(d.getDate() + 1);
        return d.toISOString();
      };
      filter = { staff: value('audit-staff'), kind: value('audit-kind'), reason: value('audit-reason'), from: day(value('audit-from'), false), to: day(value('audit-to'), true) };
      csv.setAttribute('href', this.api.auditCSVURL(filter));
      void load(true);
    };
    more.onclick = () => void load(false);
    csv.setAttribute('href', this.api.auditCSVURL(filter));
    await load(true);
  }

  private auditRow(r: AuditRow): HTMLElement {
    const { h } = this;
    const t = this.t();
    const reason = (r.kind === 'session_ended' ? t.reasons[r.reason || ''] : t.auditReasons[r.reason || '']) || r.reason || '';
    const who = r.kind === 'account_changed' ? `${r.staff || ''} ← ${r.username || ''}` : r.username || r.staff || (r.staff_id ? `#${r.staff_id}` : '');
    return h('tr', { 'data-kind': r.kind, 'data-id': String(r.id) },
      h('td', {}, new Date(r.at).toLocaleString(this.locale())),
      h('td', {}, t.auditKinds[r.kind] || r.kind),
      h('td', {}, who),
      h('td', { class: 'mono' }, r.session_id || ''),
      h('td', {}, reason),
      h('td', {}, r.device ? t.devices[r.device] || r.device : ''),
      h('td', {}, r.duration_ms ? formatDuration(r.duration_ms) : ''),
      h('td', { class: 'count' }, r.count > 1 ? `×${r.count.toLocaleString(this.locale())}` : ''));
  }

  /** Staff accounts: add, rename, disable or enable, new password. */
  async accounts(panel: HTMLElement): Promise<void> {
    const { h } = this;
    const t = this.t();
    const status = h('div', { class: 'error', role: 'alert', id: 'accounts-error' });
    // Written to the error line on screen now: a newer render may have
    // replaced the one this handler came from.
    const fail = (x: unknown) => {
      const line = (panel.querySelector('#accounts-error') as HTMLElement | null) || status;
      line.textContent = x instanceof APIError ? t.accountErrors[x.code] || x.message : t.error;
      line.dataset.code = x instanceof APIError ? x.code : 'network';
    };
    let list: Account[];
    const seq = ++this.accountsSeq;
    try { list = await this.api.accounts(); } catch (x) { panel.replaceChildren(status); fail(x); return; }
    if (seq !== this.accountsSeq) return;
    const refresh = () => void this.accounts(panel);
    const rows = list.map((a) => {
      const user = h('input', { value: a.username, 'aria-label': t.accountCols[0], 'data-testid': 'account-username' });
      const display = h('input', { value: a.display_name, 'aria-label': t.accountCols[1], 'data-testid': 'account-display' });
      const save = h('button', { 'data-testid': 'account-save' }, t.save);
      save.onclick = async () => {
        try { await this.api.updateAccount(a.id, { username: user.value.trim(), display_name: display.value.trim() }); refresh(); } catch (x) { fail(x); }
      };
      const role = h('select', { 'aria-label': t.roleLabel, 'data-testid': 'account-role' },
        ...(['agent', 'supervisor', 'admin'] as Role[]).map((r) => { const o = h('option', { value: r }, t.roles[r]); o.selected = r === a.role; return o; }));
      role.onchange = async () => {
        try { await this.api.updateAccount(a.id, { role: role.value as Role }); refresh(); } catch (x) { fail(x); refresh(); }
      };
      const toggle = h('button', { class: a.disabled ? '' : 'danger', 'data-testid': a.disabled ? 'account-enable' : 'account-disable' }, a.disabled ? t.enable : t.disable);
      toggle.onclick = async () => {
        try { await this.api.updateAccount(a.id, { disabled: !a.disabled }); refresh(); } catch (x) { fail(x); }
      };
      const shown = h('span', { class: 'password', 'data-testid': 'account-password' });
      const reset = h('button', { 'data-testid': 'account-reset' }, t.resetPassword);
      reset.onclick = async () => {
        try {
          const { password } = await this.api.resetPassword(a.id);
          shown.replaceChildren(h('span', { class: 'hint' }, t.newPassword), ' ', h('code', {}, password));
        } catch (x) { fail(x); }
      };
      return h('tr', { 'data-username': a.username, class: a.disabled ? 'disabled' : '' },
        h('td', {}, user), h('td', {}, display), h('td', {}, role),
        h('td', { 'data-testid': 'account-status' }, a.disabled ? t.disabledState : t.active),
        h('td', { class: 'actions' }, save, toggle, reset, shown));
    });
    const newUser = h('input', { id: 'new-account-username', autocomplete: 'off' });
    const newDisplay = h('input', { id: 'new-account-display', autocomplete: 'off' });
    const newRole = h('select', { id: 'new-account-role' },
      ...(['agent', 'supervisor', 'admin'] as Role[]).map((r) => h('option', { value: r }, t.roles[r])));
    const created = h('div', { id: 'new-account-password' });
    const add = h('form', { class: 'filters', id: 'new-account' },
      h('label', {}, t.accountCols[0], newUser), h('label', {}, t.accountCols[1], newDisplay),
      h('label', {}, t.roleLabel, newRole), h('button', { type: 'submit', class: 'primary' }, t.add));
    add.onsubmit = async (e) => {
      e.preventDefault();
      try {
        const a = await this.api.addAccount(newUser.value.trim(), newDisplay.value.trim(), newRole.value as Role);
        await this.accounts(panel);
        panel.querySelector('#new-account-password')?.replaceChildren(h('span', { class: 'hint' }, `${a.username}: ${t.newPassword}`), ' ', h('code', {}, a.password || ''));
      } catch (x) { fail(x); }
    };
    panel.replaceChildren(h('div', { class: 'audit-view accounts-view' },
      h('h2', {}, t.accounts), status,
      h('table', { class: 'audit', id: 'accounts-table' }, h('thead', {}, h('tr', {}, ...t.accountCols.map((c) => h('th', {}, c)))), h('tbody', {}, ...rows)),
      h('h3', {}, t.addAccount), add, created));
  }
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
