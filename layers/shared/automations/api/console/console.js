/* Automations console: a single-page app over the public API (hash routes, no build step).
 * Every value from the API is put in the page as text (textContent / text nodes), never as
 * markup: flow names, bodies and headers come from outside and may contain HTML. */
'use strict';

(() => {
  const BASE = (document.querySelector('meta[name=api-base]') || {}).content || '';
  // the stack's CloudWatch dashboard (deployed only): the Ops page links to it
  const DASHBOARD_URL = (document.querySelector('meta[name=dashboard-url]') || {}).content || '';
  const KEY_NAME = 'automations.apiKey';
  const PAGE_SIZE = 25;
  const POLL_MS = 2000;
  const RUN_STATUSES = ['scheduled', 'running', 'completed', 'failed', 'retrying', 'interrupted', 'cancelled'];
  const UNFINISHED = new Set(['scheduled', 'running', 'retrying']); // polled on the run page
  const CANCELLABLE = new Set(['scheduled', 'running', 'retrying', 'interrupted']);
  // what the API accepts (a refused action would still log a console error in the browser)
  const RESUMABLE = new Set(['interrupted']);
  const RETRIGGERABLE = new Set(['failed', 'cancelled', 'completed']);

  const app = document.getElementById('app');
  const flowCache = new Map(); // flowId -> flow summary, for names in cross-flow tables
  let viewToken = 0; // bumped on every page change: late answers for an old page are dropped
  let pollTimer = null;

  // --- DOM helpers -------------------------------------------------------------------------

  /** el('a', {href: '#/x', class: 'y', onclick: fn}, 'text', child, [more]) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
      else if (name === 'class') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** Replace a node's children (null children skipped, as in el()). */
  function refill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  const pre = (value, cls) => el('pre', {class: cls}, JSON.stringify(value, null, 2));
  /** An HTTP body is often JSON kept as text: shown parsed when it is, as it came otherwise. */
  function bodyPre(value) {
    if (typeof value !== 'string') return pre(value, 'http-body');
    try {
      return pre(JSON.parse(value), 'http-body');
    } catch (_) {
      return el('pre', {class: 'http-body'}, value);
    }
  }
  const tableWrap = (table) => el('div', {class: 'table-wrap'}, table);
  const headRow = (...labels) => el('thead', {}, el('tr', {}, labels.map((l) => el('th', {scope: 'col'}, l))));
  const dash = () => el('span', {class: 'muted'}, '—');

  function statusBadge(status, extraClass) {
    const cls = ['status', `status-${status}`, extraClass].filter(Boolean).join(' ');
    return el('span', {class: cls}, status || 'unknown');
  }

  function overdueBadge(run) {
    return run.status === 'scheduled' && run.overdue ? el('span', {class: 'badge-overdue'}, 'overdue') : null;
  }

  /** A time in the viewer's zone, the UTC ISO on hover. */
  function timeEl(iso) {
    if (!iso) return dash();
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return el('span', {}, iso);
    return el('time', {datetime: iso, title: date.toISOString()}, date.toLocaleString());
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  const msBetween = (a, b) => (a && b ? new Date(b).getTime() - new Date(a).getTime() : null);
  const runHref = (id) => `#/runs/${encodeURIComponent(id)}`;
  const flowHref = (id) => `#/flows/${encodeURIComponent(id)}`;
  const flowName = (id) => (flowCache.get(id) || {}).name || id;

  // --- API ---------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, type, message) {
      super(message);
      this.status = status;
      this.type = type;
      this.handled = false; // true once the page has dealt with it (a 401 shows the key form)
    }
  }

  const getKey = () => sessionStorage.getItem(KEY_NAME);
  const setKey = (key) => sessionStorage.setItem(KEY_NAME, key);
  const clearKey = () => sessionStorage.removeItem(KEY_NAME);

  /** Only the parameters that have a value: the API refuses empty or undeclared ones. */
  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  async function api(path, {method = 'GET', body} = {}) {
    let response;
    try {
      response = await fetch(BASE + path, {
        method,
        headers: {Authorization: `Bearer ${getKey() || ''}`, 'Content-Type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'NetworkError', `${method} ${path}: ${error.message}`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null; // not JSON: reported below with the raw text if it was an error
    }
    if (response.ok) return data;
    const info = (data && data.error) || {};
    const error = new ApiError(
      response.status,
      info.type || `HTTP ${response.status}`,
      info.message || text.slice(0, 300) || response.statusText,
    );
    if (response.status === 401) {
      clearKey();
      renderKeyForm(error);
      error.handled = true;
    }
    throw error;
  }

  /** Every flow, following the cursor (the cache feeds flow names elsewhere). */
  async function loadFlows() {
    const flows = [];
    let cursor = null;
    do {
      const page = await api(`/flows${query({limit: 100, cursor})}`);
      flows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && flows.length < 2000);
    flows.forEach((f) => flowCache.set(f.flowId, f));
    return flows;
  }

  // --- errors and outcomes -----------------------------------------------------------------

  function errorLine(error) {
    const type = error instanceof ApiError ? error.type : (error && error.name) || 'Error';
    const message = (error && error.message) || String(error);
    return [el('strong', {class: 'err-type'}, type), ': ', el('span', {class: 'err-msg'}, message)];
  }

  /** Errors are shown in #error (role=alert), one line each, never swallowed. */
  function showError(error) {
    if (error && error.handled) return;
    const box = document.getElementById('error');
    if (!box) {
      console.error(error); // eslint-disable-line no-console
      return;
    }
    box.hidden = false;
    box.append(el('p', {}, errorLine(error)));
  }

  function clearErrors() {
    const box = document.getElementById('error');
    if (box) {
      box.replaceChildren();
      box.hidden = true;
    }
  }

  const errorBox = () => el('div', {id: 'error', role: 'alert', 'aria-live': 'assertive', hidden: true});
  const outcomeBox = () => el('div', {id: 'action-outcome', role: 'status', 'aria-live': 'polite'});

  function setOutcome(...children) {
    const box = document.getElementById('action-outcome');
    if (box) refill(box, children);
  }

  // --- page frame --------------------------------------------------------------------------

  const NAV = [
    ['#/flows', 'Flows'],
    ['#/failed', 'Failed runs'],
    ['#/ops', 'Ops'],
  ];

  function buildHeader() {
    const links = NAV.map(([href, label]) => el('a', {href, class: 'nav-link'}, label));
    const forget = el('button', {id: 'forget-key', type: 'button', onclick: forgetKey}, 'Forget key');
    const header = el('header', {class: 'top'},
      el('span', {class: 'brand'}, 'Automations'),
      el('nav', {'aria-label': 'Main'}, links), forget);
    document.body.insertBefore(header, app);
  }

  function setHeaderHidden(hidden) {
    const header = document.querySelector('header.top');
    if (header) header.hidden = hidden;
  }

  function markCurrentNav(section) {
    for (const link of document.querySelectorAll('header nav a')) {
      if (link.getAttribute('href') === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }

  /** A new page: drop the old one's timers and late answers; give it a title and an error box. */
  function startPage(title) {
    viewToken += 1;
    clearTimeout(pollTimer);
    pollTimer = null;
    const h1 = el('h1', {tabindex: -1}, title); // focusable by script only: see route()
    document.title = `${title} · Automations console`;
    app.replaceChildren(h1, errorBox());
    app.removeAttribute('aria-busy');
    return {token: viewToken, h1};
  }

  const alive = (token) => token === viewToken;

  function forgetKey() {
    clearKey();
    renderKeyForm(null);
  }

  // --- routing -----------------------------------------------------------------------------

  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'flows' && parts[1]) return {page: 'flow', id: parts[1], nav: '#/flows'};
    if (parts[0] === 'runs' && parts[1]) return {page: 'run', id: parts[1], nav: null};
    if (parts[0] === 'failed') return {page: 'failed', nav: '#/failed'};
    if (parts[0] === 'ops') return {page: 'ops', nav: '#/ops'};
    return {page: 'flows', nav: '#/flows'};
  }

  /** Render the page the hash names. moveFocus: after a navigation, focus goes to the new page's
   * heading (the link that was clicked is gone), so keyboard and screen-reader users start there. */
  function route(moveFocus) {
    if (!getKey()) {
      renderKeyForm(null);
      return;
    }
    const target = parseRoute();
    setHeaderHidden(false);
    markCurrentNav(target.nav);
    const pages = {flows: renderFlows, flow: renderFlow, failed: renderFailed, run: renderRun, ops: renderOps};
    pages[target.page](target.id).catch(showError); // each draws its h1 before its first await
    if (moveFocus === true) app.querySelector('h1').focus();
  }

  // --- key form ----------------------------------------------------------------------------

  function renderKeyForm(error) {
    startPage('API key');
    // no navigation without a key: the key field is the first stop for the keyboard
    setHeaderHidden(true);
    const input = el('input', {id: 'api-key', type: 'password', autocomplete: 'off', required: true});
    const form = el('form', {id: 'key-form', class: 'key-form'},
      el('p', {}, 'Enter an API key of your account. It is kept in this tab only (session storage).'),
      el('label', {for: 'api-key'}, 'API key'), input,
      el('button', {id: 'save-key', type: 'submit'}, 'Save key'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      setKey(key);
      // back to the route the user asked for; a bare URL lands on the flows
      if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/flows';
      else route(true);
    });
    app.append(form);
    if (error) showError(error);
  }

  // --- flows -------------------------------------------------------------------------------

  async function renderFlows() {
    const {token} = startPage('Flows');
    const tbody = el('tbody', {}, el('tr', {}, el('td', {colspan: 7}, 'Loading…')));
    const table = el('table', {id: 'flows'},
      headRow('Name', 'Trigger', 'Version', 'Runs (24 h)', 'Failures (24 h)', 'Overdue', 'Updated'), tbody);
    app.append(tableWrap(table));

    // one summary and one overdue call for the whole table, not one per flow
    const [flows, summary, overdue] = await Promise.allSettled([
      loadFlows(), api('/ops/summary?window=P1D'), api('/ops/overdue?limit=1'),
    ]);
    if (!alive(token)) return;
    [flows, summary, overdue].filter((r) => r.status === 'rejected').forEach((r) => showError(r.reason));
    if (flows.status === 'rejected') {
      tbody.replaceChildren(el('tr', {}, el('td', {colspan: 7}, 'The flows could not be loaded.')));
      return;
    }
    const counts = new Map(summary.status === 'fulfilled' ? summary.value.flows.map((f) => [f.flowId, f]) : []);
    const late = new Map(overdue.status === 'fulfilled' ? overdue.value.byFlow.map((f) => [f.flowId, f]) : []);
    const rows = flows.value.map((flow) => flowRow(flow, counts, late, summary.status, overdue.status));
    tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', {colspan: 7}, 'No flows yet.'))]));
    flows.value.filter((f) => f.trigger && f.trigger.type === 'schedule' && !f.deletedAt)
      .forEach((f) => loadNextFiring(f, tbody, token));
  }

  function flowRow(flow, counts, late, summaryState, overdueState) {
    const current = (counts.get(flow.flowId) || {}).current || {};
    const total = Object.values(current).reduce((sum, n) => sum + n, 0);
    const known = (state, value) => (state === 'fulfilled' ? value : '?');
    const overdueCount = (late.get(flow.flowId) || {}).count || 0;
    return el('tr', {'data-flow-id': flow.flowId, class: flow.deletedAt ? 'deleted' : null},
      el('td', {class: 'name'}, el('a', {class: 'flow-link', href: flowHref(flow.flowId)}, flow.name),
        flow.deletedAt ? [' ', el('span', {class: 'badge-deleted', title: flow.deletedAt}, 'deleted')] : null),
      el('td', {class: 'trigger'}, triggerText(flow.trigger)),
      el('td', {class: 'version num'}, flow.version),
      el('td', {class: 'runs-24h num'}, known(summaryState, total)),
      el('td', {class: 'failures-24h num' + (current.failed ? ' has-failures' : '')},
        known(summaryState, current.failed || 0)),
      el('td', {class: 'overdue num' + (overdueCount ? ' has-overdue' : '')}, known(overdueState, overdueCount)),
      el('td', {class: 'updated'}, timeEl(flow.updatedAt)));
  }

  function triggerText(trigger) {
    if (!trigger) return dash();
    const parts = [el('span', {class: 'trigger-type'}, trigger.type)];
    const eventType = trigger.event || trigger.eventType;
    if (trigger.type === 'event' && eventType) parts.push(' ', el('code', {}, eventType));
    if (trigger.type === 'schedule') {
      parts.push(' ', el('code', {}, trigger.expression || ''), ' ', el('span', {class: 'tz'}, trigger.timezone || 'UTC'),
        el('span', {class: 'next-run'}, 'next: …'));
    }
    return parts;
  }

  /** A schedule flow's next firing is its next scheduled run; fetched per schedule flow only. */
  async function loadNextFiring(flow, tbody, token) {
    const row = [...tbody.rows].find((r) => r.dataset.flowId === flow.flowId);
    const slot = row && row.querySelector('.next-run');
    try {
      const page = await api(`/flows/${encodeURIComponent(flow.flowId)}/runs${query({status: 'scheduled', limit: 1})}`);
      if (!alive(token) || !slot) return;
      const next = page.items[0];
      slot.replaceChildren('next: ', next ? timeEl(next.scheduledFor) : 'none scheduled');
    } catch (error) {
      if (alive(token)) {
        if (slot) slot.textContent = 'next: ?';
        showError(error);
      }
    }
  }

  // --- run tables (one flow's history; failed runs across flows) ---------------------------

  /** datetime-local (the viewer's zone) -> UTC ISO with Z, as the API wants it. */
  function toUtcIso(localValue) {
    if (!localValue) return '';
    const date = new Date(localValue);
    return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  function field(id, label, control) {
    return el('div', {class: 'field'}, el('label', {for: id}, label), control);
  }

  function runRow(run, withFlow) {
    const failed = run.failedStep;
    let failure = null;
    if (failed) {
      failure = `${failed.nodeId}: ${failed.errorType}` + (failed.httpStatus ? ` (HTTP ${failed.httpStatus})` : '');
    } else if (run.error) {
      failure = run.error.type;
    }
    return el('tr', {'data-run-id': run.runId},
      el('td', {class: 'run'}, el('a', {class: 'run-link', href: runHref(run.runId)}, run.runId)),
      withFlow ? el('td', {class: 'flow'}, el('a', {href: flowHref(run.flowId)}, flowName(run.flowId))) : null,
      el('td', {class: 'due'}, timeEl(run.scheduledFor)),
      el('td', {class: 'state'}, statusBadge(run.status), ' ', overdueBadge(run)),
      el('td', {class: 'duration num'}, formatDuration(run.durationMs)),
      el('td', {class: 'failed-step', title: failed ? failed.message || '' : null}, failure || ''),
      el('td', {class: 'kind'}, run.triggerKind || ''));
  }

  /** Filters + table#runs + paging (cursor stack), re-fetched in place without reloading the page. */
  function runList({path, withFlow, status = '', token}) {
    const state = {status, from: '', to: '', cursor: null, previous: []};
    const select = el('select', {id: 'status-filter'}, el('option', {value: ''}, 'All statuses'),
      RUN_STATUSES.map((s) => el('option', {value: s}, s)));
    select.value = status;
    const from = el('input', {id: 'from', type: 'datetime-local'});
    const to = el('input', {id: 'to', type: 'datetime-local'});
    const form = el('form', {class: 'filters', 'aria-label': 'Filter runs'},
      field('status-filter', 'Status', select), field('from', 'Due from', from), field('to', 'Due before', to),
      el('button', {id: 'apply-filters', type: 'submit'}, 'Apply filters'));
    const columns = ['Run', withFlow ? 'Flow' : null, 'Due', 'Status', 'Duration', 'Failed step', 'Trigger']
      .filter(Boolean);
    const tbody = el('tbody');
    const table = el('table', {id: 'runs'}, headRow(...columns), tbody);
    const prev = el('button', {id: 'prev-page', type: 'button', disabled: true}, '← Previous');
    const next = el('button', {id: 'next-page', type: 'button', disabled: true}, 'Next →');
    const info = el('span', {id: 'page-info', 'aria-live': 'polite'}, 'Page 1');
    const message = (text) => el('tr', {}, el('td', {colspan: columns.length}, text));

    // The buttons stay enabled while a page loads (a disabled button drops keyboard focus);
    // state.busy ignores clicks meanwhile.
    async function load() {
      const seq = (state.seq = (state.seq || 0) + 1); // a newer load (filters changed) wins
      state.busy = true;
      table.setAttribute('aria-busy', 'true');
      tbody.replaceChildren(message('Loading…'));
      try {
        const page = await api(path + query({
          status: state.status, from: state.from, to: state.to, limit: PAGE_SIZE, cursor: state.cursor,
        }));
        if (!alive(token) || seq !== state.seq) return;
        tbody.replaceChildren(...(page.items.length
          ? page.items.map((run) => runRow(run, withFlow)) : [message('No runs match.')]));
        state.nextCursor = page.nextCursor;
      } catch (error) {
        if (!alive(token) || seq !== state.seq) return;
        tbody.replaceChildren(message('The runs could not be loaded.'));
        state.nextCursor = null;
        showError(error);
      }
      state.busy = false;
      table.removeAttribute('aria-busy');
      const focused = document.activeElement;
      next.disabled = !state.nextCursor;
      prev.disabled = state.previous.length === 0;
      info.textContent = `Page ${state.previous.length + 1}`;
      if (focused && focused.disabled) (focused === next ? prev : next).focus(); // the end reached
    }

    function apply() {
      clearErrors();
      Object.assign(state, {status: select.value, from: toUtcIso(from.value), to: toUtcIso(to.value)});
      Object.assign(state, {cursor: null, previous: []});
      return load();
    }

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      apply();
    });
    select.addEventListener('change', apply);
    next.addEventListener('click', () => {
      if (state.busy || !state.nextCursor) return;
      state.previous.push(state.cursor);
      state.cursor = state.nextCursor;
      load();
    });
    prev.addEventListener('click', () => {
      if (state.busy || !state.previous.length) return;
      state.cursor = state.previous.pop();
      load();
    });
    const pager = el('div', {class: 'pager'}, prev, info, next);
    return {node: el('section', {class: 'run-list', 'aria-label': 'Runs'}, form, tableWrap(table), pager), load};
  }

  async function renderFlow(flowId) {
    const {token, h1} = startPage(`Flow ${flowId}`);
    const about = el('div', {class: 'flow-about'});
    const list = runList({path: `/flows/${encodeURIComponent(flowId)}/runs`, token});
    app.append(about, el('h2', {}, 'Run history'), list.node);
    const loading = list.load();
    try {
      const flow = await api(`/flows/${encodeURIComponent(flowId)}`);
      if (!alive(token)) return;
      flowCache.set(flow.flowId, flow);
      h1.textContent = flow.name;
      document.title = `${flow.name} · Automations console`;
      about.append(el('dl', {class: 'facts'},
        fact('Flow id', el('code', {}, flow.flowId)),
        fact('Trigger', triggerText(flow.trigger)),
        fact('Version', flow.version),
        flow.webhookPath ? fact('Webhook', el('code', {}, flow.webhookPath)) : null,
        fact('Nodes', ((flow.definition || {}).nodes || []).map((n) => `${n.id} (${n.type})`).join(' → ') || '—'),
        fact('Updated', timeEl(flow.updatedAt)),
        flow.deletedAt ? fact('Deleted', el('span', {class: 'badge-deleted'}, 'deleted'), ' ', timeEl(flow.deletedAt))
          : null));
    } catch (error) {
      if (alive(token)) showError(error);
    }
    await loading;
  }

  async function renderFailed() {
    const {token} = startPage('Failed runs');
    app.append(el('p', {class: 'lede'}, 'Runs across all flows, newest first: a burst here is a spike.'));
    const list = runList({path: '/runs', withFlow: true, status: 'failed', token});
    app.append(list.node);
    // flow names are a nicety: the table shows flow ids until (or if not) they are known
    if (!flowCache.size) await loadFlows().catch(showError);
    if (alive(token)) await list.load();
  }

  // --- one run -----------------------------------------------------------------------------

  function fact(term, ...value) {
    return el('div', {class: 'fact'}, el('dt', {}, term), el('dd', {}, value));
  }

  function runFacts(run) {
    const links = (run.retriggeredBy || []).map((id) => el('a', {class: 'retriggered-by', href: runHref(id)}, id));
    return el('dl', {class: 'facts'},
      fact('Status', el('span', {id: 'run-status'}, statusBadge(run.status)), ' ', overdueBadge(run)),
      fact('Flow', el('a', {class: 'flow-link', href: flowHref(run.flowId)}, flowName(run.flowId)),
        ` (version ${run.flowVersion})`),
      fact('Trigger time', timeEl(run.scheduledFor)),
      fact('Started', timeEl(run.startedAt)),
      fact('Ended', timeEl(run.endedAt)),
      fact('Duration', formatDuration(run.durationMs)),
      run.deadline ? fact('Deadline', timeEl(run.deadline)) : null,
      fact('Path', (run.path || []).join(' → ') || '—'),
      run.retriggerOf ? fact('Re-triggers', el('a', {class: 'retrigger-of', href: runHref(run.retriggerOf)},
        run.retriggerOf)) : null,
      links.length ? fact('Re-triggered by', links.map((a, i) => [i ? ', ' : '', a])) : null,
      run.error ? fact('Error', el('span', {class: 'run-error-type'}, run.error.type), ': ',
        el('span', {class: 'run-error-message'}, run.error.message)) : null);
  }

  function triggerSection(trigger) {
    if (!trigger) return el('section', {class: 'trigger'}, el('h2', {}, 'Trigger'), el('p', {}, 'Not kept.'));
    return el('section', {class: 'trigger'}, el('h2', {}, 'Trigger'),
      el('dl', {class: 'facts'},
        fact('Kind', trigger.kind),
        fact('Received', timeEl(trigger.receivedAt)),
        trigger.firedAt ? fact('Fired at', timeEl(trigger.firedAt)) : null,
        trigger.eventType ? fact('Event type', trigger.eventType) : null),
      trigger.body !== null && trigger.body !== undefined ? [el('h3', {}, 'Body'), pre(trigger.body, 'trigger-body')] : null,
      trigger.data !== null && trigger.data !== undefined ? [el('h3', {}, 'Data'), pre(trigger.data, 'trigger-data')] : null,
      trigger.headers && Object.keys(trigger.headers).length ? [el('h3', {}, 'Headers'), pre(trigger.headers)] : null);
  }

  function executionItem(ex) {
    return el('li', {class: 'execution'},
      el('strong', {}, ex.name), ' ', el('span', {class: 'machine'}, ex.machine),
      ' · outcome: ', el('span', {class: 'outcome'}, ex.outcome || (ex.replacedBy ? `replaced by ${ex.replacedBy}` : 'in progress')),
      ex.startAt ? ` · from ${ex.startAt}` : '',
      ex.waitSeconds ? ` · waited ${ex.waitSeconds} s first` : '',
      el('div', {class: 'meta'}, 'requested ', timeEl(ex.requestedAt), ', started ', timeEl(ex.startedAt),
        ', ended ', timeEl(ex.endedAt)),
      ex.reason ? el('div', {class: 'reason'}, ex.reason) : null,
      ex.error ? el('div', {class: 'exec-error'}, `${ex.error.type}: ${ex.error.message}`) : null,
      ex.consoleUrl ? el('a', {class: 'console-link', href: ex.consoleUrl, target: '_blank', rel: 'noopener noreferrer'},
        'Step Functions console') : null);
  }

  function historyList(history, cls) {
    return el('ol', {class: `history ${cls || ''}`}, (history || []).map((h) => el('li', {},
      statusBadge(h.status), ' ', timeEl(h.at),
      h.cause ? el('span', {class: 'cause'}, ` — ${h.cause}`) : null,
      h.by ? el('span', {class: 'by'}, ` (by ${h.by})`) : null)));
  }

  function errorSpans(error) {
    return [el('span', {class: 'error-type'}, error.type), ': ', el('span', {class: 'error-message'}, error.message)];
  }

  function truncatedMark(paths) {
    return el('span', {class: 'truncated', title: (paths || []).join(', ') || null},
      'truncated', paths && paths.length ? ` (${paths.join(', ')})` : '');
  }

  function httpBlock(http, truncated) {
    const req = http.request || {};
    const res = http.response;
    const cut = (part) => (truncated || []).some((p) => p.includes(`/http/${part}`));
    const request = el('div', {class: 'http-request'}, el('h5', {}, 'Request'),
      el('p', {class: 'http-line'}, el('strong', {}, req.method || ''), ' ', el('span', {class: 'url'}, req.url || '')),
      req.headers ? pre(req.headers, 'http-headers') : null,
      req.body !== null && req.body !== undefined ? bodyPre(req.body) : null,
      cut('request') ? truncatedMark(truncated.filter((p) => p.includes('/http/request'))) : null);
    const response = res
      ? el('div', {class: 'http-response'}, el('h5', {}, 'Response'),
        el('p', {}, 'Status ', el('span', {class: 'http-status'}, res.status),
          res.bodyTruncated || cut('response') ? [' ', truncatedMark(truncated)] : null),
        res.headers ? pre(res.headers, 'http-headers') : null,
        res.body !== null && res.body !== undefined ? bodyPre(res.body) : null)
      : el('div', {class: 'http-response'}, el('h5', {}, 'Response'), el('p', {}, 'No response.'));
    return el('div', {class: 'http'}, request, response);
  }

  function attemptItem(attempt, previous) {
    const waited = previous ? msBetween(previous.endedAt, attempt.startedAt) : null;
    const shownMark = attempt.http && ((attempt.truncated || []).some((p) => p.includes('/http/'))
      || (attempt.http.response || {}).bodyTruncated);
    return el('li', {class: `attempt attempt-${attempt.status}`},
      el('div', {class: 'attempt-head'},
        el('strong', {}, `Attempt ${attempt.attempt}`), ' ', statusBadge(attempt.status), ' ',
        timeEl(attempt.startedAt), ' · took ', formatDuration(attempt.durationMs),
        waited !== null ? [' · ', el('span', {class: 'wait'}, `waited ${formatDuration(waited)}`)] : null),
      attempt.error ? el('div', {class: 'attempt-error'}, errorSpans(attempt.error)) : null,
      attempt.http ? httpBlock(attempt.http, attempt.truncated) : null,
      attempt.truncated && attempt.truncated.length && !shownMark ? truncatedMark(attempt.truncated) : null);
  }

  /** The nodes whose step had values left out of the run's answer (its `omitted`: /steps/<index>/...). */
  function stepsLeftOut(run) {
    const ids = (run.omitted || []).map((pointer) => pointer.split('/'))
      .filter((parts) => parts[1] === 'steps').map((parts) => ((run.steps || [])[Number(parts[2])] || {}).nodeId);
    return new Set(ids.filter(Boolean));
  }

  function leftOutNote(step, loadWhole) {
    return el('p', {class: 'omitted'}, 'Some values of this step were too large to show with the run. ',
      el('button', {type: 'button', class: 'load-step', onclick: () => loadWhole(step.nodeId)}, 'Show the whole step'));
  }

  function stepItem(step, openState, leftOut, loadWhole) {
    const failed = step.status === 'failed';
    const remembered = openState.get(step.nodeId);
    // a reader's own open/close survives the 2 s refresh unless the step's status moved
    const open = remembered && remembered.status === step.status ? remembered.open : failed;
    const attempts = step.attempts || [];
    const details = el('details', {open},
      el('summary', {},
        el('span', {class: 'step-number'}, `#${step.stepNumber}`), ' ',
        el('span', {class: 'node-id'}, step.nodeId), ' ', el('span', {class: 'node-type'}, `(${step.nodeType})`), ' ',
        statusBadge(step.status, 'step-status'), ' ',
        el('span', {class: 'meta'}, timeEl(step.startedAt), ' → ', timeEl(step.endedAt))),
      el('div', {class: 'step-body'},
        step.error ? el('div', {class: 'step-error'}, errorSpans(step.error)) : null,
        el('dl', {class: 'facts'},
          step.queuedAt ? fact('Queued', timeEl(step.queuedAt)) : null,
          fact('Started', timeEl(step.startedAt)), fact('Ended', timeEl(step.endedAt)),
          step.wakeAt ? fact('Wakes at', timeEl(step.wakeAt)) : null,
          step.carriedFrom ? fact('Carried from', el('a', {href: runHref(step.carriedFrom)}, step.carriedFrom)) : null,
          step.ranInline ? fact('Ran inline', 'yes') : null),
        leftOut.has(step.nodeId) ? leftOutNote(step, loadWhole) : null,
        step.truncated && step.truncated.length ? truncatedMark(step.truncated) : null,
        step.input !== null && step.input !== undefined ? [el('h4', {}, 'Input'), pre(step.input, 'step-input')] : null,
        step.output !== null && step.output !== undefined ? [el('h4', {}, 'Output'), pre(step.output, 'step-output')]
          : null,
        attempts.length ? [el('h4', {}, 'Attempts'),
          el('ol', {class: 'attempts'}, attempts.map((a, i) => attemptItem(a, attempts[i - 1])))] : null,
        el('h4', {}, 'Status history'), historyList(step.history, 'step-history')));
    return el('li', {class: failed ? 'step failed' : 'step', 'data-node-id': step.nodeId}, details);
  }

  function runBody(run, openState, loadWhole) {
    const leftOut = stepsLeftOut(run);
    const steps = [...(run.steps || [])].sort((a, b) => a.stepNumber - b.stepNumber);
    return [
      runFacts(run),
      triggerSection(run.trigger),
      el('section', {}, el('h2', {}, 'Executions'),
        el('ul', {id: 'executions'}, (run.executions || []).map(executionItem))),
      el('section', {}, el('h2', {}, 'Status history'), historyList(run.history, 'run-history')),
      el('section', {}, el('h2', {}, 'Steps'),
        steps.length ? el('ol', {id: 'steps'}, steps.map((s) => stepItem(s, openState, leftOut, loadWhole)))
          : [el('p', {}, 'No steps yet.'), el('ol', {id: 'steps'})]),
    ];
  }

  function actionButtons(run, act) {
    const reason = el('input', {id: 'cancel-reason', type: 'text', maxlength: 500, autocomplete: 'off'});
    return [
      RETRIGGERABLE.has(run.status) ? el('button', {id: 'retrigger', type: 'button', onclick: () => act('retrigger', {})},
        'Re-trigger from the start') : null,
      run.status === 'failed' ? el('button', {id: 'retrigger-failed', type: 'button',
        onclick: () => act('retrigger', {fromStep: 'failed'})}, 'Re-trigger from the failed step') : null,
      RESUMABLE.has(run.status) ? el('button', {id: 'resume', type: 'button', onclick: () => act('resume', {})},
        'Resume') : null,
      CANCELLABLE.has(run.status) ? el('span', {class: 'cancel-group'},
        el('label', {for: 'cancel-reason'}, 'Cancel reason (optional)'), reason,
        el('button', {id: 'cancel', type: 'button',
          onclick: () => act('cancel', reason.value.trim() ? {reason: reason.value.trim()} : {})}, 'Cancel run'))
        : null,
    ];
  }

  /** The new run's id in a re-trigger answer: newRunId, runIds or runId, whichever differs from the old. */
  function newRunIdOf(answer, oldId) {
    const candidates = [answer && answer.newRunId, ...((answer && answer.runIds) || []), answer && answer.runId];
    return candidates.find((id) => typeof id === 'string' && id && id !== oldId) || null;
  }

  async function renderRun(runId) {
    const {token} = startPage(`Run ${runId}`);
    const buttons = el('div', {class: 'action-buttons'});
    const body = el('div', {class: 'run-body', 'aria-busy': 'true'}, el('p', {}, 'Loading…'));
    app.append(el('section', {class: 'actions', 'aria-label': 'Actions'}, buttons, outcomeBox()), body);
    let shownStatus = null;
    const wholeSteps = new Map(); // steps read alone (GET /runs/{id}/steps/{nodeId}): the run left values out

    async function loadWhole(nodeId) {
      try {
        const step = await api(`/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(nodeId)}`);
        if (!alive(token)) return;
        wholeSteps.set(nodeId, step);
        await refresh();
      } catch (error) {
        if (alive(token) && !error.handled) showError(error);
      }
    }

    /** The run with the steps read whole in their place (while each is as the run shows it). */
    function withWholeSteps(run) {
      const steps = run.steps || [];
      const kept = steps.map((s) => {
        const whole = wholeSteps.get(s.nodeId);
        return whole && whole.status === s.status && (whole.attempts || []).length === (s.attempts || []).length ? whole : s;
      });
      const omitted = (run.omitted || []).filter((pointer) => {
        const parts = pointer.split('/');
        return parts[1] !== 'steps' || kept[Number(parts[2])] === steps[Number(parts[2])];
      });
      return {...run, steps: kept, omitted};
    }

    async function act(kind, payload) {
      buttons.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      setOutcome(el('p', {}, 'Working…'));
      try {
        const answer = await api(`/runs/${encodeURIComponent(runId)}/${kind}`, {method: 'POST', body: payload});
        if (!alive(token)) return;
        setOutcome(actionSuccess(kind, answer, runId));
      } catch (error) {
        if (!alive(token) || error.handled) return;
        setOutcome(el('p', {class: 'outcome-error'}, errorLine(error)));
      }
      shownStatus = null; // rebuild the buttons whatever the status is now
      await refresh();
    }

    async function refresh() {
      clearTimeout(pollTimer);
      let run;
      try {
        run = await api(`/runs/${encodeURIComponent(runId)}`);
      } catch (error) {
        if (alive(token)) {
          body.removeAttribute('aria-busy');
          body.replaceChildren(el('p', {}, 'The run could not be loaded.'));
          showError(error);
        }
        return;
      }
      if (!alive(token)) return;
      const openState = new Map([...body.querySelectorAll('li.step')].map((li) => [li.dataset.nodeId,
        {open: li.querySelector('details').open, status: (li.querySelector('.step-status') || {}).textContent}]));
      body.removeAttribute('aria-busy');
      refill(body, runBody(withWholeSteps(run), openState, loadWhole));
      if (run.status !== shownStatus) {
        const focused = document.activeElement && document.activeElement.id;
        refill(buttons, actionButtons(run, act));
        shownStatus = run.status;
        const again = focused && document.getElementById(focused);
        if (again && buttons.contains(again)) again.focus();
      }
      clearTimeout(pollTimer); // an action's reload may overlap a poll: keep one timer
      if (UNFINISHED.has(run.status)) pollTimer = setTimeout(() => alive(token) && refresh(), POLL_MS);
    }

    await ensureFlowNames();
    if (alive(token)) await refresh();
  }

  function actionSuccess(kind, answer, runId) {
    if (kind === 'retrigger') {
      const newId = newRunIdOf(answer, runId);
      return newId
        ? el('p', {class: 'outcome-ok'}, 'Re-triggered: new run ', el('a', {class: 'new-run', href: runHref(newId)}, newId))
        : [el('p', {class: 'outcome-ok'}, 'Re-trigger accepted; the answer named no new run:'), pre(answer)];
    }
    if (kind === 'cancel') return el('p', {class: 'outcome-ok'}, `Cancelled: the run is ${(answer || {}).status || 'cancelled'}.`);
    return el('p', {class: 'outcome-ok'}, 'Resumed', answer && answer.execution ? ` in execution ${answer.execution}` : '', '.');
  }

  async function ensureFlowNames() {
    if (!flowCache.size) await loadFlows().catch(showError);
  }

  // --- ops ---------------------------------------------------------------------------------

  async function renderOps() {
    const {token} = startPage('Ops');
    const overdue = el('section', {class: 'ops-overdue', 'aria-labelledby': 'h-overdue'},
      el('h2', {id: 'h-overdue'}, 'Overdue runs'), el('p', {}, 'Loading…'));
    const failures = el('section', {class: 'ops-failures', 'aria-labelledby': 'h-failures'},
      el('h2', {id: 'h-failures'}, 'Failures per flow, last hour'), el('p', {}, 'Loading…'));
    const interrupted = el('section', {class: 'ops-interrupted', 'aria-labelledby': 'h-interrupted'},
      el('h2', {id: 'h-interrupted'}, 'Interrupted runs'));
    if (DASHBOARD_URL.startsWith('https://')) {
      app.append(el('p', {class: 'dashboard'}, 'Signals and alarms over time: ',
        el('a', {id: 'dashboard-link', href: DASHBOARD_URL, target: '_blank', rel: 'noopener noreferrer'},
          'the CloudWatch dashboard')));
    }
    app.append(overdue, failures, interrupted);
    await ensureFlowNames();
    if (!alive(token)) return;
    await Promise.all([
      fillOverdue(overdue, token).catch(showError),
      fillFailures(failures, token).catch(showError),
      fillInterrupted(interrupted, token).catch(showError),
    ]);
  }

  async function fillOverdue(section, token) {
    const data = await api(`/ops/overdue${query({limit: PAGE_SIZE})}`);
    if (!alive(token)) return;
    const byFlow = [...data.byFlow].sort((a, b) => String(a.oldest).localeCompare(String(b.oldest)));
    refill(section, section.firstChild,
      el('p', {class: 'big-count'}, el('span', {id: 'overdue-count'}, data.count), ' overdue ',
        data.count === 1 ? 'run' : 'runs', data.count ? ' — a growing count means the engine is falling behind.' : ''),
      tableWrap(el('table', {id: 'overdue-by-flow'}, headRow('Flow', 'Overdue', 'Oldest due'),
        el('tbody', {}, byFlow.length ? byFlow.map((f) => el('tr', {'data-flow-id': f.flowId},
          el('td', {}, el('a', {href: flowHref(f.flowId)}, flowName(f.flowId))),
          el('td', {class: 'num'}, f.count), el('td', {}, timeEl(f.oldest))))
          : el('tr', {}, el('td', {colspan: 3}, 'No overdue runs.'))))),
      data.items.length ? [el('h3', {}, 'Overdue runs, oldest first'),
        tableWrap(el('table', {class: 'overdue-runs'},
          headRow('Run', 'Flow', 'Due', 'Status', 'Duration', 'Failed step', 'Trigger'),
          el('tbody', {}, data.items.map((run) => runRow(run, true))))),
        data.nextCursor ? el('p', {class: 'muted'}, `The ${data.items.length} oldest are listed.`) : null] : null);
  }

  async function fillFailures(section, token) {
    const data = await api('/ops/summary?window=PT1H');
    if (!alive(token)) return;
    const account = data.account || {current: {}, previous: {}};
    const rows = (data.flows || []).map((f) => el('tr', {'data-flow-id': f.flowId, class: f.spike ? 'spike' : null},
      el('td', {}, el('a', {href: flowHref(f.flowId)}, f.name || flowName(f.flowId))),
      el('td', {class: f.current.failed ? 'num failed-now' : 'num'}, f.current.failed || 0),
      el('td', {class: 'num'}, f.previous.failed || 0),
      el('td', {class: 'num'}, Object.values(f.current).reduce((s, n) => s + n, 0)),
      el('td', {}, f.spike ? el('span', {class: 'badge-spike'}, 'spike') : '')));
    refill(section, section.firstChild,
      el('p', {}, 'Account: ', el('strong', {}, account.current.failed || 0), ' failed (previous hour ',
        account.previous.failed || 0, ')', account.spike ? [' ', el('span', {class: 'badge-spike'}, 'spike')] : ''),
      el('p', {class: data.spikingFlows > 1 ? 'escalate' : null}, 'Spiking flows: ',
        el('strong', {id: 'spiking-flows'}, data.spikingFlows),
        data.spikingFlows > 1 ? ' — more than one: escalate (the handbook’s signal).' : ''),
      el('p', {class: 'rule'}, 'Rule: ', data.rule),
      data.partial ? el('p', {class: 'warning'}, 'Partial: too many runs to read them all; counts are of the newest.')
        : null,
      tableWrap(el('table', {id: 'failures-by-flow'},
        headRow('Flow', 'Failed', 'Failed (previous hour)', 'Runs', 'Spike'),
        el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', {colspan: 5}, 'No runs in the last two hours.'))))));
  }

  async function fillInterrupted(section, token) {
    const tbody = el('tbody');
    const selectAll = el('input', {type: 'checkbox', id: 'select-all-interrupted', 'aria-label': 'Select all'});
    const resume = el('button', {id: 'resume-selected', type: 'button'}, 'Resume selected');
    const note = el('p', {class: 'muted', hidden: true}, 'More are interrupted: resume these, and the next appear.');

    const row = (run) => el('tr', {'data-run-id': run.runId},
      el('td', {}, el('input', {type: 'checkbox', class: 'select-run', value: run.runId,
        'aria-label': `Select run ${run.runId}`})),
      el('td', {}, el('a', {class: 'run-link', href: runHref(run.runId)}, run.runId)),
      el('td', {}, el('a', {href: flowHref(run.flowId)}, flowName(run.flowId))),
      el('td', {}, timeEl(run.scheduledFor)),
      el('td', {}, statusBadge(run.status)),
      el('td', {}, run.error ? `${run.error.type}: ${run.error.message}` : ''));

    // one long page (the API's most): these are picked for a bulk resume, not browsed
    async function load() {
      const page = await api(`/runs${query({status: 'interrupted', limit: 100})}`);
      if (!alive(token)) return;
      refill(tbody, page.items.length ? page.items.map(row) : el('tr', {}, el('td', {colspan: 6}, 'No interrupted runs.')));
      note.hidden = !page.nextCursor;
      selectAll.checked = false;
    }

    selectAll.addEventListener('change', () => {
      tbody.querySelectorAll('input.select-run').forEach((box) => { box.checked = selectAll.checked; });
    });
    resume.addEventListener('click', async () => {
      const ids = [...tbody.querySelectorAll('input.select-run:checked')].map((box) => box.value);
      if (!ids.length) {
        setOutcome(el('p', {}, 'Select at least one run to resume.'));
        return;
      }
      resume.disabled = true;
      setOutcome(el('p', {}, `Resuming ${ids.length} run(s)…`));
      const lines = [];
      for (const id of ids) { // one at a time: each answer is reported on its own line
        try {
          const answer = await api(`/runs/${encodeURIComponent(id)}/resume`, {method: 'POST', body: {}});
          lines.push(el('li', {class: 'outcome-ok', 'data-run-id': id}, el('a', {href: runHref(id)}, id),
            `: resumed${answer && answer.execution ? ` (execution ${answer.execution})` : ''}`));
        } catch (error) {
          if (error.handled) return;
          lines.push(el('li', {class: 'outcome-error', 'data-run-id': id}, el('a', {href: runHref(id)}, id), ': ',
            errorLine(error)));
        }
      }
      if (!alive(token)) return;
      setOutcome(el('ul', {class: 'outcomes'}, lines));
      resume.disabled = false;
      await load().catch(showError);
    });

    section.append(
      el('p', {}, 'Cut off by the platform: resume continues each from its interrupted step.'),
      tableWrap(el('table', {id: 'interrupted'},
        el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, selectAll),
          ['Run', 'Flow', 'Due', 'Status', 'Error'].map((l) => el('th', {scope: 'col'}, l)))), tbody)),
      note, el('div', {class: 'bulk-actions'}, resume), outcomeBox());
    await load();
  }

  // --- start -------------------------------------------------------------------------------

  window.addEventListener('unhandledrejection', (event) => showError(event.reason));
  window.addEventListener('hashchange', () => route(true));
  buildHeader();
  route();
})();
