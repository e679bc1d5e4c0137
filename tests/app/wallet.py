"""A test wallet for the browser: the page sees an EIP-1193 provider announced through EIP-6963,
injected before any page script runs; every request goes to `TestWallet`, a small HTTP endpoint in
the test process that holds the key, signs with eth-account and broadcasts. Keys stay in Python.

Knobs a test turns: `account` (who is connected), `chain_id` (what the wallet reports),
`allow_switch` (whether it agrees to wallet_switchEthereumChain / wallet_addEthereumChain),
`reject` (methods answered with EIP-1193's 4001 "user rejected") and `before_send` (run once while
the user would be looking at the confirmation, before the wallet signs: another account acts first).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

_PAGE_SCRIPT = """
(() => {
  const SIGNER = "%(url)s";
  const listeners = {};
  const emit = (name, arg) => (listeners[name] || []).forEach((f) => f(arg));
  async function request({ method, params }) {
    const reply = await fetch(SIGNER, { method: "POST", headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ method, params: params || [] }) });
    const body = await reply.json();
    (body.emit || []).forEach(([name, arg]) => emit(name, arg));
    if (body.error) {
      const error = new Error(body.error.message);
      error.code = body.error.code;
      throw error;
    }
    return body.result;
  }
  const provider = {
    request,
    on(name, f) { (listeners[name] = listeners[name] || []).push(f); return provider; },
    removeListener(name, f) { listeners[name] = (listeners[name] || []).filter((g) => g !== f); return provider; },
  };
  const info = Object.freeze({ uuid: "6f3bd7a8-3c34-4c2f-9a26-7d1ab1f1f0aa", name: "Test Wallet", rdns: "test.wallet",
    icon: "%(icon)s" });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  window.__testWallet = { emit };
  announce();
})();
"""


# @dev EIP-6963 wants an icon as a data URI: a small orange disc.
_ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E"
    "%3Ccircle cx='4' cy='4' r='4' fill='%23f6851b'/%3E%3C/svg%3E"
)


class WalletRejected(Exception):  # noqa: N818
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class TestWallet:
    """The key side of the injected wallet."""

    __test__ = False  # not a pytest class

    def __init__(self, w3: Web3, account: LocalAccount, chain_id: int) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.allow_switch = True
        self.reject: set[str] = set()
        self.before_send: Callable[[], Any] | None = None
        self.sent: list[str] = []
        self.signed: list[dict[str, Any]] = []
        self.asked: list[str] = []
        self._emit: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def page_script(self) -> str:
        return _PAGE_SCRIPT % {"url": self.url, "icon": _ICON}

    def install(self, driver: Any) -> None:
        """Inject the provider into every page `driver` opens from now on, before its scripts run."""
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": self.page_script()})

    def use(self, driver: Any, account: LocalAccount) -> None:
        """Switch the connected account, as a user does in the wallet (accountsChanged)."""
        self.account = account
        driver.execute_script("window.__testWallet.emit('accountsChanged', [arguments[0]])", account.address)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- requests

    def handle(self, method: str, params: list[Any]) -> Any:
        self.asked.append(method)
        if method in self.reject:
            raise WalletRejected(4001, "User rejected the request.")
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.account.address]
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method in ("wallet_switchEthereumChain", "wallet_addEthereumChain"):
            if not self.allow_switch:
                raise WalletRejected(4001, "User rejected the request.")
            self.chain_id = int(params[0]["chainId"], 16)
            self._emit.append(("chainChanged", hex(self.chain_id)))
            return None
        if method == "eth_sendTransaction":
            return self._send(params[0])
        if method == "eth_signTypedData_v4":
            return self._sign_typed(params[0], params[1])
        reply = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in reply:
            raise WalletRejected(reply["error"].get("code", -32000), reply["error"].get("message", "error"))
        return reply["result"]

    def _send(self, tx: dict[str, Any]) -> str:
        # a wallet signs for the chain it is on, and refuses a transaction meant for another
        if int(tx.get("chainId", hex(self.chain_id)), 16) != self.chain_id:
            raise WalletRejected(-32602, f"chainId {tx['chainId']} does not match the wallet's {hex(self.chain_id)}")
        if tx["from"].lower() != self.account.address.lower():
            raise WalletRejected(4100, "the requested account is not connected")
        if self.before_send is not None:
            act, self.before_send = self.before_send, None
            act()
        signed = self.account.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
                "to": tx.get("to"),
                "data": tx.get("data", "0x"),
                "value": int(tx.get("value", "0x0"), 16),
                "gas": int(tx["gas"], 16),
                "maxFeePerGas": int(tx["maxFeePerGas"], 16),
                "maxPriorityFeePerGas": int(tx.get("maxPriorityFeePerGas", "0x0"), 16),
            }
        )
        tx_hash = "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
        self.sent.append(tx_hash)
        return tx_hash

    def _sign_typed(self, address: str, payload: str) -> str:
        from eth_account.messages import encode_typed_data

        if address.lower() != self.account.address.lower():
            raise WalletRejected(4100, "the requested account is not connected")
        typed = json.loads(payload)
        fields = {f["name"]: f["type"] for f in typed["types"][typed["primaryType"]]}
        message = {
            name: int(value) if fields[name].startswith("uint") else value for name, value in typed["message"].items()
        }
        full = {**typed, "message": message}
        self.signed.append(full)
        return "0x" + bytes(self.account.sign_message(encode_typed_data(full_message=full)).signature).hex()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        wallet = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with wallet._lock:
                    try:
                        answer: dict[str, Any] = {"result": wallet.handle(body["method"], body["params"])}
                    except WalletRejected as exc:
                        answer = {"error": {"code": exc.code, "message": str(exc)}}
                    answer["emit"], wallet._emit = wallet._emit, []
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
