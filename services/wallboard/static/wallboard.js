// The wallboard page: one EventSource on /events (it reconnects by itself), the board drawn with
// DOM calls only (no HTML from data), and the trafficer's actions as JSON posts.
"use strict";

const QUEUE_COLUMNS = [
  ["queue", "wachtrij"], ["waiting", "wachtend"], ["longest_wait_seconds", "langst (s)"],
  ["service_level", "bereikbaarheid %"], ["average_speed_of_answer_seconds", "ASA (s)"],
  ["abandonment_rate", "verloren %"], ["agents", "mw vrij/inzetbaar"], ["overflow", "overloop in/uit"],
  ["repeat_contacts", "herhaal"], ["sparkline", "laatste uur"],
];
const CALLBACK_COLUMNS = [
  ["department", "afdeling"], ["open", "open"], ["due_today", "vandaag"], ["warning", "waarschuwing"],
  ["overdue", "verlopen"],
];
const ACCOUNTABILITY_COLUMNS = [
  ["department", "afdeling"], ["requested", "aangevraagd"], ["on_time", "op tijd"], ["breached", "te laat"],
  ["median_seconds_to_first_attempt", "mediaan 1e poging (min)"], ["repeat_contacts", "herhaalverkeer"],
];
const WEBHOOK_COLUMNS = [
  ["id", "abonnement"], ["state", "status"], ["delivered", "afgeleverd"], ["retrying", "opnieuw"],
  ["parked", "geparkeerd"], ["pending", "wachtend"], ["oldest_undelivered_seconds", "oudste wachtend (s)"],
];
const TOTALS = [
  ["waiting", "wachtend"], ["answered", "beantwoord"], ["service_level", "bereikbaarheid %"],
  ["abandoned", "verloren"], ["overflowed", "overloop"], ["repeat_contacts", "herhaalverkeer"],
  ["referrals", "doorverwezen"],
];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function shortName(resource) {
  return String(resource || "").split("/").pop();
}

