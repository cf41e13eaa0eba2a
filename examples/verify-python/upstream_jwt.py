"""Verify kong-upstream-jwt tokens in Python: PyJWT for the signature and registered claims,
cryptography for certificates and keys, pyOpenSSL for the X.509 chain (OpenSSL's path
validation). The checks run in the order of the project README's "Verify in any language";
every refusal is a VerificationError whose ``code`` is the one the TypeScript verifier uses.

    verifier = Verifier(open("ca.pem", "rb").read(), audience="orders", issuer="kong-gateway")
    claims = verifier.verify(request.headers["JWT"], raw_body, method="POST", url=full_url)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional, Sequence, Union

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from OpenSSL import crypto

MAX_TOKEN_LENGTH = 64 * 1024
MAX_CHAIN_LENGTH = 8

# Asymmetric algorithms only: "none" and HS* are never accepted (a verifier that lets the token
# choose HS256 can be fooled with the certificate's public key as the HMAC secret).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BEARER = re.compile(r"^bearer\s+", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID and X509_V_ERR_CERT_HAS_EXPIRED.
_OPENSSL_TIME_ERRORS = (9, 10)


class VerificationError(Exception):
    """A refused token: ``code`` is stable (ERR_TOKEN_MALFORMED, ...), ``reason`` is for logs."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _malformed(reason: str) -> VerificationError:
    return VerificationError("ERR_TOKEN_MALFORMED", reason)


def _no_duplicates(pairs):
    # RFC 7515 §5.2, RFC 8725 §3.12: json keeps the last of two equal names silently, so two
    # parsers could read different claims from the same signed bytes.
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise _malformed(f'member "{name[:40]}" appears twice')
        seen[name] = value
    return seen


def _reject_constant(name):
    raise _malformed(f"{name} is not JSON")


def _decode_part(part: str, what: str) -> bytes:
    # Canonical base64url only: no padding, no other characters, unused bits zero, so that one
    # signed token has one spelling (Python's decoder is lenient about all three).
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise _malformed(f"token {what} is not base64url")
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != part:
        raise _malformed(f"token {what} is not canonical base64url")
    return data


def _decode_object(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                           parse_constant=_reject_constant)
    except VerificationError as err:
        raise _malformed(f"token {what}: {err.reason}") from None
    except (UnicodeDecodeError, ValueError):
        raise _malformed(f"token {what} is not JSON") from None
    if not isinstance(value, dict):
        raise _malformed(f"token {what} is not a JSON object")
    return value


def _decode_x5c(value, legacy: bool) -> list:
    if value is None:
        raise VerificationError("ERR_CERT_UNTRUSTED",
                                "token has no x5c; no trusted key (jku and x5u are never fetched)")
    if not isinstance(value, list) or not value:
        raise _malformed("x5c header must be a non-empty array")
    if len(value) > MAX_CHAIN_LENGTH:
        raise VerificationError("ERR_CERT_UNTRUSTED", f"x5c has more than {MAX_CHAIN_LENGTH} certificates")
    certs = []
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise _malformed(f"x5c[{i}] is not a string")
        try:
            if _B64STD.fullmatch(entry):
                der = base64.b64decode(entry, validate=True)
            elif legacy and _B64URL.fullmatch(entry):
                der = base64.urlsafe_b64decode(entry + "=" * (-len(entry) % 4))
            else:
                raise _malformed(f"x5c[{i}] is not standard base64 (RFC 7515 §4.1.6)")
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError):
            raise _malformed(f"x5c[{i}] is not a base64 DER certificate") from None
    return certs


def _key_fits(key, alg: str) -> bool:
    if alg[:2] in ("RS", "PS"):
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048
    if alg in _CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _CURVES[alg]
    return isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey))


def _numeric_date(claims: dict, name: str):
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VerificationError("ERR_CLAIM_INVALID", f'"{name}" claim must be a number (NumericDate)')
    return value


