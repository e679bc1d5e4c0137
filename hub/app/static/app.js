// The page: renders the chain (polled), the connected account's own state, and runs every action
// as: ask the server to build it (the CLI's client code) -> the wallet signs and sends -> follow
// the transaction until it is confirmed or failed. Amounts arrive in wei as decimal strings.
"use strict";

import * as wallet from "./wallet.js";

const WEI = 10n ** 18n;
const $ = (selector) => document.querySelector(selector);
let config = null;
let snapshot = null;
let mine = null;
let training = { loss: {}, audit: [] };
let gov = null;
const COLORS = ["#0969da", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a"];

// -- formatting

function inj(wei) {
  const v = BigInt(wei || "0");
  const whole = v / WEI;
  const frac = (v % WEI).toString().padStart(18, "0").slice(0, 6);
  return `${whole.toLocaleString("en-US")}.${frac}`;
}

/** A chain timestamp as UTC, with how far it is from the chain's `now`. */
function when(t, now) {
  const stamp = new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const d = t - now;
  return `${stamp} (${d > 0 ? `in ${d} s` : d === 0 ? "now" : `${-d} s ago`})`;
}

function short(address) { return address ? `${address.slice(0, 8)}…${address.slice(-6)}` : "-"; }

function cell(content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  if (cls) td.className = cls;
  return td;
}

function fill(selector, rows) {
  $(`${selector} tbody`).replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }));
}

function actionButton(label, action, params) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.dataset.action = action;
  button.dataset.params = JSON.stringify(params);
  return button;
}

/** A blacklisting releases at most 64 of the provider's nodes; anyone releases each other one still in
 *  a pool with its own transaction. One button per node, not one for all: a wallet asks for each
 *  transaction in turn, and a button per node shows which are left after a rejected or failed one. */
function releaseButton(node, label) {
  const button = actionButton(label, "release_blacklisted_node", { node: node.address });
  button.title = `take ${node.address} out of pool #${node.pool_id} (its provider is blacklisted)`;
  return button;
}

function summary(selector, pairs) {
  $(selector).replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dd.dataset.key = k;
    return [dt, dd];
  }));
}

function sparkline(points) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 160 32");
  svg.setAttribute("width", "160");
  svg.setAttribute("height", "32");
  if (points.length > 0) {
    const t0 = points[0].time, t1 = points[points.length - 1].time || t0 + 1;
    const max = points[points.length - 1].units || 1;
    const xy = [[0, 30]].concat(points.map((p) => [
      ((p.time - t0) / Math.max(1, t1 - t0)) * 158 + 1, 30 - (p.units / max) * 28]));
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", xy.map((p) => p.join(",")).join(" "));
    svg.append(line);
  }
  return svg;
}

/** A small chart of each peer's loss per epoch in one pool, with the latest value. */
function lossChart(curves) {
  const span = document.createElement("span");
  const peers = Object.entries(curves || {});
  if (peers.length === 0) { span.textContent = "-"; return span; }
  const all = peers.flatMap(([, c]) => c);
  const [e0, e1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [l0, l1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark loss");
  svg.setAttribute("viewBox", "0 0 160 32");
  svg.setAttribute("width", "160");
  svg.setAttribute("height", "32");
  peers.forEach(([peer, curve], i) => {
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", curve.map(([e, l]) =>
      [((e - e0) / Math.max(1, e1 - e0)) * 158 + 1, 30 - ((l - l0) / Math.max(1e-9, l1 - l0)) * 28].join(",")).join(" "));
    line.style.stroke = COLORS[i % COLORS.length];
    line.dataset.peer = peer;
    svg.append(line);
  });
  const last = peers.map(([, c]) => c[c.length - 1][1]);
  const value = document.createElement("span");
  value.className = "last-loss";
  value.textContent = ` ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(3)}`;
  span.append(svg, value);
  return span;
}

function renderTraining() {
  fill("#aux-audit", training.audit.map((d) => {
    const details = document.createElement("details");
    const summaryLine = document.createElement("summary");
    summaryLine.textContent = d.epochs && d.epochs.length ? `epochs ${d.epochs[0]}-${d.epochs[d.epochs.length - 1]}` : "show";
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(d.evidence || {}, null, 1);
    details.append(summaryLine, pre);
    return [cell(`#${d.pool_id}`), cell(d.node || "-"), cell(d.verdict || "-", `verdict-${d.verdict}`),
      cell(String(d.claimed ?? "-"), "num"), cell(String(d.verified ?? "-"), "num"),
      cell(String(d.allowed ?? "-"), "num"), cell(d.reason || ""), cell(details)];
  }));
}

