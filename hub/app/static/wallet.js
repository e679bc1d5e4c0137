// The browser wallet: EIP-6963 discovery (window.ethereum as fallback), connection, and the chain
// check before anything is signed. No key is ever seen here: the wallet signs.
"use strict";

const found = new Map(); // uuid -> {info, provider}
const listeners = new Set();
let current = null; // {info, provider, account}

window.addEventListener("eip6963:announceProvider", (event) => {
  const { info, provider } = event.detail || {};
  if (!info || !provider || found.has(info.uuid)) return;
  found.set(info.uuid, { info, provider });
  listeners.forEach((f) => f());
});
window.dispatchEvent(new Event("eip6963:requestProvider"));

/** Wallets the page can use: those that announced themselves, else the legacy window.ethereum. */
export function wallets() {
  const list = [...found.values()];
  if (list.length === 0 && window.ethereum) {
    list.push({ info: { uuid: "window.ethereum", name: "Browser wallet", icon: "" }, provider: window.ethereum });
  }
  return list;
}

export function onWalletsChanged(f) { listeners.add(f); }

export function connected() { return current; }

/** Ask the wallet for its account; `onChange` runs when the account or the chain changes. */
export async function connect(detail, onChange) {
  const accounts = await detail.provider.request({ method: "eth_requestAccounts" });
  if (!accounts || accounts.length === 0) throw new Error("the wallet gave no account");
  current = { ...detail, account: accounts[0] };
  if (detail.provider.on) {
    detail.provider.on("accountsChanged", (list) => {
      current = list && list.length ? { ...current, account: list[0] } : null;
      onChange();
    });
    detail.provider.on("chainChanged", () => onChange());
  }
  return current;
}

export async function chainId() {
  return parseInt(await current.provider.request({ method: "eth_chainId" }), 16);
}

/** Make sure the wallet is on `network` (EIP-3085 parameters), asking it to switch or add the
 * network; refuse with a sentence if it stays elsewhere. */
export async function ensureChain(network) {
  const want = parseInt(network.chainId, 16);
  if ((await chainId()) === want) return;
  try {
    await current.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: network.chainId }] });
  } catch (err) {
    if (err && err.code === 4902) {
      try {
        await current.provider.request({ method: "wallet_addEthereumChain", params: [network] });
      } catch (_) { /* refused: the check below says so */ }
    }
  }
  const now = await chainId();
  if (now !== want) {
    const error = new Error(`the wallet is on chain ${now}, not this hub's chain ${want} (${network.chainName}): ` +
      "nothing was sent; switch the wallet's network and try again");
    error.wrongChain = true;
    throw error;
  }
}

export function request(method, params) {
  return current.provider.request({ method, params });
}
