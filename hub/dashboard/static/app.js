// Polls /api/snapshot and renders it. Amounts arrive in wei as decimal strings.
"use strict";

const WEI = 10n ** 18n;

function inj(wei) {
  const v = BigInt(wei || "0");
  const whole = v / WEI;
  const frac = (v % WEI).toString().padStart(18, "0").slice(0, 6);
  return `${whole.toLocaleString("en-US")}.${frac}`;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fill(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }));
}

function sparkline(points) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
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
  const td = document.createElement("td");
  td.append(svg);
  return td;
}

function render(s) {
  document.getElementById("chain").textContent =
    `chain ${s.chain.chain_id} · block ${s.chain.block} · hub ${s.chain.hub} · ` +
    `${inj(s.chain.min_stake_per_compute_unit)} INJ stake per compute unit`;
  const status = (p) => p.blacklisted ? "blacklisted" : p.whitelisted ? "whitelisted"
    : p.registered ? "registered" : "deregistered";
  fill("providers", s.providers.map((p) => [
    cell(p.address), cell(status(p)), cell(inj(p.stake), "num"), cell(inj(p.unbonding), "num"),
    cell(String(p.total_compute), "num"), cell(String(p.node_count), "num")]));
  fill("nodes", s.providers.flatMap((p) => p.nodes.map((n) => [
    cell(n.address), cell(p.address), cell(String(n.compute_units), "num"),
    cell(n.validated ? "yes" : "no"), cell(n.pool_id ? `#${n.pool_id}` : "-")])));
  fill("pools", s.pools.map((p) => [
    cell(`#${p.pool_id}`), cell(p.status, `status-${p.status}`),
    cell(`${p.total_compute}${p.compute_limit ? " / " + p.compute_limit : ""}`, "num"),
    cell(inj(p.budget.funded), "num"), cell(inj(p.budget.available), "num"), cell(inj(p.budget.paid), "num"),
    cell(p.units.toLocaleString("en-US"), "num"), sparkline(p.progress)]));
  fill("rewards", s.rewards.map((r) => [
    cell(r.provider), cell(`#${r.pool_id}`), cell(inj(r.locked), "num"), cell(inj(r.claimable), "num"),
    cell(inj(r.claimed), "num"), cell(inj(r.invalidated), "num"), cell(inj(r.voided), "num")]));
}

async function refresh() {
  try {
    const reply = await fetch("/api/snapshot");
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.error || reply.statusText);
    render(body);
    document.getElementById("error").textContent = "";
    document.body.dataset.loaded = "true";
  } catch (err) {
    document.getElementById("error").textContent = `cannot read the chain: ${err.message}`;
  }
}

refresh();
setInterval(refresh, 5000);