// -- the server

async function api(path, body) {
  const reply = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await reply.json();
  if (!reply.ok) throw new Error(data.error || reply.statusText);
  return data;
}

// -- rendering

const providerStatus = (p) => p.blacklisted ? "blacklisted" : p.whitelisted ? "whitelisted"
  : p.registered ? "registered" : "deregistered";

function renderSnapshot(s) {
  $("#chain").textContent =
    `chain ${s.chain.chain_id} · block ${s.chain.block} · hub ${s.chain.hub} · ` +
    `${inj(s.chain.min_stake_per_compute_unit)} INJ stake per compute unit`;
  document.body.dataset.block = String(s.chain.block);
  // the server reads a long-lived deployment's events newest first: say how far back they go
  const h = s.history;
  $("#history").hidden = h.complete;
  $("#history").textContent = h.complete ? "" : `showing since block ${h.since}: providers, nodes, work ` +
    `and rewards of the ${(h.since - h.first_block).toLocaleString("en-US")} older blocks of this ` +
    `deployment (from block ${h.first_block}) are still being read`;
  fill("#providers", s.providers.map((p) => [
    cell(p.address), cell(providerStatus(p)), cell(inj(p.stake), "num"), cell(inj(p.unbonding), "num"),
    cell(String(p.total_compute), "num"), cell(String(p.node_count), "num")]));
  fill("#nodes", s.providers.flatMap((p) => p.nodes.map((n) => {
    const pool = document.createElement("span");
    pool.textContent = n.pool_id ? `#${n.pool_id}` : "-";
    if (p.blacklisted && n.pool_id) pool.append(" ", releaseButton(n, "Release"));
    return [cell(n.address), cell(p.address), cell(String(n.compute_units), "num"),
      cell(n.validated ? "yes" : "no"), cell(pool)];
  })));
  fill("#pools", s.pools.map((p) => [
    cell(`#${p.pool_id}`), cell(p.status, `status-${p.status}`),
    cell(`${p.total_compute}${p.compute_limit ? " / " + p.compute_limit : ""}`, "num"),
    cell(inj(p.budget.funded), "num"), cell(inj(p.budget.available), "num"), cell(inj(p.budget.paid), "num"),
    cell(p.units.toLocaleString("en-US"), "num"), cell(sparkline(p.progress)),
    cell(lossChart(training.loss[String(p.pool_id)]))]));
  fill("#rewards", s.rewards.map((r) => [
    cell(r.provider), cell(`#${r.pool_id}`), cell(inj(r.locked), "num"), cell(inj(r.claimable), "num"),
    cell(inj(r.claimed), "num"), cell(inj(r.invalidated), "num"), cell(inj(r.voided), "num")]));
  // validator: the queue is every registered node not yet validated
  fill("#queue", s.providers.flatMap((p) => p.nodes.filter((n) => !n.validated).map((n) => [
    cell(n.address), cell(p.address), cell(String(n.compute_units), "num"),
    cell(actionButton("Validate", "validate_node", { node: n.address }))])));
  fill("#police", s.providers.filter((p) => p.registered || p.blacklisted).map((p) => {
    const buttons = document.createElement("span");
    if (!p.whitelisted && !p.blacklisted) buttons.append(actionButton("Whitelist", "whitelist_provider", { provider: p.address }));
    if (!p.blacklisted) buttons.append(actionButton("Blacklist", "blacklist_provider", { provider: p.address }));
    if (p.blacklisted) buttons.append(...p.nodes.filter((n) => n.pool_id).map((n) => releaseButton(n, `Release ${short(n.address)}`)));
    return [cell(p.address), cell(providerStatus(p)), cell(String(p.node_count), "num"), cell(buttons)];
  }));
  fill("#audit", (s.invalidations || []).map((w) => [
    cell(`#${w.pool_id}`), cell(w.node), cell(short(w.work_key)), cell(String(w.units), "num"),
    cell(w.hard ? "hard (fraud)" : "soft"), cell(String(w.block_number), "num")]));
}

