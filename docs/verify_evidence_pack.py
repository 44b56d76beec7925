#!/usr/bin/env python3
"""Check a Dampwatch evidence pack without Dampwatch's code.

    python3 verify_evidence_pack.py PACK.tar --public-key audit-key-1.pub

Uses only Python's standard library: tarfile, json, hashlib, and the Ed25519 verification of
RFC 8032 (section 6, the reference implementation, verification only) below. It checks what a
third party needs to trust the pack's signatures and the case's log:

1. the seal: seal.json signs SHA-256(manifest.json) with the platform's audit key (the
   public key is given on the command line, never taken from the pack);
2. every file's SHA-256 and size against the manifest, and no unlisted file;
3. every uplink: its digest is SHA-256(payload), and its Ed25519 signature verifies with its
   device's key (devices.json) over
   b"dampwatch/v1/uplink\\0" + bytes([len(device_id)]) + device_id + payload;
4. the case's event chain: each hash is SHA-256(previous hash, or 32 zero bytes for the
   first event, followed by the UTF-8 of case_id, seq, kind, affects_clock ("true"/"false"),
   event, occurred_at and recorded_at in microseconds since the Unix epoch, actor, evidence,
   joined by the byte 0x1f);
5. what officers wrote: an event whose evidence holds {"sealed_text": {"id": N, "sha256": H}}
   may carry the text in its "sealed_text" member ({"salt": 64 hex digits, "text": a JSON
   object's text}); then H must be SHA-256(the salt's 32 bytes followed by the UTF-8 of the
   text), so the chain vouches for the text.

It prints "ok: ..." or "TAMPERED: <file>: <reason>" and exits with 1 when tampered. It does not
decode the readings, check certificates or recompute deadlines (`dampwatch evidence verify`
does); the format is described in crates/evidence/README.md.
"""

import hashlib
import json
import sys
import tarfile
from datetime import datetime, timezone
import base64

# --- Ed25519 verification, RFC 8032 section 6 (reference implementation) -----------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493


def _inv(x):
    return pow(x, P - 2, P)


