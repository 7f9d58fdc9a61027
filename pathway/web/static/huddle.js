// The huddle board: draws the charts and tables from the board's JSON, refreshes it every minute,
// and lets a duty worker take the next person from the queue. No framework; Chart.js is served locally.
(function () {
  "use strict";
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies; text labels carry the meaning too.
  var STAGE_COLOURS = { c1_waiting: "#0072B2", c2_waiting: "#D55E00", c3_waiting: "#009E73" };
  var STAGE_NAMES = { c1_waiting: "Conversation 1 waiting", c2_waiting: "Conversation 2 (crisis) waiting",
                      c3_waiting: "Conversation 3 waiting" };
  var REFRESH_MS = 60000;
  var main = document.getElementById("main");
  var team = main.dataset.team;
  var state = { data: JSON.parse(document.getElementById("board-data").textContent), charts: {} };
  window.huddle = state;

  function label(s) { return String(s).replace(/_/g, " "); }
  function days(n) { return n + (n === 1 ? " day" : " days"); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fill(tbody, rows, empty, cols) {
    tbody.replaceChildren();
    if (!rows.length) { var tr = el("tr"); var td = el("td", empty); td.colSpan = cols; tr.append(td); tbody.append(tr); }
    rows.forEach(function (r) { tbody.append(r); });
  }

  // -- waits by client group and stage
  function waitsMatrix(d) {
    var groups = [], cells = {};
    d.waits.forEach(function (r) {
      if (groups.indexOf(r.client_group) < 0) groups.push(r.client_group);
      cells[r.client_group + "|" + r.stage] = r;
    });
    groups.sort(function (a, b) { return d.client_groups.indexOf(a) - d.client_groups.indexOf(b); });
    return { groups: groups, cell: function (g, s) { return cells[g + "|" + s] || { waiting: 0, over_threshold: 0 }; } };
  }

  function renderWaits(d) {
    var m = waitsMatrix(d);
    var rows = m.groups.map(function (g) {
      var tr = el("tr"); tr.dataset.group = g;
      tr.append(el("th", label(g))); tr.firstChild.scope = "row";
      var all = 0;
      d.stages.forEach(function (s) {
        var c = m.cell(g, s); all += c.waiting;
        var td = el("td", c.waiting + (c.over_threshold ? " (" + c.over_threshold + ")" : ""), "num");
        td.dataset.stage = s; td.dataset.waiting = c.waiting;
        if (c.over_threshold) td.classList.add("breach");
        tr.append(td);
      });
      tr.append(el("td", all, "num"));
      return tr;
    });
    fill(document.querySelector("#waits-table tbody"), rows, "Nobody is waiting.", d.stages.length + 2);
    var datasets = d.stages.map(function (s) {
      return { label: STAGE_NAMES[s] || label(s), stage: s, backgroundColor: STAGE_COLOURS[s],
               borderColor: "#000", borderWidth: 1,
               data: m.groups.map(function (g) { return m.cell(g, s).waiting; }) };
    });
    chart("waits", "waits-chart", {
      type: "bar",
      data: { labels: m.groups.map(label), datasets: datasets },
      options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } },
                 plugins: { legend: { position: "bottom" } } }
    });
  }

  function chart(name, canvasId, config) {
    if (typeof Chart === "undefined") return;  // tables still carry every figure
    var existing = state.charts[name];
    if (existing) { existing.data = config.data; existing.update(); return; }
    // Chart text follows the page's type size, which grows with the screen.
    Chart.defaults.font.size = Math.round(parseFloat(getComputedStyle(document.documentElement).fontSize) * 0.85);
    Chart.defaults.color = "#222";
    state.charts[name] = new Chart(document.getElementById(canvasId), config);
  }

  // -- longest waiting, crises first
  function renderLongest(d) {
    var rows = d.queue.map(function (p) {
      var tr = el("tr"); tr.dataset.episode = p.episode_id;
      if (p.crisis) tr.classList.add("crisis");
      if (p.breach) tr.classList.add("breach");
      tr.append(el("td", p.person_ref), el("td", p.days_waiting, "num"), el("td", label(p.client_group)),
                el("td", label(p.stage)));
      var flags = el("td");
      if (p.crisis) flags.append(el("span", "CRISIS", "flag crisis"), " ");
      if (p.breach) flags.append(el("span", "OVER TARGET of " + days(p.threshold_days), "flag breach"));
      tr.append(flags);
      return tr;
    });
    fill(document.querySelector("#longest tbody"), rows, "Nobody is waiting.", 5);
  }

  function renderCaseloads(d) {
    var rows = d.caseloads.map(function (c) {
      var tr = el("tr"); tr.dataset.worker = c.worker;
      if (c.over_cap) tr.classList.add("breach");
      var meter = el("meter"); meter.min = 0; meter.max = c.cap; meter.value = Math.min(c.caseload, c.cap);
      meter.setAttribute("aria-label", c.worker + " caseload " + c.caseload + " of " + c.cap);
      var load = el("td"); load.append(meter, " ", c.over_cap ? el("span", "OVER CAP", "flag breach") :
        el("span", c.free + " free"));
      tr.append(el("td", c.worker), el("td", c.caseload, "num"), el("td", c.cap, "num"), load);
      return tr;
    });
    fill(document.querySelector("#caseloads tbody"), rows, "No workers in this team.", 4);
  }

  function renderTrend(d) {
    var rows = d.trend.map(function (t) {
      var tr = el("tr"); tr.append(el("td", t.week_ending), el("td", t.waiting, "num"), el("td", t.over_threshold, "num"),
                el("td", t.allocated, "num"));
      return tr;
    });
    fill(document.querySelector("#trend-table tbody"), rows, "No history yet.", 4);
    chart("trend", "trend-chart", {
      type: "line",
      data: { labels: d.trend.map(function (t) { return t.week_ending; }),
              datasets: [
                { label: "Waiting", data: d.trend.map(function (t) { return t.waiting; }),
                  borderColor: "#0072B2", backgroundColor: "#0072B2", pointStyle: "circle", pointRadius: 4 },
                { label: "Over target", data: d.trend.map(function (t) { return t.over_threshold; }),
                  borderColor: "#D55E00", backgroundColor: "#D55E00", borderDash: [6, 4], pointStyle: "triangle",
                  pointRadius: 5 }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
                 plugins: { legend: { position: "bottom" } } }
    });
  }

  function renderForecast(d) {
    var rows = (d.forecast || []).map(function (f) {
      var tr = el("tr"); tr.dataset.stage = f.stage;
      var expected = f.expected_days === null ? "no allocations lately" : f.expected_days + " days";
      var limit = d.thresholds[f.stage];
      var late = f.expected_days !== null && limit !== null && f.expected_days > limit;
      var td = el("td", expected, "num");
      if (late || f.expected_days === null && f.waiting) { td.classList.add("breach"); td.append(" ", el("span", "OVER TARGET", "flag breach")); }
      tr.append(el("th", STAGE_NAMES[f.stage] || label(f.stage)), el("td", f.waiting, "num"),
                el("td", f.allocated_recently, "num"), el("td", f.per_day, "num"), td);
      tr.firstChild.scope = "row";
      return tr;
    });
    fill(document.querySelector("#forecast tbody"), rows, "No forecast available.", 5);
  }

  function render(d) {
    state.data = d;
    document.getElementById("as-at").textContent = d.as_at;
    var upd = document.getElementById("updated");
    upd.dateTime = d.generated_at; upd.textContent = d.generated_at.slice(11, 16);
    document.getElementById("waiting-total").textContent = d.waiting_total;
    document.getElementById("crises-total").textContent = d.crises_total;
    document.getElementById("over-total").textContent = d.over_threshold_total;
    renderWaits(d); renderLongest(d); renderCaseloads(d); renderTrend(d); renderForecast(d);
    main.dataset.rendered = String((Number(main.dataset.rendered) || 0) + 1);
  }

  function refresh() {
    var status = document.getElementById("refresh-state");
    return fetch("/huddle/" + encodeURIComponent(team) + "/data", { credentials: "same-origin",
                                                                    headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { window.location.reload(); throw new Error("signed out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (d) { render(d); status.textContent = ""; })
      .catch(function (e) { status.textContent = "(could not refresh: " + e.message + ")"; });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  var take = document.getElementById("take-next");
  if (take) {
    take.addEventListener("click", function () {
      var out = document.getElementById("take-result");
      take.disabled = true; out.textContent = "Taking the next person…";
      fetch("/teams/" + encodeURIComponent(team) + "/queue/claim", {
        method: "POST", credentials: "same-origin",
        headers: { "X-Pathway-Board": "1", "Idempotency-Key": newKey(), Accept: "application/json" }
      })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (res) {
          if (res.status === 200) {
            var ep = res.body;
            out.textContent = "You took " + ep.person_ref + " (" + label(ep.client_group) + ", " +
              label(ep.stage) + ", episode " + ep.id + ").";
            out.dataset.episode = ep.id;
          } else {
            out.textContent = res.body.detail || ("Could not take the next person (HTTP " + res.status + ").");
          }
          return refresh();
        })
        .catch(function (e) { out.textContent = "Could not take the next person: " + e.message; })
        .finally(function () { take.disabled = false; take.focus(); });
    });
  }

  // Moved to the big screen (or resized): draw the charts again with type to match.
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      Object.keys(state.charts).forEach(function (k) { state.charts[k].destroy(); });
      state.charts = {};
      render(state.data);
    }, 250);
  });

  state.refresh = refresh;  // what the timer calls; exposed so a test need not wait a minute
  render(state.data);
  setInterval(refresh, REFRESH_MS);
})();