function renderMine(me) {
  const reg = me.provider.registered;
  const pairs = [
    ["account", me.address], ["balance", `${inj(me.balance)} INJ`],
    ["roles", me.roles.length ? me.roles.join(", ") : "none"],
    ["provider", providerStatus(me.provider)],
    ["stake", `${inj(me.stake)} INJ`], ["minimum stake", `${inj(me.minimum_stake)} INJ`],
    ["unbonding", `${inj(me.unbonding)} INJ`], ["withdrawable", `${inj(me.withdrawable)} INJ`],
    ["nodes", String(me.nodes.length)],
    ["work units", me.nodes.reduce((sum, n) => sum + n.units, 0).toLocaleString("en-US")],
    ["rewards claimable", `${inj(me.rewards.reduce((sum, r) => sum + BigInt(r.claimable || "0"), 0n))} INJ`],
    ["rewards locked", `${inj(me.rewards.reduce((sum, r) => sum + BigInt(r.locked || "0"), 0n))} INJ`],
    ["rewards claimed", `${inj(me.rewards.reduce((sum, r) => sum + BigInt(r.claimed || "0"), 0n))} INJ`],
  ];
  summary("#provider-summary", pairs);
  summary("#mine-summary", pairs);
  $("#mine").hidden = false;
  document.body.dataset.registered = String(reg);
  fill("#unbonds", me.unbonds.map((u) => {
    const wait = u.maturity - me.time;
    return [cell(inj(u.amount), "num"), cell(wait > 0 ? `in ${wait} s` : "matured")];
  }));
  fill("#my-nodes", me.nodes.map((n) => {
    const buttons = document.createElement("span");
    buttons.append(actionButton("Remove", "node_remove", { node: n.address }));
    return [
      cell(n.address), cell(String(n.compute_units), "num"), cell(n.validated ? "yes" : "no"),
      cell(n.pool_id ? `#${n.pool_id}` : "-"), cell(inj(n.balance), "num"),
      cell(n.units.toLocaleString("en-US"), "num"),
      cell(`${inj(n.rewards.claimable)} claimable · ${inj(n.rewards.locked)} locked`), cell(buttons)];
  }));
  fill("#my-rewards", me.rewards.map((r) => [
    cell(`#${r.pool_id}`), cell(inj(r.locked), "num"), cell(inj(r.claimable), "num"), cell(inj(r.claimed), "num"),
    cell(inj(r.invalidated), "num"),
    // the server sent the next claim's node and keys (one transaction pays one node's, up to 64):
    // the button hands them back, so building the claim reads no logs
    cell(r.claim ? actionButton("Claim", "claim", { pool_id: String(r.pool_id), ...r.claim }) : "")]));
  fill("#my-pools", me.pools.map((p) => {
    const buttons = document.createElement("span");
    const id = String(p.pool_id);
    if (p.status === "pending") buttons.append(actionButton("Start", "pool_start", { pool_id: id }));
    if (p.status === "pending" || p.status === "active") buttons.append(actionButton("End", "pool_end", { pool_id: id }));
    if (p.status === "completed" && BigInt(p.budget.available) > 0n) {
      buttons.append(actionButton("Refund", "pool_refund", { pool_id: id }));
    }
    return [cell(`#${p.pool_id}`), cell(p.status, `status-${p.status}`), cell(inj(p.budget.funded), "num"),
      cell(inj(p.budget.available), "num"), cell(inj(p.budget.paid), "num"), cell(buttons)];
  }));
}

