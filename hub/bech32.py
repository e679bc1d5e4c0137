"""Bech32 encoding (BIP-173) of 20-byte account addresses, as the Cosmos side of Injective prints them.

An Injective account has one 20-byte address shown two ways: `0x...` on the EVM side and
`inj1...` on the Cosmos side. Genesis funding needs the second form. Written from the BIP-173
specification; `tests/hub/test_devkeys.py` checks it against `injectived keys parse`.
"""

from __future__ import annotations

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_5bit(data: bytes) -> list[int]:
    """Regroup 8-bit bytes into 5-bit words, padding the last word with zero bits."""
    accumulator, bits, words = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append((accumulator >> bits) & 31)
    if bits:
        words.append((accumulator << (5 - bits)) & 31)
    return words


def encode(hrp: str, data: bytes) -> str:
    """Bech32-encode `data` under the human-readable prefix `hrp` (e.g. "inj")."""
    words = _to_5bit(data)
    polymod = _polymod(_hrp_expand(hrp) + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def inj_address(evm_address: str) -> str:
    """`0xf39F...` -> `inj1...`: the same account's Cosmos address."""
    raw = bytes.fromhex(evm_address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {evm_address!r}")
    return encode("inj", raw)


def _from_5bit(words: list[int]) -> bytes:
    """Regroup 5-bit words into bytes; the padding bits left over must be zero (BIP-173)."""
    accumulator, bits, out = 0, 0, bytearray()
    for word in words:
        accumulator = (accumulator << 5) | word
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        raise ValueError("bad padding")
    return bytes(out)


def decode(text: str) -> tuple[str, bytes]:
    """(prefix, data) of a bech32 string; `ValueError` naming what is wrong (case, characters,
    checksum). Mixed case is refused, as BIP-173 says."""
    if text != text.lower() and text != text.upper():
        raise ValueError("mixed case")
    text = text.lower()
    hrp, sep, rest = text.rpartition("1")
    if not sep or not hrp or len(rest) < 6:
        raise ValueError("no separator or too short")
    try:
        words = [_CHARSET.index(c) for c in rest]
    except ValueError:
        raise ValueError("a character outside the bech32 alphabet") from None
    if _polymod(_hrp_expand(hrp) + words) != 1:
        raise ValueError("bad checksum")
    return hrp, _from_5bit(words[:-6])


def evm_address(inj: str) -> str:
    """`inj1...` -> `0x...` (lower case): the same account's EVM address."""
    hrp, data = decode(inj)
    if hrp != "inj" or len(data) != 20:
        raise ValueError("not an inj1 account address")
    return "0x" + data.hex()