def request_uri(scheme: str, host: str, path: str) -> str:
    """The htu value: scheme and host lower-cased, a default port dropped (RFC 3986 §6.2.2–6.2.3),
    the path as received without query or fragment."""
    s, authority = scheme.lower(), host.lower()
    colon = authority.rfind(":")
    if colon > authority.rfind("]") and authority[colon + 1:] == {"http": "80", "https": "443"}.get(s):
        authority = authority[:colon]
    path = re.split(r"[?#]", path or "/", maxsplit=1)[0]
    return f"{s}://{authority}{path}"


class Verifier:
    """Checks tokens against a CA bundle and the expected audience and issuer. Create one per
    upstream and reuse it. ``replay(jti, until)`` returns False for a jti seen before."""

    def __init__(self, ca_pem: bytes, audience: Union[str, Sequence[str], None],
                 issuer: Optional[str], clock_tolerance: int = 30, legacy_x5c: bool = False,
                 replay: Optional[Callable[[str, float], bool]] = None):
        self.anchors = [crypto.X509.from_cryptography(c) for c in _load_pems(ca_pem)]
        if not self.anchors:
            raise ValueError("no certificate in the CA bundle")
        self.audience = [audience] if isinstance(audience, str) else audience
        self.issuer = issuer
        self.clock_tolerance = clock_tolerance
        self.legacy_x5c = legacy_x5c
        self.replay = replay

    def verify(self, header_value: str, body: bytes = b"", method: Optional[str] = None,
               url: Optional[str] = None, now: Optional[float] = None) -> dict:
        """Verifies the token header's value for a request; ``body`` is the raw bytes received.
        Returns the claims or raises VerificationError."""
        now = time.time() if now is None else now
        if not header_value:
            raise VerificationError("ERR_TOKEN_MISSING", "no token in the request")
        # 1. Size, before parsing anything.
        if len(header_value) > MAX_TOKEN_LENGTH:
            raise _malformed(f"token is longer than {MAX_TOKEN_LENGTH} characters")
        # 2. Structure.
        token = _BEARER.sub("", header_value.strip())
        parts = token.split(".")
        if len(parts) != 3:
            raise _malformed(f"token has {len(parts)} parts; a compact JWS has 3")
        header = _decode_object(_decode_part(parts[0], "header"), "header")
        claims = _decode_object(_decode_part(parts[1], "payload"), "payload")
        _decode_part(parts[2], "signature")
        # 3. Header: no extension we do not understand (RFC 7515 §4.1.11).
        if "crit" in header:
            raise _malformed('token has a "crit" header this verifier does not understand')
        # 4. Algorithm from the allow-list.
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise VerificationError("ERR_ALG_NOT_ALLOWED", f"algorithm {str(alg)[:20]!r} is not allowed")
        # 5. Chain to a trust anchor, at `now`. The key comes from x5c only.
        chain = _decode_x5c(header.get("x5c"), self.legacy_x5c)
        self._check_chain(chain, now)
        leaf = chain[0]
        # 6. Key usage: OpenSSL checks issuers, not whether the leaf may sign (RFC 5280 §4.2.1.3).
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
            if not usage.digital_signature:
                raise VerificationError("ERR_CERT_UNTRUSTED",
                                        "the leaf certificate may not sign (keyUsage lacks digitalSignature)")
        except x509.ExtensionNotFound:
            pass
        # 7. Signature (PyJWT), with a key that fits the algorithm; 8. registered claims.
        key = leaf.public_key()
        if not _key_fits(key, alg):
            raise VerificationError("ERR_ALG_NOT_ALLOWED", f"the certificate's key does not fit {alg}")
        try:
            jwt.decode(token, key=key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                       options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                "verify_aud": self.audience is not None,
                                "require": ["exp", "jti"]})
        except jwt.InvalidSignatureError:
            raise VerificationError("ERR_SIGNATURE_INVALID", "signature does not verify with the trusted key") from None
        except (jwt.MissingRequiredClaimError, jwt.InvalidAudienceError, jwt.InvalidIssuerError) as err:
            raise VerificationError("ERR_CLAIM_INVALID", str(err)) from None
        except jwt.InvalidAlgorithmError as err:
            raise VerificationError("ERR_ALG_NOT_ALLOWED", str(err)) from None
        except jwt.DecodeError as err:
            raise _malformed(str(err)) from None
        self._check_claims(claims, now)
        # 9. Body hash, over the raw bytes. 10. Request binding.
        _check_body(claims, body)
        _check_binding(claims, method, url)
        # 11. Replay.
        if self.replay is not None and not self.replay(claims["jti"], claims["exp"] + self.clock_tolerance):
            raise VerificationError("ERR_TOKEN_REPLAYED", "token was already used (jti seen before)")
        return claims

    def _check_chain(self, chain: list, now: float) -> None:
        store = crypto.X509Store()
        for anchor in self.anchors:
            store.add_cert(anchor)
        store.set_time(datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None))
        context = crypto.X509StoreContext(store, crypto.X509.from_cryptography(chain[0]),
                                          [crypto.X509.from_cryptography(c) for c in chain[1:]])
        try:
            context.verify_certificate()
        except crypto.X509StoreContextError as err:
            code = err.errors[0] if err.errors else None
            raise VerificationError("ERR_CERT_EXPIRED" if code in _OPENSSL_TIME_ERRORS else "ERR_CERT_UNTRUSTED",
                                    f"certificate chain: {err}") from None

    def _check_claims(self, claims: dict, now: float) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            raise VerificationError("ERR_CLAIM_INVALID", '"jti" claim must be a non-empty string of at most 256 characters')
        tolerance = self.clock_tolerance
        exp = _numeric_date(claims, "exp")
        if exp <= now - tolerance:
            raise VerificationError("ERR_TOKEN_EXPIRED", 'token expired ("exp" claim)')
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + tolerance:
            raise VerificationError("ERR_TOKEN_NOT_YET_VALID", 'token is not valid yet ("nbf" claim)')
        iat = _numeric_date(claims, "iat")
        if iat is not None and iat > now + tolerance:
            raise VerificationError("ERR_CLAIM_INVALID", '"iat" claim is in the future')