function renderGovernance(g) {
  const p = g.parameters;
  const me = g.me;
  const now = g.time;
  const pairs = [
    ["contract", g.address],
    ["voting", `opens ${p.voting_delay} s after a proposal, lasts ${p.voting_period} s`],
    ["timelock", `${p.timelock_delay} s between queue and execute`],
    ["quorum", `${p.quorum_bps / 100}% of staked INJ (for + abstain)`],
    ["proposal threshold", `${inj(p.proposal_threshold)} INJ of active stake`],
    ["guardian", g.guardian_until > now ? `${g.guardian} may cancel queued proposals until ${when(g.guardian_until, now)}`
      : "none (any guardian's cancel period is over)"],
  ];
  if (me) {
    pairs.push(["your voting power", `${inj(me.power)} INJ (your active stake)`]);
    pairs.push(["your stake", me.locked_until > now
      ? `locked by your vote: it cannot unbond until ${when(me.locked_until, now)}` : "not locked by a vote"]);
  }
  summary("#gov-summary", pairs);
  fill("#proposals", g.proposals.map((x) => {
    const id = String(x.id);
    const changes = document.createElement("ul");
    changes.className = "calls";
    changes.append(...x.calls.map((c) => { const li = document.createElement("li"); li.textContent = c; return li; }));
    const voting = x.state === "pending" ? `opens ${when(x.vote_start, now)}`
      : x.state === "active" ? `closes ${when(x.vote_end, now)}` : `closed ${when(x.vote_end, now)}`;
    const timelock = !x.eta ? "-" : x.state === "queued" ? `executable ${when(x.eta, now)}`
      : `ended ${when(x.eta, now)}`;
    let yours = "-";
    if (x.my_vote) yours = `${x.my_vote.support} · ${inj(x.my_vote.weight)} INJ`;
    else if (me && x.state === "active") {
      yours = `${inj(me.power)} INJ to vote; voting locks your stake until ${when(x.vote_end, now)}`;
    }
    const buttons = document.createElement("span");
    if (me && x.state === "active" && !x.my_vote) {
      buttons.append(actionButton("Vote for", "gov_vote", { proposal_id: id, support: "for" }),
        actionButton("Vote against", "gov_vote", { proposal_id: id, support: "against" }),
        actionButton("Abstain", "gov_vote", { proposal_id: id, support: "abstain" }));
    }
    if (x.state === "succeeded") buttons.append(actionButton("Queue", "gov_queue", { proposal_id: id }));
    if (x.state === "queued") buttons.append(actionButton("Execute", "gov_execute", { proposal_id: id }));
    const proposer = me && me.address === x.proposer && x.state === "pending";
    const guardian = me && me.address === g.guardian && x.state === "queued" && now < g.guardian_until;
    if (proposer || guardian) buttons.append(actionButton("Cancel", "gov_cancel", { proposal_id: id }));
    const quorum = `${inj(x.quorum)} ${x.quorum_reached ? "reached" : "not reached"}`;
    return [cell(`#${id}`), cell(x.state, `state-${x.state}`), cell(changes), cell(inj(x.for_votes), "num"),
      cell(inj(x.against_votes), "num"), cell(inj(x.abstain_votes), "num"), cell(quorum, "num"), cell(voting),
      cell(timelock), cell(yours), cell(buttons)];
  }));
}

// -- live updates: poll; a new block shows within a couple of seconds

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    [snapshot, training] = await Promise.all([api("/api/snapshot"), api("/api/training")]);
    renderSnapshot(snapshot);
    renderTraining();
    const current = wallet.connected();
    if (current) {
      mine = await api(`/api/account?address=${current.account}`);
      renderMine(mine);
    }
    if (config.governance) {
      gov = await api(`/api/governance?address=${current ? current.account : ""}`);
      renderGovernance(gov);
    }
    $("#error").textContent = "";
    document.body.dataset.loaded = "true";
  } catch (err) {
    $("#error").textContent = `cannot read the chain: ${err.message}`;
  } finally {
    busy = false;
  }
}

// -- transactions

function logEntry(label) {
  const li = document.createElement("li");
  li.className = "tx";
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = label;
  const state = document.createElement("span");
  state.className = "state";
  const detail = document.createElement("span");
  detail.className = "detail";
  li.append(what, state, detail);
  $("#txlog").prepend(li);
  return {
    set(name, text) {
      li.dataset.state = name;
      state.textContent = name;
      detail.textContent = text || "";
    },
  };
}

