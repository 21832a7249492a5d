// The zabkv dashboard: polls /ui/state once a second and redraws. Plain browser script with
// no build step; the charts are uPlot (served from its npm package at /ui/assets/uPlot.min.js).
// With bearer tokens on, the page itself loads without one but its data needs one: a 401 or 403
// asks for it, and it is kept in sessionStorage (this tab only) and sent on every poll.
'use strict';

(() => {
  const POLL_MS = 1000;
  const HASH_SPACE = 2 ** 32;
  const COLOURS = ['#1e88e5', '#e53935', '#43a047', '#fb8c00', '#8e24aa', '#00acc1', '#6d4c41'];
  const colour = (group) => COLOURS[group % COLOURS.length];
  const $ = (id) => document.getElementById(id);

  /** A zxid as epoch:counter (it is epoch·2^32 + counter). */
  const zxid = (z) => (z === undefined ? '' : `${Math.floor(z / 2 ** 32)}:${z % 2 ** 32}`);
  const text = (tag, content, className) => {
    const element = document.createElement(tag);
    element.textContent = content;
    if (className) element.className = className;
    return element;
  };

  let throughputChart = null;
  let latencyChart = null;
  let chartGroups = '';

  function drawRanges(state) {
    const bar = $('ranges');
    bar.replaceChildren(
      ...state.ranges.map((range) => {
        const part = document.createElement('div');
        part.style.width = `${((range.end - range.start) / HASH_SPACE) * 100}%`;
        part.style.background = colour(range.group);
        part.title = `group ${range.group}: ${range.start.toString(16)}–${range.end.toString(16)}`;
        part.dataset.group = String(range.group);
        return part;
      }),
    );
    $('legend').replaceChildren(
      ...state.groups.map((group) => {
        const item = text('span', `group ${group.id}`);
        const swatch = document.createElement('i');
        swatch.style.background = colour(group.id);
        item.prepend(swatch);
        return item;
      }),
    );
  }

  function drawGroups(state) {
    $('groups').replaceChildren(
      ...state.groups.map((group) => {
        const card = document.createElement('div');
        card.className = group.leader === null ? 'group no-leader' : 'group';
        card.style.setProperty('--colour', colour(group.id));
        card.dataset.group = String(group.id);
        card.dataset.leader = group.leader === null ? '' : String(group.leader);
        const title = text('h3', `Group ${group.id} · `);
        title.append(
          text('span', group.leader === null ? 'no leader' : `leader ${group.leader}`, 'leader'),
        );
        const table = document.createElement('table');
        const head = document.createElement('tr');
        for (const name of ['node', 'state', 'epoch', 'last zxid', 'applied zxid', 'lag']) {
          head.append(text('th', name));
        }
        table.append(head);
        for (const member of group.members) {
          const row = document.createElement('tr');
          const role = member.up ? (member.role ?? 'unknown') : 'dead';
          row.dataset.node = String(member.id);
          row.dataset.role = role;
          if (!member.up) row.className = 'dead';
          row.append(
            text('td', String(member.id)),
            text('td', role, `role-${role}`),
            text('td', member.epoch === undefined ? '' : String(member.epoch)),
            text('td', zxid(member.lastZxid)),
            text('td', zxid(member.appliedZxid)),
            text('td', member.lag === undefined ? '' : String(member.lag)),
          );
          table.append(row);
        }
        card.append(title, table);
        return card;
      }),
    );
  }

  function chartOptions(series, width, log) {
    return {
      width,
      height: 240,
      // Latency on a log scale: a failover's seconds-long tail must not flatten the milliseconds.
      scales: { x: { time: true }, y: log ? { distr: 3 } : {} },
      series: [{}, ...series],
      axes: [{}, { size: 60 }],
    };
  }

  function drawCharts(state) {
    const groups = state.groups.map((g) => g.id);
    const key = groups.join(',');
    const t = state.series.t;
    const width = Math.max(480, $('throughput').clientWidth || 520);
    if (key !== chartGroups) {
      throughputChart?.destroy();
      latencyChart?.destroy();
      throughputChart = new uPlot(
        chartOptions(
          groups.map((g) => ({ label: `group ${g}`, stroke: colour(g), width: 2 })),
          width,
          false,
        ),
        [t, ...groups.map(() => [])],
        $('throughput'),
      );
      latencyChart = new uPlot(
        chartOptions(
          groups.flatMap((g) => [
            { label: `g${g} p50`, stroke: colour(g), width: 2 },
            { label: `g${g} p99`, stroke: colour(g), width: 1, dash: [6, 4] },
          ]),
          width,
          true,
        ),
        [t, ...groups.flatMap(() => [[], []])],
        $('latency'),
      );
      chartGroups = key;
    }
    const series = (g) => state.series.groups[String(g)];
    throughputChart.setData([t, ...groups.map((g) => series(g).ops)]);
    latencyChart.setData([t, ...groups.flatMap((g) => [series(g).p50, series(g).p99])]);
    // For the browser test and curious readers: requests in the last ten seconds.
    const recent = groups.reduce(
      (sum, g) =>
        sum +
        series(g)
          .ops.slice(-10)
          .reduce((a, b) => a + b, 0),
      0,
    );
    $('throughput').dataset.ops = String(recent);
  }

  function drawEvents(state) {
    $('events').replaceChildren(
      ...[...state.events].reverse().map((event) => {
        const item = document.createElement('li');
        item.className = event.kind;
        item.append(text('time', new Date(event.at).toLocaleTimeString()), event.text);
        return item;
      }),
    );
  }

  function draw(state) {
    const leaders = state.groups.filter((g) => g.leader !== null).length;
    $('summary').textContent = state.formed
      ? `answered by node ${state.node} · table v${state.version} · ${state.groups.length} groups, ${leaders} with a leader`
      : `answered by node ${state.node} · the cluster is forming`;
    drawRanges(state);
    drawGroups(state);
    if (state.formed) drawCharts(state);
    drawEvents(state);
  }

  const TOKEN_KEY = 'zabkv-token';

  /** Polling stops until a token is entered: a refused one would only be refused again. */
  function askForToken(status, sent) {
    $('token-why').textContent =
      status === 403
        ? 'This token may not read the cluster status (it is limited to a key prefix): enter another.'
        : sent
          ? 'The token was refused: enter a valid one.'
          : 'This cluster needs a bearer token to show its state.';
    $('token-form').hidden = false;
    $('connection').textContent = status === 403 ? 'token not allowed' : 'token needed';
    $('connection').className = 'down';
    $('token').focus();
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    if (token === '') return;
    window.sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    $('token-form').hidden = true;
    poll();
  });

  async function poll() {
    try {
      const token = window.sessionStorage.getItem(TOKEN_KEY);
      const response = await fetch('/ui/state', {
        cache: 'no-store',
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      });
      if (response.status === 401 || response.status === 403) {
        askForToken(response.status, token !== null);
        return;
      }
      if (!response.ok) throw new Error(`status ${response.status}`);
      draw(await response.json());
      $('connection').textContent = `updated ${new Date().toLocaleTimeString()}`;
      $('connection').className = 'ok';
    } catch (error) {
      // The node serving this page is down: say so, rather than show its last answer as live.
      $('connection').textContent = `this node does not answer (${error.message})`;
      $('connection').className = 'down';
      for (const row of document.querySelectorAll('#groups tr[data-node]')) {
        row.className = 'dead';
      }
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