def _load_pems(pem: bytes) -> list:
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def _check_body(claims: dict, body: bytes) -> None:
    if "payloadhash" not in claims:
        raise VerificationError("ERR_CLAIM_INVALID", '"payloadhash" claim is missing')
    claim = claims["payloadhash"]
    if not isinstance(claim, str) or (claim != "" and not _HEX64.fullmatch(claim)):
        raise VerificationError("ERR_CLAIM_INVALID", '"payloadhash" claim must be lowercase hex SHA-256 or ""')
    if not body:
        # The original plugin sends "" for no body; other signers hash the empty input.
        if claim in ("", _EMPTY_SHA256):
            return
        raise VerificationError("ERR_BODY_HASH_MISMATCH", '"payloadhash" claim is for a body, but the request has none')
    if claim == "":
        raise VerificationError("ERR_BODY_HASH_MISMATCH", '"payloadhash" claim is "" (no body), but the request has a body')
    if hashlib.sha256(body).hexdigest() != claim:
        raise VerificationError("ERR_BODY_HASH_MISMATCH", '"payloadhash" claim does not match the request body')


def _check_binding(claims: dict, method: Optional[str], url: Optional[str]) -> None:
    if "htm" in claims and claims["htm"] != (method or "").upper():
        raise VerificationError("ERR_BINDING_MISMATCH", '"htm" claim does not match the request method')
    if "htu" not in claims and "htq" not in claims:
        return
    # The raw authority, path and query as received: urllib would normalise escapes.
    match = _ABSOLUTE.match(url or "")
    if not match:
        raise VerificationError("ERR_BINDING_MISMATCH", "the request URL is not absolute")
    rest = url[match.end():].split("#", 1)[0]
    path, _, query = rest.partition("?")
    if "htu" in claims and claims["htu"] != request_uri(match[1], match[2], path):
        raise VerificationError("ERR_BINDING_MISMATCH", '"htu" claim does not match the request URL')
    htq = base64.urlsafe_b64encode(hashlib.sha256(query.encode("latin-1")).digest()).rstrip(b"=").decode()
    if "htq" in claims and claims["htq"] != htq:
        raise VerificationError("ERR_BINDING_MISMATCH", '"htq" claim does not match the request query')
