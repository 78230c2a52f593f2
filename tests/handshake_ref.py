#!/usr/bin/env python3
"""handshake_ref.py: an independent implementation of the tryst handshake,
written from doc/PROTOCOL.md ("Handshake") alone, that prints the test vectors of
tests/check_handshake.c (compare with TRYST_PRINT_VECTORS=1
tests/check_handshake).  It plays both sides, checks every mac and
decryption, and needs only Python 3 and python3-cryptography (for X25519,
Ed25519 and ChaCha20-Poly1305); HChaCha20, for XChaCha20-Poly1305, is
written out below.  Not run by `make check`: it is a cross-check for whoever
changes the protocol, and a second implementation to read.  With -v it
also prints the intermediate values doc/PROTOCOL.md ("Handshake") lists.
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

RAW = (ser.Encoding.Raw, ser.PublicFormat.Raw)
P = 2**255 - 19


def blake2b(data, n=64, key=b""):
    return hashlib.blake2b(data, digest_size=n, key=key).digest()


def hmac(key, msg):  # RFC 2104 with BLAKE2b: block 128, output 64
    key = key.ljust(128, b"\0")
    inner = blake2b(bytes(b ^ 0x36 for b in key) + msg)
    return blake2b(bytes(b ^ 0x5C for b in key) + inner)


def hkdf2(ck, ikm):  # Noise section 4.3
    t = hmac(ck, ikm)
    o1 = hmac(t, b"\x01")
    return o1, hmac(t, o1 + b"\x02")


def x_pub(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(*RAW)


def dh(sk, pk):
    return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))


def identity(seed):
    """Ed25519 public key, X25519 secret and public key of a seed."""
    ed = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(*RAW)
    x_sk = bytearray(hashlib.sha512(seed).digest()[:32])
    x_sk[0] &= 248
    x_sk[31] &= 127
    x_sk[31] |= 64
    # Montgomery u = (1 + y) / (1 - y) of the Edwards point (RFC 7748 4.1)
    y = int.from_bytes(ed, "little") & (2**255 - 1)
    u = (1 + y) * pow(1 - y, P - 2, P) % P
    x_pk = u.to_bytes(32, "little")
    assert x_pk == x_pub(bytes(x_sk))
    return ed, bytes(x_sk), x_pk


def aead(k, n, ad, data, open_=False):
    c = ChaCha20Poly1305(k)
    nonce = b"\0" * 4 + struct.pack("<Q", n)
    return c.decrypt(nonce, data, ad) if open_ else c.encrypt(nonce, data, ad)


class Sym:
    """SymmetricState of Noise section 5.2."""

    def __init__(self):
        self.h = b"Noise_IK_25519_ChaChaPoly_BLAKE2b".ljust(64, b"\0")
        self.ck = self.h
        self.k = None
        self.n = 0
        self.mix_hash(b"tryst/noise/v1")

    def mix_hash(self, d):
        self.h = blake2b(self.h + d)

    def mix_key(self, ikm):
        self.ck, t = hkdf2(self.ck, ikm)
        self.k, self.n = t[:32], 0

    def enc(self, p):
        c = aead(self.k, self.n, self.h, p)
        self.n += 1
        self.mix_hash(c)
        return c

    def dec(self, c):
        p = aead(self.k, self.n, self.h, c, open_=True)
        self.n += 1
        self.mix_hash(c)
        return p

    def split(self):
        t1, t2 = hkdf2(self.ck, b"")
        return t1[:32], t2[:32]


def label_key(label, ed):
    return blake2b(label + ed, 32)


def mac(key, data):
    return blake2b(data, 16, key)


def rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def hchacha20(key, nonce16):
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_seal(key, nonce24, data, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], data, ad)


def tai64n(now_us):
    return struct.pack(">QI", 0x400000000000000A + now_us // 10**6, now_us % 10**6 * 1000)


def main():
    T0 = 1767225600000000
    now = T0 + 123456
    a_ed, a_sk, a_pk = identity(b"\xa1" * 32)
    b_ed, b_sk, b_pk = identity(b"\xb0" * 32)
    ei_sk, er_sk = b"\xe1" * 32, b"\xe2" * 32

    # initiation: Noise message 1 between the header and the macs
    i = Sym()
    i.mix_hash(b_pk)  # <- s
    e = x_pub(ei_sk)
    i.mix_hash(e)
    i.mix_key(dh(ei_sk, b_pk))  # es
    enc_s = i.enc(a_pk)
    i.mix_key(dh(a_sk, b_pk))  # ss
    app = b"hello bob"
    plain = a_ed + tai64n(now) + struct.pack(">H", len(app)) + app.ljust(256, b"\0")
    enc_p = i.enc(plain)
    h1, ck1 = i.h, i.ck  # state after message 1, for the document
    init = bytes([0x11]) + struct.pack(">I", 0x11223344) + e + enc_s + enc_p
    init += mac(label_key(b"tryst/mac1/v1", b_ed), init)
    init += b"\0" * 16
    assert len(init) == 435

    # the responder reads it
    r = Sym()
    r.mix_hash(b_pk)
    assert mac(label_key(b"tryst/mac1/v1", b_ed), init[:403]) == init[403:419]
    re = init[5:37]
    r.mix_hash(re)
    r.mix_key(dh(b_sk, re))
    rs = r.dec(init[37:85])
    r.mix_key(dh(b_sk, rs))
    got = r.dec(init[85:403])
    assert got[:32] == a_ed and identity(b"\xa1" * 32)[2] == rs
    assert got[46:46 + struct.unpack(">H", got[44:46])[0]] == app

    # response
    e2 = x_pub(er_sk)
    r.mix_hash(e2)
    r.mix_key(dh(er_sk, re))  # ee
    r.mix_key(dh(er_sk, rs))  # se
    enc_p2 = r.enc(b"hello alice")
    resp = bytes([0x12]) + struct.pack(">II", 0x55667788, 0x11223344) + e2 + enc_p2
    resp += mac(label_key(b"tryst/mac1/v1", a_ed), resp)
    resp += b"\0" * 16

    # the initiator reads it
    i.mix_hash(resp[9:41])
    i.mix_key(dh(ei_sk, resp[9:41]))
    i.mix_key(dh(a_sk, resp[9:41]))
    assert i.dec(resp[41:-32]) == b"hello alice"
    assert i.h == r.h
    i2r, r2i = i.split()
    assert (i2r, r2i) == r.split()

    def ku(k):
        return blake2b(b"tryst/ku/v1", 32, k)

    # cookie reply: secret 32 x c5, nonce 24 x 4e, address 04 c0000201 1234
    addr = bytes([4, 192, 0, 2, 1, 0x12, 0x34])
    cookie = mac(b"\xc5" * 32, addr)
    nonce = b"\x4e" * 24
    box = xchacha_seal(label_key(b"tryst/cookie/v1", b_ed), nonce, cookie, init[403:419])
    reply = bytes([0x13]) + init[1:5] + nonce + box
    mac2 = mac(cookie, init[:419])

    if "-v" in sys.argv:
        for name, v in (("alice_ed25519", a_ed), ("alice_x25519", a_pk), ("bob_ed25519", b_ed),
                        ("bob_x25519", b_pk), ("alice_e", e), ("bob_e", e2),
                        ("payload1_head", plain[:46]), ("h1", h1), ("ck1", ck1),
                        ("mac1_key_bob", label_key(b"tryst/mac1/v1", b_ed)),
                        ("mac1_key_alice", label_key(b"tryst/mac1/v1", a_ed)),
                        ("cookie_key_bob", label_key(b"tryst/cookie/v1", b_ed))):
            print(name, v.hex())
    for name, v in (("initiation", init), ("response", resp), ("i2r", i2r), ("r2i", r2i),
                    ("hash", i.h), ("i2r_next", ku(i2r)), ("r2i_next", ku(r2i)),
                    ("cookie_reply", reply), ("cookie", cookie), ("mac2", mac2)):
        print(name, v.hex())


if __name__ == "__main__":
    main()