async function follow(hash) {
  for (;;) {
    const status = await api(`/api/tx?hash=${hash}`);
    if (status.state !== "pending") return status;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

async function run(action, params, result) {
  const entry = logEntry(action.replaceAll("_", " "));
  const show = (state, text) => {
    entry.set(state, text);
    if (result) {
      result.dataset.state = state;
      result.textContent = text ? `${state}: ${text}` : state;
    }
  };
  show("building");
  try {
    const current = wallet.connected();
    if (!current) throw new Error("connect a wallet first");
    await wallet.ensureChain(config.network);
    const built = await api("/api/build", { action, from: current.account, params });
    if (built.kind === "sign") {
      show("signing", "confirm the signature in your wallet");
      const signature = await wallet.request("eth_signTypedData_v4",
        [current.account, JSON.stringify(built.typed_data)]);
      const invite = await api("/api/invite", { from: current.account, typed_data: built.typed_data, signature });
      showInvite(invite);
      show("signed", `invite for node ${invite.node} to pool ${invite.pool_id}`);
      return;
    }
    show("wallet", "confirm the transaction in your wallet");
    const hash = await wallet.request("eth_sendTransaction", [built.tx]);
    show("pending", hash);
    const status = await follow(hash);
    if (status.state === "confirmed") {
      const extra = (status.pool_id ? ` · pool ${status.pool_id}` : "") +
        (status.proposal_id ? ` · proposal ${status.proposal_id}` : "");
      show("confirmed", `block ${status.block}${extra} · ${hash}`);
      if (status.pool_id) entryResult(result, "pool", status.pool_id);
      if (status.proposal_id) entryResult(result, "proposal", status.proposal_id);
    } else {
      // mined and reverted: the fee is spent, nothing changed; the sentence says why
      show("failed", `${status.reason} · block ${status.block} · ${hash}`);
    }
  } catch (err) {
    if (err && err.code === 4001) show("rejected", "rejected in the wallet: nothing was sent");
    else show("refused", err.message || String(err));
  }
  refresh();
}

function entryResult(result, key, value) { if (result) result.dataset[key] = String(value); }

function showInvite(invite) {
  const text = JSON.stringify(invite, null, 2) + "\n";
  $("#invite-json").value = text;
  $("#invite-file").href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  $("#invite-file").download = `invite-pool${invite.pool_id}-${invite.node.slice(2, 10)}.json`;
  const link = new URL(location.href);
  link.hash = `invite=${btoa(text)}`;
  $("#invite-link").href = link.toString();
  $("#invite-out").hidden = false;
}

// -- wiring

function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${name}`; });
}

function renderWallets() {
  const list = $("#wallets");
  list.replaceChildren(...wallet.wallets().map((detail) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.wallet = detail.info.uuid;
    if (detail.info.icon) {
      const img = document.createElement("img");
      img.src = detail.info.icon;
      img.alt = "";
      button.append(img);
    }
    button.append(detail.info.name);
    button.addEventListener("click", () => connectTo(detail));
    li.append(button);
    return li;
  }));
}

async function connectTo(detail) {
  try {
    const current = await wallet.connect(detail, onWalletChange);
    $("#wallets").hidden = true;
    await onWalletChange();
    return current;
  } catch (err) {
    $("#error").textContent = err.code === 4001 ? "the wallet refused to connect" : `wallet: ${err.message}`;
  }
}

async function onWalletChange() {
  const current = wallet.connected();
  const badge = $("#account");
  if (!current) {
    badge.hidden = true;
    $("#connect").hidden = false;
    return;
  }
  const id = await wallet.chainId();
  badge.hidden = false;
  badge.dataset.address = current.account;
  badge.dataset.chain = String(id);
  badge.className = id === config.chain_id ? "" : "wrong-chain";
  badge.textContent = `${current.info.name} · ${short(current.account)}` +
    (id === config.chain_id ? "" : ` · wrong chain ${id}`);
  $("#connect").hidden = true;
  mine = null;
  refresh();
}

function formParams(form) {
  const params = {};
  for (const [key, value] of new FormData(form)) if (typeof value === "string") params[key] = value;
  return params;
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-action]");
  if (!form) return;
  event.preventDefault();
  run(form.dataset.action, formParams(form), form.querySelector(".result"));
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) {
    run(button.dataset.action, JSON.parse(button.dataset.params || "{}"), null);
    return;
  }
  const tab = event.target.closest("#tabs button");
  if (tab) showTab(tab.dataset.tab);
});

document.addEventListener("change", async (event) => {
  const input = event.target.closest("input.file-into");
  if (!input || !input.files.length) return;
  input.form.querySelector(`[name="${input.dataset.into}"]`).value = await input.files[0].text();
});

$("#connect").addEventListener("click", () => {
  renderWallets();
  const list = $("#wallets");
  if (list.children.length === 0) {
    $("#error").textContent = "no browser wallet found: install one (MetaMask, Rabby, Keplr, Leap) and reload";
    return;
  }
  list.hidden = !list.hidden;
});
wallet.onWalletsChanged(renderWallets);

async function start() {
  try {
    config = await api("/api/config");
  } catch (err) {
    $("#error").textContent = `cannot read the chain: ${err.message}`;
    setTimeout(start, 2000);
    return;
  }
  const invite = location.hash.startsWith("#invite=") ? location.hash.slice("#invite=".length) : null;
  if (invite) {
    $('[name="invite"]').value = atob(invite);
    showTab("provider");
  }
  $('#tabs button[data-tab="governance"]').hidden = !config.governance;
  renderWallets();
  document.body.dataset.ready = "true";
  await refresh();
  setInterval(refresh, 1500);
}

start();
