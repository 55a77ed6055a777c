#!/usr/bin/env python3
"""Writes the seed corpus of kdf_params_fuzzer: small programs in its input
encoding (see Program::Step in kdf_params_fuzzer.cc).

    python3 fuzz/make_kdf_params_seeds.py fuzz/corpus/kdf_params_fuzzer
"""
import os
import sys

# Opcodes, slots (0 and 2 start as ONEM2M-PSK, 1 as ONEM2M-MASTER), names
# and types as the fuzzer numbers them.
SET, DERIVE, RESET, DUP, GET, NEW = 0, 2, 4, 5, 6, 7
KEY, KEY_ID, VERSION, ORIGINATOR, RECEIVER, SESSION_HASH, SIZE, BOGUS = range(8)
OCTETS, UTF8, UTF8_PTR, OCTET_PTR, UINT, INT, REAL = range(7)
INT_SIZE_4 = 0

ROOT = bytes(range(32))
KEY_ID_TEXT = b"dev-0001@sp.example.com"


def param(name, ptype, value):
    if ptype in (UINT, INT, REAL):
        return bytes([name, ptype, INT_SIZE_4]) + value
    return bytes([name, ptype, len(value)]) + value


def set_params(slot, *params):
    return bytes([SET, slot, len(params)]) + b"".join(params)


def derive(slot, outlen_choice=0):
    return bytes([DERIVE, slot, outlen_choice])


def version(v):
    return param(VERSION, UINT, v.to_bytes(4, "little"))


PSK_INPUTS = (param(KEY, OCTETS, ROOT), param(KEY_ID, UTF8, KEY_ID_TEXT))

SEEDS = {
    "psk_v2": set_params(0, *PSK_INPUTS, version(2)) + derive(0),
    "psk_v0_ptr_types": set_params(
        0, param(KEY, OCTET_PTR, ROOT), param(KEY_ID, UTF8_PTR, KEY_ID_TEXT),
        version(0)) + derive(0),
    "master_randoms_v3": set_params(
        1, *PSK_INPUTS, version(3), param(ORIGINATOR, OCTETS, bytes(32)),
        param(RECEIVER, OCTETS, bytes(range(32, 64)))) + derive(1, 2),
    "master_session_hash_v1": set_params(
        1, *PSK_INPUTS, version(1), param(SESSION_HASH, OCTETS, bytes(32)))
    + derive(1),
    "reset_then_derive": set_params(0, *PSK_INPUTS, version(1)) + derive(0)
    + bytes([RESET, 0]) + derive(0),
    "dup_then_derive": set_params(0, *PSK_INPUTS, version(3))
    + bytes([DUP, 2, 0]) + derive(2),
    "empty_after_value": set_params(0, *PSK_INPUTS, version(2)) + derive(0)
    + set_params(0, param(KEY_ID, UTF8, b"")) + derive(0),
    "get_identity_and_size": set_params(0, param(KEY_ID, UTF8, KEY_ID_TEXT),
                                        version(2))
    + bytes([GET, 0, 0x11, 64]),
    "wrong_types": set_params(0, param(KEY, UTF8, ROOT),
                              param(VERSION, OCTETS, b"\x02"),
                              param(BOGUS, OCTETS, b"x")) + derive(0),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
