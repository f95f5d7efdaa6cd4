"""A secured mesh's keys, derived as PROTOCOL.md section 10 says, with nothing of midimesh's code:
libsodium through ctypes. A test client that joins with these keys proves the document."""

import ctypes
import ctypes.util
from dataclasses import dataclass

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
_sodium.crypto_generichash.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                       ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_size_t]
_sodium.crypto_pwhash.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p,
                                  ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_ulonglong,
                                  ctypes.c_size_t, ctypes.c_int]
_sodium.crypto_kdf_derive_from_key.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                               ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p]
_sodium.crypto_scalarmult_base.argtypes = [ctypes.c_char_p, ctypes.c_char_p]

OPSLIMIT = 2           # crypto_pwhash_OPSLIMIT_INTERACTIVE
MEMLIMIT = 64 << 20    # crypto_pwhash_MEMLIMIT_INTERACTIVE
ARGON2ID13 = 2         # crypto_pwhash_ALG_ARGON2ID13


@dataclass
class MeshKeys:
    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes
    record_key: bytes


def _hash(message: bytes, size: int, key: bytes | None = None) -> bytes:
    out = ctypes.create_string_buffer(size)
    _sodium.crypto_generichash(out, size, message, len(message), key, len(key) if key else 0)
    return out.raw


def derive(passphrase: str, mesh: str) -> MeshKeys:
    if _sodium.sodium_init() < 0:
        raise RuntimeError("libsodium cannot start")
    salt = _hash(f"midimesh/1 mesh {mesh}".encode(), 16)
    master = ctypes.create_string_buffer(32)
    secret = passphrase.encode()
    if _sodium.crypto_pwhash(master, 32, secret, len(secret), salt, OPSLIMIT, MEMLIMIT,
                             ARGON2ID13) != 0:
        raise RuntimeError("crypto_pwhash failed (out of memory?)")

    def subkey(number: int) -> bytes:
        key = ctypes.create_string_buffer(32)
        _sodium.crypto_kdf_derive_from_key(key, 32, number, b"midimesh", master.raw)
        return key.raw

    def public(secret_key: bytes) -> bytes:
        key = ctypes.create_string_buffer(32)
        _sodium.crypto_scalarmult_base(key, secret_key)
        return key.raw

    server, client = subkey(1), subkey(2)
    return MeshKeys(public(server), server, public(client), client, subkey(3))