D = -121665 * _inv(121666) % P
MOD_P_SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    A, B = (a[1] - a[0]) * (b[1] - b[0]) % P, (a[1] + a[0]) * (b[1] + b[0]) % P
    C, Dd = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F, G * H, F * G, E * H)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    if (p[0] * q[2] - q[0] * p[2]) % P != 0:
        return False
    return (p[1] * q[2] - q[1] * p[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * MOD_P_SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


G_Y = 4 * _inv(5) % P
G = (_recover_x(G_Y, 0), G_Y, 1, _recover_x(G_Y, 0) * G_Y % P)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ed25519_verify(public, message, signature):
    """RFC 8032 verification: True when `signature` (64 bytes) signs `message`."""
    if len(public) != 32 or len(signature) != 64:
        return False
    A = _decompress(public)
    R = _decompress(signature[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, G), _add(R, _mul(h, A)))


# --- The pack ------------------------------------------------------------------------------

SEAL_DOMAIN = b"dampwatch-evidence-manifest-v1"
UPLINK_DOMAIN = b"dampwatch/v1/uplink\x00"
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class Tampered(Exception):
    def __init__(self, file, reason):
        super().__init__(f"{file}: {reason}")


def read_public_key(path):
    """64 hex digits, or a PEM "PUBLIC KEY" (SubjectPublicKeyInfo of an Ed25519 key)."""
    text = open(path, encoding="ascii").read().strip()
    if "BEGIN PUBLIC KEY" in text:
        body = "".join(line for line in text.splitlines() if "-----" not in line)
        der = base64.b64decode(body)
        if not der.startswith(SPKI_PREFIX) or len(der) != len(SPKI_PREFIX) + 32:
            raise ValueError(f"{path}: not an Ed25519 public key")
        return der[len(SPKI_PREFIX):]
    return bytes.fromhex(text)


def micros(text):
    """RFC 3339 (as the pack writes it: UTC, six decimals) to microseconds since the epoch."""
    at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    delta = at - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def json_lines(files, name):
    return [json.loads(line) for line in files[name].decode("utf-8").splitlines() if line.strip()]


def verify(path, trusted):
    files = {}
    with tarfile.open(path, "r:") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                raise Tampered(member.name, "not a regular file")
            if member.name in files:
                raise Tampered(member.name, "appears twice in the archive")
            files[member.name] = archive.extractfile(member).read()

    manifest_bytes = files.get("manifest.json")
    if manifest_bytes is None or "seal.json" not in files:
        raise Tampered("manifest.json", "missing")
    seal = json.loads(files["seal.json"])
    digest = hashlib.sha256(manifest_bytes).digest()
    if bytes.fromhex(seal["manifest_sha256"]) != digest:
        raise Tampered("manifest.json", "its SHA-256 is not the one the seal signs")
    signature = bytes.fromhex(seal["signature"])
    if not any(ed25519_verify(key, SEAL_DOMAIN + digest, signature) for key in trusted):
        raise Tampered("seal.json", "signature not from a trusted key")

    manifest = json.loads(manifest_bytes)
    listed = set()
    for entry in manifest["files"]:
        content = files.get(entry["path"])
        if content is None:
            raise Tampered(entry["path"], "missing")
        if hashlib.sha256(content).hexdigest() != entry["sha256"] or len(content) != entry["bytes"]:
            raise Tampered(entry["path"], "SHA-256 does not match the manifest")
        listed.add(entry["path"])
    for name in files:
        if name not in listed and name not in ("manifest.json", "seal.json"):
            raise Tampered(name, "not listed in the manifest")

    keys = {d["id"]: bytes.fromhex(d["signing_public_key"]) for d in json.loads(files["devices.json"])}
    uplinks = json_lines(files, "uplinks.jsonl")
    for number, u in enumerate(uplinks, 1):
        payload, device = bytes.fromhex(u["payload"]), u["device_id"].encode("utf-8")
        where = f"line {number} (uplink {u['digest'][:12]} of {u['device_id']})"
        if hashlib.sha256(payload).hexdigest() != u["digest"]:
            raise Tampered("uplinks.jsonl", f"{where}: digest is not the SHA-256 of its payload")
        key = keys.get(u["device_id"])
        if key is None:
            raise Tampered("uplinks.jsonl", f"{where}: its device is not in devices.json")
        message = UPLINK_DOMAIN + bytes([len(device)]) + device + payload
        if not ed25519_verify(key, message, bytes.fromhex(u["signature"])):
            raise Tampered("uplinks.jsonl", f"{where}: signature does not verify")

    events = json_lines(files, "events.jsonl")
    previous = None
    for e in events:
        expected_seq = 1 if previous is None else previous["seq"] + 1
        if e["seq"] != expected_seq:
            raise Tampered("events.jsonl", f"seq {e['seq']}: out of sequence")
        if e["prev_hash"] != (None if previous is None else previous["hash"]):
            raise Tampered("events.jsonl", f"seq {e['seq']}: prev_hash does not continue the chain")
        fields = [
            str(e["case_id"]),
            str(e["seq"]),
            e["kind"],
            "true" if e["affects_clock"] else "false",
            e["event"],
            str(micros(e["occurred_at"])),
            str(micros(e["recorded_at"])),
            e["actor"],
            e["evidence"],
        ]
        prev = bytes.fromhex(e["prev_hash"]) if e["prev_hash"] else bytes(32)
        if hashlib.sha256(prev + "\x1f".join(fields).encode("utf-8")).hexdigest() != e["hash"]:
            raise Tampered("events.jsonl", f"seq {e['seq']}: hash does not match its contents")
        carried = e.get("sealed_text")
        if carried is not None:
            evidence = json.loads(e["evidence"])
            reference = evidence.get("sealed_text") if isinstance(evidence, dict) else None
            if not (isinstance(reference, dict) and isinstance(reference.get("id"), int)):
                raise Tampered("events.jsonl", f"seq {e['seq']}: carries a text its evidence does not refer to")
            salt, text = carried.get("salt"), carried.get("text")
            try:
                is_object = isinstance(text, str) and isinstance(json.loads(text), dict)
            except ValueError:
                is_object = False
            # A shorter salt could take bytes from the text's start and give the same digest.
            if not (isinstance(salt, str) and len(salt) == 64 and all(c in "0123456789abcdef" for c in salt)
                    and is_object):
                raise Tampered("events.jsonl", f"seq {e['seq']}: its text's salt is not 32 bytes in hexadecimal, or its text not a JSON object")
            digest = hashlib.sha256(bytes.fromhex(salt) + text.encode("utf-8")).hexdigest()
            if digest != reference.get("sha256"):
                raise Tampered("events.jsonl", f"seq {e['seq']}: its text does not match the digest its evidence holds")
        previous = e
    case = json.loads(files["case.json"])
    if len(events) != case["event_count"]:
        raise Tampered("events.jsonl", f"{len(events)} events, the case records {case['event_count']}")
    return f"case {manifest['case_id']}: seal, {len(listed)} files, {len(uplinks)} uplink signatures, {len(events)} chained events"


def main(argv):
    if len(argv) < 4 or "--public-key" not in argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    keys, pack, rest = [], None, argv[1:]
    while rest:
        if rest[0] == "--public-key" and len(rest) > 1:
            keys.append(read_public_key(rest[1]))
            rest = rest[2:]
        else:
            pack, rest = rest[0], rest[1:]
    try:
        print("ok: " + verify(pack, keys))
        return 0
    except Tampered as found:
        print(f"TAMPERED: {found}")
        return 1
    except (KeyError, ValueError, TypeError, tarfile.TarError) as error:
        print(f"TAMPERED: the pack is not readable: {error!r}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
