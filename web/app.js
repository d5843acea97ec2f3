/*
 * colibri dashboard: a single page over the REST API and the WebSocket
 * stream of `colibri serve`.
 *
 * Design:
 *  - The token typed at login lives in sessionStorage (this tab only) and
 *    travels in the Authorization header (REST) or the first WebSocket
 *    message; never in a URL.
 *  - GET /api/v1/config/stream gives the stream's port; the page connects to
 *    wss://<this host>:<port>/ws, authenticates, subscribes to status,
 *    orders, trades, logs and the selected market's book. A closed stream
 *    shows "disconnected, reconnecting" and retries with backoff (1 s..10 s),
 *    then reloads orders and trades over REST to fill what it missed.
 *  - Live over the stream: mid price (book), open orders (lines on the
 *    chart), fills (markers), trades, connectors, log tail. Strategies and
 *    performance (inventory, PnL) are polled over REST every 2 s.
 *  - Every buffer is bounded (MAX_* below).
 */
'use strict';
(function () {
    const TOKEN_KEY = 'colibri.token';
    const MAX_POINTS = 1200;  // price and PnL points kept
    const MAX_TRADES = 200;   // trades kept (table shows MAX_TRADE_ROWS)
    const MAX_TRADE_ROWS = 50;
    const MAX_LOGS = 300;
    const POLL_MS = 2000;
    const TERMINAL = ['filled', 'canceled', 'cancelled', 'failed', 'rejected', 'expired'];
    const COLORS = { mid: '#5aa9ff', bid: '#2ebd85', ask: '#f0616d', pnl: '#f5a623', inv: '#b48cff' };

    const $ = (id) => document.getElementById(id);
    const state = {
        token: sessionStorage.getItem(TOKEN_KEY),
        ws: null,
        wsState: 'offline',
        retryMs: 1000,
        retryTimer: null,
        pollTimer: null,
        market: null, // {connector, market, topic}
        price: { t: [], mid: [] },
        pnl: { t: [], pnl: [], inv: [] },
        orders: new Map(), // client_order_id -> open order
        trades: [],        // newest first
        logs: [],
        strategies: new Map(),
        priceChart: null,
        pnlChart: null,
        drawPending: false,
        session: 0,        // bumped at logout: stale callbacks do nothing
    };

    /* ---- REST ---- */

    async function api(method, path, body) {
        const opts = { method, headers: { Authorization: 'Bearer ' + state.token } };
        if (body !== undefined) {
            opts.headers['Content-Type'] = 'application/json';
            opts.body = JSON.stringify(body);
        }
        const res = await fetch(path, opts);
        const text = await res.text();
        let data = null;
        try {
            data = text ? JSON.parse(text) : null;
        } catch (e) {
            data = null;
        }
        if (!res.ok) {
            const msg = data && data.error ? data.error.message : res.status + ' ' + res.statusText;
            const err = new Error(msg);
            err.status = res.status;
            throw err;
        }
        return data;
    }

    /* ---- helpers ---- */

    function el(tag, attrs, ...kids) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === 'class') e.className = v;
            else if (k === 'text') e.textContent = v;
            else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
            else e.setAttribute(k, v);
        }
        for (const k of kids) e.append(k);
        return e;
    }

    function fmtTime(ms) {
        const d = new Date(ms);
        return d.toTimeString().slice(0, 8);
    }

    function fmtNum(x, digits) {
        return Number.isFinite(x) ? x.toFixed(digits) : '–';
    }

    function isOpen(o) {
        return !TERMINAL.includes(o.state);
    }

    function inMarket(x) {
        const m = state.market;
        return m && x.connector === m.connector && x.market === m.market;
    }

    function pushBounded(arrs, vals) {
        for (let i = 0; i < arrs.length; i++) {
            arrs[i].push(vals[i]);
            if (arrs[i].length > MAX_POINTS) arrs[i].splice(0, arrs[i].length - MAX_POINTS);
        }
    }

    /* ---- connection state ---- */

    function setWsState(s, detail) {
        state.wsState = s;
        const pill = $('ws-status');
        pill.dataset.state = s;
        pill.textContent = s === 'reconnecting' ? 'disconnected, reconnecting' : s;
        const banner = $('banner');
        banner.hidden = s !== 'reconnecting';
        if (s === 'reconnecting')
            banner.textContent = 'disconnected, reconnecting' + (detail ? ' ' + detail : '') + '…';
    }

    function scheduleReconnect(session) {
        if (session !== state.session) return;
        clearTimeout(state.retryTimer);
        const wait = state.retryMs;
        state.retryMs = Math.min(state.retryMs * 2, 10000);
        setWsState('reconnecting', 'in ' + Math.round(wait / 1000) + ' s');
        state.retryTimer = setTimeout(() => connectWs(session), wait);
    }

    function topics() {
        const t = ['status', 'orders', 'trades', 'logs'];
        if (state.market) t.push(state.market.topic);
        return t;
    }

    async function connectWs(session) {
        if (session !== state.session) return;
        let cfg;
        try {
            cfg = await api('GET', '/api/v1/config/stream');
        } catch (e) {
            if (e.status === 401) return logout('The token was refused: ' + e.message);
            return scheduleReconnect(session);
        }
        if (session !== state.session) return;
        const proto = location.protocol === 'https:' ? 'wss' : 'ws';
        const ws = new WebSocket(proto + '://' + location.hostname + ':' + cfg.port + cfg.path);
        state.ws = ws;
        ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: state.token }));
        ws.onmessage = (ev) => {
            let m;
            try {
                m = JSON.parse(ev.data);
            } catch (e) {
                return;
            }
            onMessage(ws, m);
        };
        ws.onclose = () => {
            if (state.ws !== ws) return;
            state.ws = null;
            scheduleReconnect(session);
        };
    }

    function onMessage(ws, m) {
        switch (m.type) {
        case 'auth':
            ws.send(JSON.stringify({ type: 'subscribe', topics: topics() }));
            if (state.retryMs > 1000) reloadLists(); // we missed events while away
            state.retryMs = 1000;
            setWsState('connected');
            break;
        case 'error':
            if (m.data && m.data.code === 'unauthorized') logout('The stream refused the token: ' + m.data.message);
            else addLog({ ts_ms: Date.now(), level: 'error', message: 'stream: ' + (m.data && m.data.message) });
            break;
        case 'gap':
            reloadLists();
            break;
        case 'book':
            onBook(m);
            break;
        case 'order':
            onOrder(m.data);
            break;
        case 'trade':
            onTrade(m.data);
            break;
        case 'status':
            onStatus(m.data);
            break;
        case 'log':
            addLog(m.data);
            break;
        default:
            break; // heartbeat, subscribed, pong
        }
    }

    /* ---- stream data ---- */

    function onBook(m) {
        const d = m.data || {};
        if (!state.market || m.topic !== state.market.topic) return;
        const bid = d.bids && d.bids.length ? Number(d.bids[0][0]) : NaN;
        const ask = d.asks && d.asks.length ? Number(d.asks[0][0]) : NaN;
        let mid = NaN;
        if (Number.isFinite(bid) && Number.isFinite(ask)) mid = (bid + ask) / 2;
        else mid = Number.isFinite(bid) ? bid : ask;
        if (!Number.isFinite(mid)) return;
        const t = (d.ts_ms || m.ts || Date.now()) / 1000;
        const p = state.price;
        if (p.t.length && t <= p.t[p.t.length - 1]) p.mid[p.mid.length - 1] = mid;
        else pushBounded([p.t, p.mid], [t, mid]);
        $('last-price').textContent = fmtNum(bid, 2) + ' / ' + fmtNum(ask, 2);
        $('price-chart').dataset.points = String(p.t.length);
        redraw();
    }

    function onOrder(o) {
        if (!o || !o.client_order_id) return;
        if (isOpen(o)) state.orders.set(o.client_order_id, o);
        else state.orders.delete(o.client_order_id);
        renderOrders();
        redraw();
    }

    function onTrade(t) {
        if (!t) return;
        state.trades.unshift(t);
        if (state.trades.length > MAX_TRADES) state.trades.length = MAX_TRADES;
        renderTrades();
        redraw();
    }

    function onStatus(s) {
        if (!s) return;
        const st = s.strategies || {};
        $('engine-info').textContent = 'v' + s.version + ' · ' + s.state + ' · strategies ' +
            (st.running || 0) + '/' + (st.total || 0) + ' running';
        renderConnectors(s.connectors || []);
    }

    function addLog(l) {
        if (!l) return;
        state.logs.push(l);
        if (state.logs.length > MAX_LOGS) state.logs.splice(0, state.logs.length - MAX_LOGS);
        const pre = $('logs');
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        const line = el('span', { class: l.level || '' ,
            text: fmtTime(l.ts_ms || Date.now()) + ' ' + (l.level || '').padEnd(5) + ' ' + l.message + '\n' });
        pre.append(line);
        while (pre.childNodes.length > MAX_LOGS) pre.removeChild(pre.firstChild);
        if (atEnd) pre.scrollTop = pre.scrollHeight;
    }

    /* ---- tables ---- */

    function renderOrders() {
        const open = [...state.orders.values()].sort((a, b) => Number(b.price) - Number(a.price));
        const rows = open.map((o) => el('tr', { 'data-order': o.client_order_id },
            el('td', { class: o.side, text: o.side }),
            el('td', { text: o.market }),
            el('td', { class: 'num', text: o.price }),
            el('td', { class: 'num', text: o.amount }),
            el('td', { class: 'num', text: o.executed }),
            el('td', { text: o.strategy == null ? 'manual' : String(o.strategy) })));
        $('open-orders').tBodies[0].replaceChildren(...rows);
        $('open-count').textContent = open.length + ' open';
    }

    function renderTrades() {
        const rows = state.trades.slice(0, MAX_TRADE_ROWS).map((t) => el('tr', {},
            el('td', { text: fmtTime(t.ts_ms) }),
            el('td', { class: t.side, text: t.side }),
            el('td', { text: t.market }),
            el('td', { class: 'num', text: t.price }),
            el('td', { class: 'num', text: t.amount }),
            el('td', { text: t.strategy == null ? 'manual' : String(t.strategy) })));
        $('trades').tBodies[0].replaceChildren(...rows);
    }

    function renderConnectors(list) {
        const rows = list.map((c) => {
            const st = c.status && typeof c.status === 'object'
                ? Object.entries(c.status).map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(' ')
                : String(c.status == null ? '' : c.status);
            return el('tr', {},
                el('td', { text: c.name }),
                el('td', { text: c.type }),
                el('td', { class: c.ready ? 'buy' : 'sell', text: c.ready ? 'ready' : 'not ready' }),
                el('td', { class: 'muted', text: st }));
        });
        $('connectors').tBodies[0].replaceChildren(...rows);
    }

    /* Strategy rows are updated in place so an open parameter editor survives polls. */
    function renderStrategies(list) {
        const tbody = $('strategies').tBodies[0];
        const seen = new Set();
        for (const s of list) {
            const id = String(s.id);
            seen.add(id);
            state.strategies.set(id, s);
            let tr = tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
            if (!tr) {
                tr = strategyRow(s);
                tbody.append(tr);
            }
            tr.querySelector('.st').textContent = s.state;
            tr.querySelector('.st').className = 'st state-' + s.state;
            const running = s.state === 'running';
            tr.querySelector('[data-testid="start-' + id + '"]').disabled = running;
            tr.querySelector('[data-testid="stop-' + id + '"]').disabled = !running;
            const p = tr.querySelector('.params');
            const det = p.querySelector('details');
            const ptext = p.querySelector('.ptext');
            ptext.textContent = JSON.stringify(s.params);
            ptext.title = JSON.stringify(s.params, null, 1);
            if (!det.open) p.querySelector('textarea').value = JSON.stringify(s.params, null, 1);
        }
        for (const tr of [...tbody.rows])
            if (!seen.has(tr.dataset.id)) {
                tr.remove();
                state.strategies.delete(tr.dataset.id);
            }
    }

    function strategyRow(s) {
        const id = String(s.id);
        const err = el('div', { class: 'error' });
        const ta = el('textarea', { 'data-testid': 'params-' + id, spellcheck: 'false' });
        const save = el('button', { type: 'button', 'data-testid': 'save-' + id, text: 'Save',
            onclick: () => saveParams(id, ta, err) });
        const params = el('td', { class: 'params' },
            el('span', { class: 'ptext mono muted' }),
            el('details', {}, el('summary', { text: 'edit' }), ta, el('div', { class: 'row' }, save)),
            err);
        const start = el('button', { type: 'button', 'data-testid': 'start-' + id, text: 'Start',
            onclick: () => command(id, 'start') });
        const stop = el('button', { type: 'button', 'data-testid': 'stop-' + id, text: 'Stop',
            onclick: () => command(id, 'stop') });
        return el('tr', { 'data-id': id },
            el('td', { text: id }), el('td', { text: s.name }), el('td', { class: 'st' }),
            el('td', {}, el('div', { class: 'actions' }, start, stop)),
            el('td', { text: s.connector + ':' + s.market }), el('td', { text: s.type }), params);
    }

    async function command(id, what) {
        $('strategy-error').textContent = '';
        try {
            await api('POST', '/api/v1/strategies/' + encodeURIComponent(id) + '/' + what);
        } catch (e) {
            $('strategy-error').textContent = what + ' strategy ' + id + ': ' + e.message;
        }
        pollStrategies();
    }

    async function saveParams(id, ta, errEl) {
        errEl.textContent = '';
        let params;
        try {
            params = JSON.parse(ta.value);
        } catch (e) {
            errEl.textContent = 'not valid JSON: ' + e.message;
            return;
        }
        if (!params || typeof params !== 'object' || Array.isArray(params)) {
            errEl.textContent = 'parameters must be a JSON object';
            return;
        }
        try {
            await api('PATCH', '/api/v1/strategies/' + encodeURIComponent(id), { params });
            ta.closest('details').open = false;
        } catch (e) {
            errEl.textContent = e.message;
        }
        pollStrategies();
    }

    /* ---- polling ---- */

    async function pollStrategies() {
        const session = state.session;
        try {
            const list = await api('GET', '/api/v1/strategies');
            if (session === state.session) renderStrategies(Array.isArray(list) ? list : list.strategies || []);
        } catch (e) {
            if (e.status === 401) logout('The token was refused: ' + e.message);
        }
    }

    async function pollPerformance() {
        const session = state.session;
        let perf;
        try {
            perf = await api('GET', '/api/v1/performance');
        } catch (e) {
            return;
        }
        if (session !== state.session || !perf) return;
        const items = Object.values(perf.performance || {});
        let pnl = 0, inv = 0;
        for (const p of items) {
            if (!p || typeof p !== 'object') continue;
            if (Number.isFinite(p.total_pnl)) pnl += p.total_pnl;
            if (state.market && p.market === state.market.market && Number.isFinite(p.inventory_base))
                inv += p.inventory_base;
        }
        const s = state.pnl;
        pushBounded([s.t, s.pnl, s.inv], [Date.now() / 1000, pnl, inv]);
        const base = state.market ? state.market.market.split('-')[0] : '';
        $('pnl-now').textContent = 'PnL ' + fmtNum(pnl, 2) + ' · inventory ' + fmtNum(inv, 6) + ' ' + base;
        if (state.pnlChart) {
            state.pnlChart.setData([s.t, s.pnl, s.inv]);
            /* uPlot spreads a lone point over years: show a minute around it. */
            if (s.t.length === 1) state.pnlChart.setScale('x', { min: s.t[0] - 30, max: s.t[0] + 30 });
        }
    }

    function poll() {
        pollStrategies();
        pollPerformance();
    }

    async function reloadLists() {
        try {
            const [o, t] = await Promise.all([
                api('GET', '/api/v1/orders?status=open&limit=1000'),
                api('GET', '/api/v1/trades?limit=' + MAX_TRADES),
            ]);
            state.orders.clear();
            for (const x of (o && o.orders) || []) if (isOpen(x)) state.orders.set(x.client_order_id, x);
            state.trades = ((t && t.trades) || []).slice(0, MAX_TRADES);
            renderOrders();
            renderTrades();
            redraw();
        } catch (e) {
            /* the next reconnect or gap tries again */
        }
    }

    /* ---- charts ---- */

    function chartWidth(id) {
        return Math.max(200, $(id).clientWidth);
    }

    function overlay(u) {
        const ctx = u.ctx;
        const { left, top, width, height } = u.bbox;
        const dpr = window.devicePixelRatio || 1;
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, width, height);
        ctx.clip();
        ctx.lineWidth = dpr;
        ctx.setLineDash([6 * dpr, 4 * dpr]);
        let lines = 0, fills = 0;
        for (const o of state.orders.values()) {
            if (!inMarket(o)) continue;
            lines++;
            const y = u.valToPos(Number(o.price), 'y', true);
            ctx.strokeStyle = o.side === 'buy' ? COLORS.bid : COLORS.ask;
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
        }
        ctx.setLineDash([]);
        const x0 = u.scales.x.min, x1 = u.scales.x.max;
        const r = 5 * dpr;
        for (const t of state.trades) {
            const ts = t.ts_ms / 1000;
            if (!inMarket(t) || ts < x0 || ts > x1) continue;
            fills++;
            const x = u.valToPos(ts, 'x', true), y = u.valToPos(Number(t.price), 'y', true);
            const buy = t.side === 'buy';
            ctx.fillStyle = buy ? COLORS.bid : COLORS.ask;
            ctx.beginPath();
            ctx.moveTo(x, buy ? y - r : y + r);
            ctx.lineTo(x - r, buy ? y + r : y - r);
            ctx.lineTo(x + r, buy ? y + r : y - r);
            ctx.closePath();
            ctx.fill();
        }
        ctx.restore();
        const box = $('price-chart'); // what is drawn, for tests and curious users
        box.dataset.orderLines = String(lines);
        box.dataset.fills = String(fills);
    }

    /* The y range covers the mid prices and our open orders in view. */
    function priceRange(u, min, max) {
        let lo = min, hi = max;
        for (const o of state.orders.values()) {
            if (!inMarket(o)) continue;
            const p = Number(o.price);
            if (Number.isFinite(p)) {
                lo = lo == null ? p : Math.min(lo, p);
                hi = hi == null ? p : Math.max(hi, p);
            }
        }
        if (lo == null || hi == null) return [0, 1];
        const pad = Math.max((hi - lo) * 0.08, Math.abs(hi) * 0.0002, 1e-9);
        return [lo - pad, hi + pad];
    }

    /* A time axis over a single point would otherwise span years. */
    function timeRange(u, min, max) {
        if (min == null || max == null) {
            const now = Date.now() / 1000;
            return [now - 30, now];
        }
        return max - min < 1 ? [min - 5, max + 5] : [min, max];
    }

    function makeCharts() {
        const axis = { stroke: '#8a97a6', grid: { stroke: '#2a3542' }, ticks: { stroke: '#2a3542' } };
        state.priceChart = new uPlot({
            width: chartWidth('price-chart'),
            height: window.innerWidth < 600 ? 220 : 280,
            scales: { x: { time: true, range: timeRange }, y: { range: priceRange } },
            axes: [axis, Object.assign({ size: 70 }, axis)],
            legend: { show: false },
            cursor: { drag: { x: false, y: false } },
            series: [{}, { label: 'mid', stroke: COLORS.mid, width: 1.5 }],
            hooks: { draw: [overlay] },
        }, [state.price.t, state.price.mid], $('price-chart'));
        state.pnlChart = new uPlot({
            width: chartWidth('pnl-chart'),
            height: 180,
            legend: { live: false },
            scales: { x: { time: true, range: timeRange }, pnl: {}, inv: {} },
            axes: [axis, Object.assign({ scale: 'pnl', size: 60 }, axis),
                Object.assign({ scale: 'inv', side: 1, size: 70 }, axis, { grid: { show: false } })],
            series: [{}, { label: 'PnL', scale: 'pnl', stroke: COLORS.pnl, width: 1.5 },
                { label: 'inventory', scale: 'inv', stroke: COLORS.inv, width: 1.5 }],
        }, [state.pnl.t, state.pnl.pnl, state.pnl.inv], $('pnl-chart'));
    }

    function redraw() {
        if (state.drawPending || !state.priceChart) return;
        state.drawPending = true;
        requestAnimationFrame(() => {
            state.drawPending = false;
            if (state.priceChart) state.priceChart.setData([state.price.t, state.price.mid]);
        });
    }

    function resize() {
        if (state.priceChart) state.priceChart.setSize({ width: chartWidth('price-chart'),
            height: window.innerWidth < 600 ? 220 : 280 });
        if (state.pnlChart) state.pnlChart.setSize({ width: chartWidth('pnl-chart'), height: 180 });
    }

    /* ---- market selection ---- */

    function selectMarket(value) {
        const [connector, market] = value.split(':');
        const old = state.market;
        state.market = { connector, market, topic: 'book:' + connector + ':' + market };
        state.price.t.length = 0;
        state.price.mid.length = 0;
        state.pnl.t.length = 0;
        state.pnl.pnl.length = 0;
        state.pnl.inv.length = 0;
        const ws = state.ws;
        if (ws && ws.readyState === WebSocket.OPEN && state.wsState === 'connected') {
            if (old && old.topic !== state.market.topic)
                ws.send(JSON.stringify({ type: 'unsubscribe', topics: [old.topic] }));
            ws.send(JSON.stringify({ type: 'subscribe', topics: [state.market.topic] }));
        }
        redraw();
    }

    async function loadMarkets() {
        const [conns, strats] = await Promise.all([api('GET', '/api/v1/connectors'),
            api('GET', '/api/v1/strategies')]);
        const list = Array.isArray(conns) ? conns : conns.connectors || [];
        const sel = $('market');
        sel.replaceChildren();
        for (const c of list)
            for (const m of c.markets || [])
                sel.append(el('option', { value: c.name + ':' + m, text: c.name + ' ' + m }));
        renderConnectors(list);
        const sl = Array.isArray(strats) ? strats : strats.strategies || [];
        renderStrategies(sl);
        const first = sl.find((s) => s.state === 'running') || sl[0];
        if (first) sel.value = first.connector + ':' + first.market;
        if (sel.value) selectMarket(sel.value);
    }

    /* ---- login ---- */

    async function start() {
        const session = ++state.session;
        $('login-view').hidden = true;
        $('dash').hidden = false;
        $('logout').hidden = false;
        try {
            await loadMarkets();
        } catch (e) {
            if (e.status === 401) return logout('The token was refused: ' + e.message);
        }
        if (session !== state.session) return;
        if (!state.priceChart) makeCharts();
        await reloadLists();
        poll();
        state.pollTimer = setInterval(poll, POLL_MS);
        connectWs(session);
    }

    function logout(message) {
        state.session++;
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        clearInterval(state.pollTimer);
        clearTimeout(state.retryTimer);
        if (state.ws) {
            const ws = state.ws;
            state.ws = null;
            ws.close();
        }
        setWsState('offline');
        $('dash').hidden = true;
        $('logout').hidden = true;
        $('login-view').hidden = false;
        $('login-error').textContent = message || '';
        $('token').focus();
    }

    async function login(ev) {
        ev.preventDefault();
        const tok = $('token').value.trim();
        $('login-error').textContent = '';
        if (!tok) {
            $('login-error').textContent = 'Enter a token.';
            return;
        }
        state.token = tok;
        try {
            await api('GET', '/api/v1/status');
        } catch (e) {
            state.token = null;
            $('login-error').textContent = e.status === 401 ? 'That token is not valid.' : 'Cannot log in: ' + e.message;
            return;
        }
        sessionStorage.setItem(TOKEN_KEY, tok);
        $('token').value = '';
        start();
    }

    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', () => logout(''));
    $('market').addEventListener('change', (e) => selectMarket(e.target.value));
    window.addEventListener('resize', resize);
    if (state.token) start();
    else logout('');
})();