function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 60 20");
  svg.setAttribute("preserveAspectRatio", "none");
  const top = Math.max(1, ...values);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${i},${20 - (18 * v) / top}`).join(" "));
  svg.append(line);
  return svg;
}

function table(columns, rows, cell) {
  const head = el("tr", {}, ...columns.map(([, label]) => el("th", {}, label)));
  const body = rows.map((row) => el("tr", row.attrs || {}, ...columns.map(([key]) => cell(key, row))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

// A figure that has no value yet (a service level before anything was answered) shows as a dash.
function shown(value) {
  return value === null || value === undefined ? "\u2014" : value;
}

function queueCell(key, q) {
  if (key === "sparkline") return el("td", {}, sparkline(q.sparkline || []));
  if (key === "agents") return el("td", { "data-field": "agents" }, `${q.agents_available}/${q.agents_eligible}`);
  if (key === "overflow") return el("td", { "data-field": "overflow" }, `${q.overflowed_in}/${q.overflowed}`);
  if (key === "service_level") {
    const cls = q.below_target ? "below" : "met";
    const target = q.target_percent ? ` / ${q.target_percent}% in ${q.target_seconds}s` : "";
    return el("td", { class: cls, "data-field": key }, `${shown(q.service_level)}${target}`);
  }
  return el("td", { "data-field": key }, q[key]);
}

function departmentCell(key, row) {
  if (key === "department") return el("td", {}, shortName(row.department));
  if (key === "median_seconds_to_first_attempt") return el("td", {}, Math.round((row[key] || 0) / 60));
  const cls = (key === "overdue" || key === "breached") && row[key] > 0 ? "breached" : "";
  return el("td", { class: cls, "data-field": key }, row[key] || 0);
}

function webhookCell(key, sub) {
  return el("td", { "data-field": key }, sub[key] ?? "");
}

// Webhook subscriptions by id, marked when events are parked or wait too long (view.py decides).
function webhooks(tenant, status) {
  if (status === "unavailable") {
    return [el("p", { class: "unavailable", "data-field": "webhooks-unavailable" }, "webhookcijfers niet beschikbaar")];
  }
  const subs = (tenant.webhooks || []).map((s) =>
    ({ ...s, attrs: { "data-subscription": s.id, class: s.alert ? "alert" : "" } }));
  if (status !== "live" || !subs.length) return [];
  return [el("h3", {}, "Webhooks per abonnement"), table(WEBHOOK_COLUMNS, subs, webhookCell)];
}

const cards = new Map();

function tenantCard(tenant, mayAct, webhookStatus) {
  let card = cards.get(tenant.id);
  if (!card) {
    card = { root: el("section", { class: "tenant", "data-tenant": tenant.id }), body: el("div") };
    card.title = el("h2");
    card.threshold = el("span", { class: "threshold" });
    card.referrals = el("p", { class: "referrals", "data-field": "referrals" });
    card.root.append(card.title, card.body, card.referrals, card.threshold);
    if (mayAct) {
      const seconds = el("input", { type: "number", min: "0", max: "3600", placeholder: "s", size: "5" });
      const button = el("button", { type: "button", "data-action": "threshold" }, "overloopdrempel vandaag");
      button.addEventListener("click", () =>
        act("/actions/overflow-threshold", { tenant: tenant.id, seconds: Number(seconds.value) }));
      card.root.append(el("div", {}, seconds, button));
    }
    cards.set(tenant.id, card);
  }
  card.title.textContent = tenant.name;
  const thresholds = tenant.queues.map((q) => q.overflow_threshold_seconds).filter((s) => s > 0);
  card.threshold.textContent = thresholds.length ? `overloopdrempel vandaag: ${thresholds[0]} s ` : "";
  const referred = Object.entries(tenant.referrals).sort(([a], [b]) => a.localeCompare(b));
  card.referrals.textContent = referred.length
    ? `doorverwezen: ${referred.map(([body, count]) => `${body} ${count}`).join(", ")}` : "";
  const queues = tenant.queues.map((q) => ({ ...q, attrs: { "data-queue": q.queue } }));
  card.body.replaceChildren(
    ...(queues.length ? [table(QUEUE_COLUMNS, queues, queueCell)] : []),
    el("h3", {}, "Terugbelverzoeken per afdeling"),
    table(CALLBACK_COLUMNS, tenant.callbacks, departmentCell),
    el("h3", {}, "Afdelingen: laatste 30 dagen"),
    table(ACCOUNTABILITY_COLUMNS, tenant.accountability, departmentCell),
    ...webhooks(tenant, webhookStatus),
  );
  return card.root;
}

const agentRows = new Map();

function agentRow(agent) {
  let row = agentRows.get(agent.id);
  if (!row) {
    row = { root: el("tr", { "data-agent": agent.id }) };
    row.state = el("td", { "data-field": "state" });
    row.tenants = el("td", { "data-field": "tenants" });
    row.overflow = el("td", { "data-field": "overflow_tenants" });
    const choose = el("select", { "data-input": "state" },
      ...["BREAK", "AVAILABLE", "WRAP_UP", "OFFLINE"].map((s) => el("option", { value: s }, s)));
    const setState = el("button", { type: "button", "data-action": "state" }, "zet status");
    setState.addEventListener("click", () => act("/actions/agent-state", { agent: agent.id, state: choose.value }));
    const homes = el("input", { "data-input": "tenants", placeholder: "gm0268,…", size: "14" });
    const extra = el("input", { "data-input": "overflow_tenants", placeholder: "overloop", size: "14" });
    const move = el("button", { type: "button", "data-action": "move" }, "verplaats");
    const list = (input) => input.value.split(",").map((s) => s.trim()).filter(Boolean);
    move.addEventListener("click", () =>
      act("/actions/agent-tenants", { agent: agent.id, tenants: list(homes), overflow_tenants: list(extra) }));
    row.root.append(el("td", {}, agent.id), row.state, row.tenants, row.overflow,
      el("td", {}, choose, setState, homes, extra, move));
    agentRows.set(agent.id, row);
  }
  row.state.textContent = agent.state;
  row.tenants.textContent = agent.tenants.join(", ");
  row.overflow.textContent = agent.overflow_tenants.join(", ");
  return row.root;
}

async function act(path, body) {
  const result = document.getElementById("action-result");
  const reply = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await reply.json();
  result.textContent = reply.ok ? "gedaan" : `geweigerd: ${answer.error}`;
}

// Puts `nodes` in `parent` only when they are not what it holds already: taking a node out and back
// in takes the focus from the field the trafficer is typing in, a few times a second.
function keepChildren(parent, nodes) {
  const held = parent.children;
  if (nodes.length !== held.length || nodes.some((node, i) => held[i] !== node)) parent.replaceChildren(...nodes);
}

function draw(board) {
  const totals = document.getElementById("totals");
  totals.hidden = !board.totals;  // a department's page has no KCC totals
  if (board.totals) {
    totals.replaceChildren(...TOTALS.map(([key, label]) =>
      el("div", { "data-total": key }, el("span", {}, label), el("b", {}, shown(board.totals[key])))));
  }
  const mayAct = board.viewer.may_act;
  keepChildren(document.getElementById("tenants"), board.tenants.map((t) => tenantCard(t, mayAct, board.webhooks)));
  const agents = document.getElementById("agents");
  agents.hidden = !mayAct;
  if (mayAct) keepChildren(document.getElementById("agent-rows"), board.agents.map(agentRow));
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/events");
  source.onopen = () => {
    status.className = "connection up";
    status.dataset.state = "live";
    status.textContent = "live";
  };
  source.onerror = () => {
    status.className = "connection down";
    // CLOSED: the server refused the stream (the session expired); otherwise it reconnects by itself
    const closed = source.readyState === EventSource.CLOSED;
    status.dataset.state = closed ? "logged-out" : "reconnecting";
    status.textContent = closed ? "sessie verlopen: vraag een nieuwe link" : "opnieuw verbinden…";
  };
  source.onmessage = (event) => draw(JSON.parse(event.data));
}

document.addEventListener("DOMContentLoaded", connect);
