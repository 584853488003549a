// stockd dashboard. Reads the /v1 API with the operator's read token and draws everything itself:
// tables from /v1/status, /v1/sync/*, /v1/skus/*, charts as inline SVG from /v1/history. Every
// value from the server goes into the page as text (textContent), never as markup.
'use strict';

(() => {
  const TOKEN_KEY = 'stockd.read_token';
  const REFRESH_MS = 5000;
  const FETCH_TIMEOUT_MS = 10000;
  const OUT_OF_SYNC_LIMIT = 50;
  const DEAD_LETTER_LIMIT = 20;
  const LEDGER_LIMIT = 20;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  let timer = null;

  // ---- the address's fragment: #token=...&sku=... --------------------------------------------

  function hashParams() {
    return new URLSearchParams(location.hash.replace(/^#/, ''));
  }

  function setHashParams(params) {
    const text = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (text ? '#' + text : ''));
  }

  /// A token in the fragment (a link from a runbook, a test) goes to session storage and out of
  /// the address bar, so it is not left in the history or shown on screen.
  function takeTokenFromHash() {
    const params = hashParams();
    if (params.has('token')) {
      const token = params.get('token').trim();
      if (token) {
        sessionStorage.setItem(TOKEN_KEY, token);
      }
      params.delete('token');
      setHashParams(params);
    }
  }

  // ---- DOM helpers ----------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function num(value) {
    return el('td', { class: 'num' }, value === null || value === undefined ? '—' : fmt(value));
  }

  function fmt(value) {
    if (typeof value === 'number') {
      return Number.isInteger(value) ? value.toLocaleString('en-US')
                                     : value.toLocaleString('en-US', { maximumFractionDigits: 1 });
    }
    return String(value);
  }

  function age(ms) {
    if (ms === null || ms === undefined) return '—';
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  function skuLink(sku) {
    const params = new URLSearchParams();
    params.set('sku', sku);
    return el('a', { href: '#' + params.toString(), class: 'sku-link' }, sku);
  }

  function fillBody(table, rows, emptyNote) {
    const body = table.tBodies[0];
    body.replaceChildren(...rows);
    table.hidden = rows.length === 0;
    if (emptyNote) emptyNote.hidden = rows.length !== 0;
  }

  // ---- the API --------------------------------------------------------------------------------

  class AuthError extends Error {}

  async function api(path) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) throw new AuthError('no token');
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, {
        headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
        cache: 'no-store', signal: abort.signal,
      });
      if (res.status === 401 || res.status === 403) {
        const body = await res.json().catch(() => ({}));
        throw new AuthError(res.status === 403 ? 'this token lacks the read scope'
                                               : (body.error || 'token refused'));
      }
      if (res.status === 404) return null;
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        throw new Error(path + ': HTTP ' + res.status + (body.error ? ': ' + body.error : ''));
      }
      return await res.json();
    } catch (e) {
      if (e.name === 'AbortError') throw new Error(path + ': no answer in ' + FETCH_TIMEOUT_MS / 1000 + ' s');
      throw e;
    } finally {
      clearTimeout(deadline);
    }
  }

  // ---- header summary ---------------------------------------------------------------------------

  function renderSummary(status) {
    const item = (label, value, cls) =>
      el('span', cls ? { class: cls } : {}, label + ' ', el('b', {}, fmt(value)));
    $('summary').replaceChildren(
      item('status', status.status, status.status === 'ready' ? 'good' : 'warn'),
      item('up', age(status.uptime_s * 1000)),
      item('events accepted', status.events.accepted),
      item('journal head', status.journal.head),
      item('in flight', status.engine.in_flight),
      item('oversold units', status.engine.oversold_units,
           status.engine.oversold_units > 0 ? 'bad' : null));
  }

  // ---- channel health ---------------------------------------------------------------------------

  function circuitBadge(circuit) {
    const cls = circuit === 'closed' ? 'good' : circuit === 'open' ? 'bad' : 'warn';
    return el('span', { class: 'badge ' + cls }, circuit);
  }

  function renderChannels(channels) {
    const rows = channels.map((c) => {
      const use = Math.max(0, Math.min(1, c.rate_limit_use || 0));
      const meter = el('meter', { min: '0', max: '1', low: '0.5', high: '0.9', optimum: '0',
                                  value: use.toFixed(3) });
      return el('tr', { 'data-channel': c.id },
        el('td', {}, el('b', {}, c.id)),
        el('td', {}, c.connector),
        el('td', {}, circuitBadge(c.circuit)),
        num(c.queued.urgent), num(c.queued.normal), num(c.queued.bulk),
        el('td', {}, meter, ' ' + Math.round(use * 100) + ' %'),
        num(c.calls),
        el('td', { class: 'num' + (c.throttled > 0 ? ' warn' : '') }, fmt(c.throttled)),
        el('td', { class: 'num' + (c.failures > 0 ? ' bad' : '') }, fmt(c.failures)),
        num(c.retries),
        el('td', { class: 'num' + (c.out_of_sync > 0 ? ' warn' : '') }, fmt(c.out_of_sync)),
        el('td', {}, c.out_of_sync > 0 ? age(c.oldest_out_of_sync_ms) : '—'),
        el('td', { class: 'num' + (c.dead_letters > 0 ? ' bad' : '') }, fmt(c.dead_letters)),
        el('td', c.outbox.error ? { class: 'bad' } : {},
           c.outbox.error ? c.outbox.error : fmt(c.outbox.writes) + ' stored'));
    });
    fillBody($('channel-table'), rows, $('channels-empty'));
  }

  // ---- out of sync, dead letters ----------------------------------------------------------------

  function syncRows(entries) {
    return entries.map((e) => el('tr', { 'data-sku': e.sku, 'data-channel': e.channel },
      el('td', {}, e.channel),
      el('td', {}, skuLink(e.sku)),
      num(e.expected),
      num(e.last_pushed),
      el('td', {}, e.since),
      el('td', {}, age(e.age_ms)),
      el('td', {}, e.reason)));
  }

  function renderOutOfSync(list) {
    const entries = list ? list.out_of_sync : [];
    fillBody($('oos-table'), syncRows(entries), $('oos-empty'));
    $('oos-count').textContent = entries.length >= OUT_OF_SYNC_LIMIT
      ? '(the oldest ' + OUT_OF_SYNC_LIMIT + ')' : '(' + entries.length + ')';
  }

  function renderDeadLetters(list) {
    fillBody($('dead-table'), syncRows(list ? list.dead_letters : []), $('dead-empty'));
  }

  // ---- one SKU ----------------------------------------------------------------------------------

  const BUCKETS = ['available', 'committed', 'reserved', 'safety_stock', 'damaged',
                   'quality_control', 'incoming', 'on_hand', 'oversold'];

  function table(id, headers, rows) {
    return el('table', { id },
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows));
  }

  function eventQuantity(ev) {
    if (ev.type === 'adjusted') return (ev.delta > 0 ? '+' : '') + ev.delta;
    if (ev.type === 'counted') return '= ' + ev.counted;
    return ev.qty;
  }

  function renderSku(sku, view, ledger) {
    const out = $('sku-view');
    if (!view) {
      out.replaceChildren(el('p', { class: 'empty' }, 'stockd has no stock record of ' + sku + '.'));
      return;
    }
    const parts = [el('h3', {}, view.sku, view.complete ? null
      : el('small', { class: 'warn' }, ' (a location did not answer: partial)'))];
    const locations = Object.entries(view.locations || {});
    if (locations.length > 0) {
      parts.push(el('h3', {}, 'Buckets per location'));
      parts.push(table('sku-buckets', ['location', ...BUCKETS.map((b) => b.replace('_', ' ')),
                                       'last event', 'applied seq'],
        locations.map(([location, b]) => el('tr', { 'data-location': location },
          el('td', {}, el('b', {}, location)),
          ...BUCKETS.map((k) => num(b[k])),
          el('td', {}, b.last_event ? b.last_event.source + ':' + b.last_event.id : '—'),
          num(b.applied_seq)))));
    }
    if (view.kit) {
      parts.push(el('h3', {}, 'Kit: ', el('small', {}, fmt(view.kit.available) + ' available')));
      parts.push(table('sku-kit', ['component', 'per kit', 'available'],
        view.kit.components.map((c) => el('tr', {}, el('td', {}, skuLink(c.sku)), num(c.qty),
                                          num(c.available)))));
    }
    const channels = Object.entries(view.channels || {});
    if (channels.length > 0) {
      parts.push(el('h3', {}, 'Channels: expected vs pushed'));
      parts.push(table('sku-channels',
        ['channel', 'expected', 'last pushed', 'in sync', 'out of sync since', 'why'],
        channels.map(([id, c]) => el('tr', { 'data-channel': id },
          el('td', {}, el('b', {}, id)), num(c.expected), num(c.last_pushed),
          el('td', { class: c.in_sync ? 'good' : 'warn' }, c.in_sync ? 'yes' : 'no'),
          el('td', {}, c.out_of_sync_since || '—'), el('td', {}, c.reason || '')))));
    }
    const events = ledger ? ledger.events : [];
    parts.push(el('h3', {}, 'Recent ledger ', el('small', {}, '(newest first, at most ' +
                                                         LEDGER_LIMIT + ')')));
    if (events.length === 0) {
      parts.push(el('p', { class: 'empty' }, 'No event.'));
    } else {
      parts.push(table('sku-ledger',
        ['seq', 'received', 'type', 'location', 'qty', 'source', 'id', 'order / ref'],
        events.map((ev) => el('tr', {},
          num(ev.seq), el('td', {}, ev.received_at), el('td', {}, ev.type),
          el('td', {}, ev.location), el('td', { class: 'num' }, String(eventQuantity(ev))),
          el('td', {}, ev.source), el('td', {}, ev.id),
          el('td', {}, ev.order_id || ev.po_id || ev.transfer_id || ev.reservation_id ||
                       ev.reason || '')))));
    }
    out.replaceChildren(...parts);
  }

  async function loadSku(sku) {
    const path = '/v1/skus/' + encodeURIComponent(sku);
    const [view, ledger] = await Promise.all([
      api(path), api(path + '/events?limit=' + LEDGER_LIMIT)]);
    renderSku(sku, view, ledger);
  }

  // ---- charts -----------------------------------------------------------------------------------

  const CHART = { width: 560, height: 170, left: 52, right: 12, top: 12, bottom: 26 };

  /// Rounds up to 1, 2 or 5 × 10^n, so the axis reads well.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 5, 10]) if (m * p >= value) return m * p;
    return 10 * p;
  }

  /// `series`: [{ name, points: [[t_ms, value or null], ...] }]; x spans [end − window, end].
  function drawChart(figure, series, end, windowMs) {
    const { width, height, left, right, top, bottom } = CHART;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const start = end - windowMs;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) if (v !== null && v > max) max = v;
    const yMax = niceMax(max);
    const x = (t) => left + Math.max(0, Math.min(1, (t - start) / windowMs)) * plotW;
    const y = (v) => top + plotH - (v / yMax) * plotH;
    const root = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`,
                              role: 'img', 'aria-label': figure.querySelector('figcaption').textContent });
    for (const frac of [0, 0.5, 1]) {
      const gy = top + plotH - frac * plotH;
      root.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: gy, y2: gy }));
      const tick = frac * yMax;
      root.append(svg('text', { class: 'axis-label', x: left - 6, y: gy + 4, 'text-anchor': 'end' },
                      tick.toLocaleString('en-US', { maximumFractionDigits: 2 })));
    }
    const minutes = Math.round(windowMs / 60000);
    for (const [frac, label] of [[0, '−' + minutes + ' min'], [0.5, '−' + minutes / 2 + ' min'],
                                 [1, 'now']]) {
      root.append(svg('text', { class: 'axis-label', x: left + frac * plotW, y: height - 8,
                                'text-anchor': frac === 0 ? 'start' : frac === 1 ? 'end' : 'middle' },
                      label));
    }
    let any = false;
    series.forEach((s, i) => {
      // A gap (null) breaks the line: no latency measured is not a latency of 0.
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          root.append(svg('polyline', { class: `series series-${i}`,
                                        points: run.map(([px, py]) => px.toFixed(1) + ',' + py.toFixed(1)).join(' ') }));
        }
        run = [];
      };
      for (const [t, v] of s.points) {
        if (v === null || t < start) { flush(); continue; }
        run.push([x(t), y(v)]);
        any = true;
      }
      flush();
      const last = [...s.points].reverse().find(([, v]) => v !== null);
      if (last) {
        root.append(svg('circle', { class: `dot-${i}`, cx: x(last[0]).toFixed(1),
                                    cy: y(last[1]).toFixed(1), r: 3 }));
      }
      // Top left: the newest points are drawn at the right edge.
      root.append(svg('text', { class: `legend-${i}`, x: left + 6, y: top + 12 + 14 * i,
                                'text-anchor': 'start' },
                      s.name + ': ' + (last ? fmt(last[1]) : '—')));
    });
    if (!any) {
      root.append(svg('text', { class: 'nodata', x: left + plotW / 2, y: top + plotH / 2,
                                'text-anchor': 'middle' }, 'no data yet'));
    }
    figure.querySelector('svg')?.remove();
    figure.append(root);
  }

  function renderHistory(h) {
    const samples = h.current.duration_ms > 0 ? [...h.samples, h.current] : h.samples;
    const endOf = (s) => s.start_ms + s.duration_ms;
    const end = samples.length ? endOf(samples[samples.length - 1]) : Date.now();
    const windowMs = h.interval_ms * h.capacity;
    const points = (f) => samples.map((s) => [endOf(s), f(s)]);
    drawChart($('chart-ingest'), [{ name: 'events/s', points: points((s) => s.events_per_s) }],
              end, windowMs);
    drawChart($('chart-latency'), [
      { name: 'p50', points: points((s) => s.latency_p50_ms) },
      { name: 'p99', points: points((s) => s.latency_p99_ms) }], end, windowMs);
    drawChart($('chart-oversold'), [{ name: 'units', points: points((s) => s.oversold_units) }],
              end, windowMs);
    drawChart($('chart-variances'),
              [{ name: 'variances', points: points((s) => s.reconciliation_variances) }],
              end, windowMs);
    $('history-note').textContent = '(' + h.samples.length + ' of ' + h.capacity + ' samples of ' +
                                    h.interval_ms / 1000 + ' s, and the one in progress)';
  }

  // ---- the loop ---------------------------------------------------------------------------------

  function showLogin(message) {
    $('main').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token-input').focus();
  }

  async function refresh() {
    clearTimeout(timer);
    const sku = hashParams().get('sku');
    try {
      const [status, oos, dead, history] = await Promise.all([
        api('/v1/status'),
        api('/v1/sync/out-of-sync?limit=' + OUT_OF_SYNC_LIMIT),
        api('/v1/sync/dead-letters?limit=' + DEAD_LETTER_LIMIT),
        api('/v1/history')]);
      $('login').hidden = true;
      $('main').hidden = false;
      $('logout').hidden = false;
      renderSummary(status);
      renderChannels(status.channels || []);
      renderOutOfSync(oos);
      renderDeadLetters(dead);
      renderHistory(history);
      if (sku) {
        $('sku-input').value = sku;
        await loadSku(sku);
      } else {
        $('sku-view').replaceChildren();
      }
      $('error').hidden = true;
      $('main').dataset.state = 'ready';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString('en-GB');
    } catch (e) {
      if (e instanceof AuthError) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(e.message === 'no token' ? '' : e.message);
        return;  // no refresh until a token is given
      }
      $('error').textContent = 'Refresh failed: ' + e.message + ' (retrying)';
      $('error').hidden = false;
      $('main').dataset.state = 'error';
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function start() {
    takeTokenFromHash();
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token-input').value = '';
      refresh();
    });
    $('logout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      clearTimeout(timer);
      showLogin('');
    });
    $('sku-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const params = hashParams();
      params.set('sku', $('sku-input').value.trim());
      location.hash = params.toString();  // hashchange refreshes
    });
    window.addEventListener('hashchange', () => {
      takeTokenFromHash();
      refresh();
    });
    refresh();
  }

  start();
})();
