// The huddle board's casework panels: "for discussion" and "standing still", drawn from the board's JSON
// each time huddle.js renders it (on the TV showing the rows that fit, and how many more); a manager records
// a discussion from the first (POST /episodes/{id}/events).
(function () {
  "use strict";
  var main = document.getElementById("main");
  var form = document.getElementById("discussed-form");
  var chosen = null;

  var ui = window.huddle.ui;
  var el = ui.el, label = ui.label, fill = ui.fill;
  function days(n) { return n === null || n === undefined ? "" : n + (n === 1 ? " day" : " days"); }

  function render(d) {
    var canRecord = Boolean(d.can_record_discussion);
    var flagged = document.querySelector("#for-discussion tbody");
    fill(flagged, d.for_discussion.map(function (p) {
      var tr = el("tr"); tr.dataset.episode = p.episode_id;
      tr.append(el("td", p.person_ref, "ref"), el("td", p.worker || "—"), el("td", label(p.stage)),
                el("td", (p.flagged_at || "").slice(0, 10)), el("td", p.flag_reason));
      if (canRecord) {
        var td = el("td"); var b = el("button", "Discussed…", "small"); b.type = "button";
        b.addEventListener("click", function () { open(p); });
        td.append(b); tr.append(td);
      }
      return tr;
    }), "Nothing flagged for discussion.", canRecord ? 6 : 5);
    ui.fitRows(flagged.closest(".panel"), flagged, document.getElementById("discussion-more"), 0, "flagged");
    var still = document.querySelector("#standing-still tbody");
    fill(still, d.standing_still.map(function (p) {
      var tr = el("tr", null, p.next_action_overdue ? "breach" : ""); tr.dataset.episode = p.episode_id;
      var next = p.next_action ? p.next_action + " (due " + p.next_action_due + ")" : "—";
      var nextCell = el("td", next);
      if (p.next_action_overdue) nextCell.append(" ", el("span", "OVERDUE", "flag overdue"));
      tr.append(el("td", p.person_ref, "ref"), el("td", p.worker || "—"), el("td", label(p.stage)),
                el("td", label(p.last_event) + ", " + days(p.days_since_last_event) + " ago"), nextCell);
      return tr;
    }), "Nothing standing still.", 5);
    ui.fitRows(still.closest(".panel"), still, document.getElementById("still-more"), 0, "standing still");
  }

  function open(p) {
    chosen = p;
    form.hidden = false; form.reset();
    document.getElementById("discussed-for").textContent = "Discussion of " + p.person_ref + " (episode " +
      p.episode_id + ") at this huddle";
    document.getElementById("discussed-result").textContent = "";
    form.elements.decision.focus();
  }

  if (form) {
    document.getElementById("discussed-cancel").addEventListener("click", function () {
      form.hidden = true;
      window.huddle.layout();  // the panel may take its turn again
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = document.getElementById("discussed-result");
      var body = { trigger: "discussed", where: "huddle", decision: form.elements.decision.value };
      if (form.elements.next_action.value) body.next_action = form.elements.next_action.value;
      if (form.elements.due.value) body.due = form.elements.due.value;
      fetch("/episodes/" + chosen.episode_id + "/events", {
        method: "POST", credentials: "same-origin",
        headers: { "X-Pathway-Board": "1", "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body)
      })
        .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
        .then(function (res) {
          if (res.status === 200) {
            out.textContent = "Recorded.";
            form.hidden = true;
            window.huddle.layout();
            return window.huddle.refresh();
          }
          out.textContent = res.body.detail || ("Could not record it (HTTP " + res.status + ").");
        })
        .catch(function (e) { out.textContent = "Could not record it: " + e.message; });
    });
  }

  document.addEventListener("huddle:render", function (e) { render(e.detail); });
  render(window.huddle.data);
  main.dataset.casework = "ready";
})();
