// The huddle board: draws the tables and charts from the board's JSON (pathway/services/board.py), which
// decides every figure, order and word; refreshes it every minute and says so loudly when it cannot;
// lets a duty worker take the next person. No framework; Chart.js is served locally.
(function () {
  "use strict";
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies; words carry the meaning too.
  var STAGE_COLOURS = { contact: "#CC79A7", c1_waiting: "#0072B2", c2_waiting: "#D55E00", c3_waiting: "#009E73" };
  var REFRESH_MS = 60000;
  var RETRY_MS = 15000;  // while the board is stale, try again sooner
  var TV = window.matchMedia("(min-width: 1400px) and (min-height: 700px) and (orientation: landscape)");
  var main = document.getElementById("main");
  var team = main.dataset.team;
  var state = { data: JSON.parse(document.getElementById("board-data").textContent), charts: {},
                lastGood: null, stale: false };
  state.lastGood = state.data.generated_at;
  window.huddle = state;

  function groupName(d, g) { return d.labels.client_groups[g] || label(g); }
  function label(key) { return String(key).replace(/_/g, " "); }
  function stageName(d, s) { return d.labels.stages[s] || label(s); }
  function days(n) { return n === 0 ? "today" : n + (n === 1 ? " day" : " days"); }
  function clock(iso) { return iso.slice(11, 16); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function th(text) { var e = el("th", text); e.scope = "row"; return e; }
  function fill(tbody, rows, empty, cols) {
    tbody.replaceChildren();
    if (!rows.length) { var tr = el("tr"); var td = el("td", empty); td.colSpan = cols; tr.append(td); tbody.append(tr); }
    rows.forEach(function (r) { tbody.append(r); });
  }
  function flag(text, cls) { return el("span", text, "flag " + cls); }
  function overTarget(limit) { return flag("OVER " + limit + "-day target", "breach"); }

  // On the TV nothing scrolls: a list shows the rows that fit in its panel and says how many more there are.
  function fitRows(panel, tbody, more, extra, noun) {
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.forEach(function (r) { r.hidden = false; });
    var hidden = 0;
    function say() { more.textContent = hidden + extra ? "and " + (hidden + extra) + " more " + noun : ""; }
    say();
    if (!TV.matches) return;
    while (rows.length - hidden > 1 && panel.scrollHeight > panel.clientHeight + 1) {
      rows[rows.length - 1 - hidden].hidden = true; hidden++; say();
    }
  }

  // -- the queue, in claim order, the one Take next gives marked
  function renderQueue(d) {
    var rows = d.queue.map(function (p) {
      var tr = el("tr"); tr.dataset.episode = p.episode_id;
      if (p.crisis) tr.classList.add("crisis");
      if (p.breach) tr.classList.add("breach");
      if (p.next) tr.classList.add("next");
      var who = el("td", p.person_ref, "ref");
      tr.append(el("td", p.position, "num"), who, el("td", days(p.days_waiting), "num"),
                el("td", d.labels.priorities[p.priority] || p.priority), el("td", groupName(d, p.client_group)),
                el("td", stageName(d, p.stage)));
      var flags = el("td", null, "flags");
      if (p.next) flags.append(flag(d.next_for ? "NEXT for you" : "NEXT", "next"), " ");
      if (p.crisis) flags.append(flag("CRISIS", "crisis"), " ");
      if (p.breach) flags.append(overTarget(p.threshold_days));
      tr.append(flags);
      return tr;
    });
    var tbody = document.querySelector("#queue tbody");
    fill(tbody, rows, "Nobody is waiting.", 7);
    fitRows(tbody.closest(".panel"), tbody, document.getElementById("queue-more"), d.queue_more, "waiting");
  }

  // -- waits by client group and stage: groups with nobody waiting are folded into one line
  function renderWaits(d) {
    var cells = {}, totals = {};
    d.waits.forEach(function (r) {
      cells[r.client_group + "|" + r.stage] = r;
      totals[r.client_group] = (totals[r.client_group] || 0) + r.waiting;
    });
    function cell(g, s) { return cells[g + "|" + s] || { waiting: 0, over_threshold: 0 }; }
    var groups = d.client_groups.filter(function (g) { return totals[g]; });
    var empty = d.client_groups.filter(function (g) { return !totals[g]; });
    var rows = groups.map(function (g) {
      var tr = el("tr"); tr.dataset.group = g;
      tr.append(th(groupName(d, g)));
      d.stages.forEach(function (s) {
        var c = cell(g, s);
        var td = el("td", c.waiting + (c.over_threshold ? " (" + c.over_threshold + ")" : ""), "num");
        td.dataset.stage = s; td.dataset.waiting = c.waiting;
        if (c.over_threshold) td.classList.add("breach");
        tr.append(td);
      });
      tr.append(el("td", totals[g], "num"));
      return tr;
    });
    fill(document.querySelector("#waits-table tbody"), rows, "Nobody is waiting.", d.stages.length + 2);
    document.getElementById("waits-none").textContent =
      empty.length ? "Nobody waiting: " + empty.map(function (g) { return groupName(d, g); }).join(", ") + "." : "";
    // one bar per group with someone waiting, every one labelled
    document.getElementById("waits-box").style.setProperty("--bars", String(Math.max(groups.length, 1)));
    chart("waits", "waits-chart", {
      type: "bar",
      data: { labels: groups.map(function (g) { return groupName(d, g); }),
              datasets: d.stages.map(function (s) {
                return { label: stageName(d, s), stage: s, backgroundColor: STAGE_COLOURS[s], borderColor: "#000",
                         borderWidth: 1, data: groups.map(function (g) { return cell(g, s).waiting; }) };
              }) },
      options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
                                title: { display: true, text: "People waiting" } },
                           y: { stacked: true, ticks: { autoSkip: false } } },
                 plugins: { legend: { position: "bottom" } } }
    });
  }

  function chart(name, canvasId, config) {
    if (typeof Chart === "undefined") return;  // the tables still carry every figure
    var existing = state.charts[name];
    if (existing) { existing.data = config.data; existing.update(); return; }
    // Chart text follows the page's type size, which grows with the screen.
    Chart.defaults.font.size = Math.round(parseFloat(getComputedStyle(document.documentElement).fontSize) * 0.8);
    Chart.defaults.color = "#222";
    state.charts[name] = new Chart(document.getElementById(canvasId), config);
  }

  function renderCaseloads(d) {
    var rows = d.caseloads.map(function (c) {
      var tr = el("tr"); tr.dataset.worker = c.worker;
      if (c.over_cap) tr.classList.add("breach");
      var meter = el("meter"); meter.min = 0; meter.max = c.cap; meter.value = Math.min(c.caseload, c.cap);
      meter.setAttribute("aria-label", c.name + ": caseload " + c.caseload + " of " + c.cap);
      var load = el("td", null, "load");
      load.append(meter, " ", c.over_cap ? flag("OVER CAP", "breach") : el("span", c.free + " free"));
      var who = el("td", c.name, "who"); who.append(" ", el("span", "(" + c.worker + ")", "key"));
      tr.append(who, el("td", c.caseload, "num"), el("td", c.cap, "num"), load);
      return tr;
    });
    var tbody = document.querySelector("#caseloads tbody");
    fill(tbody, rows, "No workers in this team.", 4);
    fitRows(tbody.closest(".panel"), tbody, document.getElementById("caseloads-more"), 0, "workers");
  }

  // -- the waiting people nobody on duty can take now (no one present, skilled for them and with room)
  function renderNobody(d) {
    var rows = (d.nobody_can_take || []).map(function (g) {
      var tr = el("tr"); tr.dataset.group = g.client_group; tr.dataset.stage = g.stage;
      tr.append(th(groupName(d, g.client_group)), el("td", stageName(d, g.stage)), el("td", g.waiting, "num"),
                el("td", g.skill ? label(g.skill) : "none"));
      return tr;
    });
    var tbody = document.querySelector("#nobody-can-take tbody");
    fill(tbody, rows, "Someone on duty can take everyone waiting.", 4);
    fitRows(tbody.closest(".panel"), tbody, document.getElementById("nobody-more"), 0, "groups");
  }

  function weekLabel(t) { return t.week_ending + (t.partial ? " (so far)" : ""); }

  function renderTrend(d) {
    var rows = d.trend.map(function (t) {
      var tr = el("tr"); if (t.partial) tr.classList.add("partial");
      tr.append(th(weekLabel(t)), el("td", t.waiting, "num"), el("td", t.over_threshold, "num"),
                el("td", t.allocated, "num"));
      return tr;
    });
    fill(document.querySelector("#trend-table tbody"), rows, "No history yet.", 4);
    chart("trend", "trend-chart", {
      type: "line",
      data: { labels: d.trend.map(weekLabel),
              datasets: [
                { label: "Waiting", data: d.trend.map(function (t) { return t.waiting; }),
                  borderColor: "#0072B2", backgroundColor: "#0072B2", pointStyle: "circle", pointRadius: 4 },
                { label: "Over target", data: d.trend.map(function (t) { return t.over_threshold; }),
                  borderColor: "#D55E00", backgroundColor: "#D55E00", borderDash: [6, 4], pointStyle: "triangle",
                  pointRadius: 5 }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { x: { title: { display: true, text: "Week ending (the last week so far)" } },
                           y: { beginAtZero: true, ticks: { precision: 0 },
                                title: { display: true, text: "People waiting" } } },
                 plugins: { legend: { position: "bottom" } } }
    });
  }

  function targetText(d, stage) {
    var t = d.targets[stage];
    if (!t || t.days === null) return "none";
    var others = Object.keys(t.by_client_group).map(function (g) {
      return groupName(d, g) + " " + t.by_client_group[g];
    });
    return t.days + (t.day_mode === "working" ? " working" : "") + (others.length ? " (" + others.join(", ") + ")" : "");
  }

  function renderForecast(d) {
    var rows = (d.forecast || []).map(function (f) {
      var tr = el("tr"); tr.dataset.stage = f.stage;
      var limit = d.targets[f.stage] ? d.targets[f.stage].days : null;
      var expected;
      if (!f.waiting) expected = "nobody waiting";
      else if (f.expected_days === null) expected = "none allocated lately";
      else if (f.expected_days < 1) expected = "under a day";
      else expected = f.expected_days + " days";
      var td = el("td", expected);
      var late = f.waiting && limit !== null && (f.expected_days === null || f.expected_days > limit);
      if (late) { td.classList.add("breach"); td.append(" ", overTarget(limit)); }
      tr.append(th(stageName(d, f.stage)), el("td", f.waiting, "num"), el("td", f.allocated_recently, "num"), td);
      return tr;
    });
    fill(document.querySelector("#forecast tbody"), rows, "No forecast available.", 4);
    document.getElementById("targets").textContent = "Targets, days on the clock (the front door, then each wait to allocation): " + d.stages.map(function (s) {
      return stageName(d, s) + " " + targetText(d, s);
    }).join("; ") + ".";
  }

  function render(d) {
    state.data = d;
    document.getElementById("as-at").textContent = d.as_at;
    var upd = document.getElementById("updated");
    upd.dateTime = d.generated_at; upd.textContent = clock(d.generated_at);
    document.getElementById("waiting-total").textContent = d.waiting_total;
    document.getElementById("crises-total").textContent = d.crises_total;
    document.getElementById("over-total").textContent = d.over_threshold_total;
    renderWaits(d); renderCaseloads(d); renderTrend(d); renderForecast(d); renderNobody(d); renderQueue(d);
    document.dispatchEvent(new CustomEvent("huddle:render", { detail: d }));  // casework.js draws its panels
    main.dataset.rendered = String((Number(main.dataset.rendered) || 0) + 1);
    document.dispatchEvent(new CustomEvent("huddle:render", { detail: d }));  // casework.js draws its panels
  }

  // -- on the TV, the unpinned panels share the third column three at a time, taking turns when there are more
  var PER_PAGE = 3, TURN_MS = 20000;
  var rotation = { page: 0, pages: 1, paused: false, timer: null };
  state.rotation = rotation;
  function panelsToRotate() { return Array.prototype.slice.call(main.querySelectorAll(".panel:not([data-pinned])")); }
  function showPage() {
    var panels = panelsToRotate();
    var rotating = TV.matches && panels.length > PER_PAGE;
    rotation.pages = rotating ? Math.ceil(panels.length / PER_PAGE) : 1;
    rotation.page = rotation.page % rotation.pages;
    panels.forEach(function (p, i) { p.hidden = rotating && Math.floor(i / PER_PAGE) !== rotation.page; });
    document.getElementById("rotator").hidden = !rotating;
    document.getElementById("rotator-state").textContent = "Panels " + (rotation.page + 1) + " of " + rotation.pages +
      (rotation.paused ? " (paused)" : ", turning every " + TURN_MS / 1000 + " s");
    clearTimeout(rotation.timer);
    if (rotating && !rotation.paused) rotation.timer = setTimeout(timedTurn, TURN_MS);
  }
  function turn() { rotation.page = (rotation.page + 1) % rotation.pages; showPage(); render(state.data); }
  function timedTurn() {  // a form being filled in (a discussion being recorded) keeps its panel on the screen
    if (main.querySelector(".panel:not([data-pinned]) form:not([hidden])")) { showPage(); return; }
    turn();
  }
  state.layout = function () { showPage(); render(state.data); };
  document.getElementById("rotator-pause").addEventListener("click", function () {
    rotation.paused = !rotation.paused;
    this.setAttribute("aria-pressed", String(rotation.paused));
    this.textContent = rotation.paused ? "Resume" : "Pause";
    showPage();
  });
  document.getElementById("rotator-next").addEventListener("click", turn);

  // -- staleness: a board that cannot refresh says so, and greys its figures until a refresh succeeds
  function setStale(why) {
    var banner = document.getElementById("stale");
    state.stale = true;
    document.body.classList.add("is-stale");
    banner.textContent = "NOT UP TO DATE: the board cannot reach the server (" + why + "). The figures are from " +
      clock(state.lastGood) + " on " + state.lastGood.slice(0, 10) + ", the last good refresh. Trying again.";
    banner.hidden = false;
    render(state.data);  // the banner takes room: the lists show again what fits
  }
  function setFresh() {
    state.stale = false;
    document.body.classList.remove("is-stale");
    var banner = document.getElementById("stale");
    banner.hidden = true; banner.textContent = "";
  }

  var timer = null;
  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, state.stale ? RETRY_MS : REFRESH_MS); }

  function refresh() {
    return fetch("/huddle/" + encodeURIComponent(team) + "/data", { credentials: "same-origin",
                                                                    headers: { Accept: "application/json" } })
      .then(function (r) {
        // signed out, expired or revoked: the page itself explains why
        if (r.status === 401 || r.status === 403) { window.location.reload(); throw new Error("signed out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (d) { state.lastGood = d.generated_at; setFresh(); render(d); })
      .catch(function (e) { if (e.message !== "signed out") setStale(e.message); })
      .finally(schedule);
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
          var d = state.data;
          if (res.status === 200) {
            var ep = res.body;
            out.textContent = "You took " + ep.person_ref + " (" + groupName(d, ep.client_group) + ", episode " +
              ep.id + ").";
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

  // Moved to the big screen (or resized): draw again, with type to match and the rows that fit.
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      Object.keys(state.charts).forEach(function (k) { state.charts[k].destroy(); });
      state.charts = {};
      showPage();
      render(state.data);
    }, 250);
  });

  state.refresh = refresh;  // what the timer calls; exposed so a test need not wait a minute
  // for the board's other panels (casework.js): the same words, rows and fitting as the rest
  state.ui = { el: el, label: label, fill: fill, fitRows: fitRows, stageName: stageName, groupName: groupName };
  showPage();
  render(state.data);
  schedule();
})();
