// Package upstreamjwt verifies the tokens kong-upstream-jwt (and the Kong Upstream JWT plugin)
// sign, with Go's standard library only. The checks run in the order of the project README's
// "Verify in any language"; each refusal is an *Error whose Code is the code the TypeScript
// verifier uses.
package upstreamjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// MaxTokenLength is the longest header value accepted, checked before any parsing.
const MaxTokenLength = 64 * 1024

const maxChainLength = 8

// Error is a refusal: Code is stable (ERR_TOKEN_MALFORMED, ERR_CERT_UNTRUSTED, ...), Reason
// is for logs and never contains the token.
type Error struct {
	Code   string
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Policy is what the upstream trusts and expects.
type Policy struct {
	// Roots are the trust anchors; the token's x5c chain must lead to one.
	Roots *x509.CertPool
	// Audience: aud must be (or contain) one of these; empty accepts any.
	Audience []string
	// Issuer: the required iss; "" accepts any.
	Issuer string
	// ClockTolerance is the leeway for exp, nbf and iat.
	ClockTolerance time.Duration
	// LegacyX5c accepts the original Lua plugin's base64url x5c besides standard base64.
	LegacyX5c bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Replay, when set, is called last with the token's jti and the time until which it must
	// be remembered; it returns false when the jti was seen before.
	Replay func(jti string, until time.Time) (fresh bool, err error)
}

// Request is what the token is checked against. Body is the raw bytes received, before any
// parsing: the hash covers bytes, not their meaning.
type Request struct {
	Method string
	// URL is the absolute URL as received, e.g. "http://orders.internal:8080/orders?id=1".
	URL  string
	Body []byte
}

type algorithm struct {
	hash crypto.Hash
	kind string // rsa, pss, ec, ed25519
	ec   elliptic.Curve
}

// Asymmetric algorithms only: "none" and HS* are never accepted (a verifier that lets the
// token choose HS256 can be fooled with the certificate's public key as the HMAC secret).
var algorithms = map[string]algorithm{
	"RS256": {crypto.SHA256, "rsa", nil},
	"RS384": {crypto.SHA384, "rsa", nil},
	"RS512": {crypto.SHA512, "rsa", nil},
	"PS256": {crypto.SHA256, "pss", nil},
	"PS384": {crypto.SHA384, "pss", nil},
	"PS512": {crypto.SHA512, "pss", nil},
	"ES256": {crypto.SHA256, "ec", elliptic.P256()},
	"ES384": {crypto.SHA384, "ec", elliptic.P384()},
	"ES512": {crypto.SHA512, "ec", elliptic.P521()},
	"EdDSA": {0, "ed25519", nil},
}

var (
	base64url = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
	base64std = regexp.MustCompile(`^[A-Za-z0-9+/]*={0,2}$`)
	hex64     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	bearer    = regexp.MustCompile(`(?i)^bearer\s+`)
	absURL    = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)`)
)

// The empty body's SHA-256: some signers send it instead of "".
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// decodePart decodes canonical base64url: no padding, no other characters (the standard
// decoder skips newlines) and unused bits zero (Strict), so one token has one spelling.
func decodePart(part, what string) ([]byte, error) {
	if !base64url.MatchString(part) {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token %s is not base64url", what)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(part)
	if err != nil {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token %s is not canonical base64url", what)
	}
	return b, nil
}

// Verify checks the value of the token header for a request and returns the claims.
func Verify(value string, req Request, p Policy) (map[string]any, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if value == "" {
		return nil, refuse("ERR_TOKEN_MISSING", "no token in the request")
	}
	// 1. Size, before parsing anything.
	if len(value) > MaxTokenLength {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token is longer than %d characters", MaxTokenLength)
	}
	// 2. Structure.
	token := bearer.ReplaceAllString(strings.TrimSpace(value), "")
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token has %d parts; a compact JWS has 3", len(parts))
	}
	var raw [3][]byte
	for i, what := range []string{"header", "payload", "signature"} {
		b, err := decodePart(parts[i], what)
		if err != nil {
			return nil, err
		}
		raw[i] = b
	}
	header, err := decodeObject(raw[0])
	if err != nil {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token header: %v", err)
	}
	claims, err := decodeObject(raw[1])
	if err != nil {
		return nil, refuse("ERR_TOKEN_MALFORMED", "token payload: %v", err)
	}
	// 3. Header: no extension we do not understand (RFC 7515 §4.1.11).
	if _, ok := header["crit"]; ok {
		return nil, refuse("ERR_TOKEN_MALFORMED", `token has a "crit" header this verifier does not understand`)
	}
	// 4. Algorithm from the allow-list.
	algName, _ := header["alg"].(string)
	alg, ok := algorithms[algName]
	if !ok {
		return nil, refuse("ERR_ALG_NOT_ALLOWED", "algorithm %q is not allowed", algName)
	}
	// 5. Chain to a trust anchor. jku and x5u are never fetched: the key comes from x5c only.
	chain, err := decodeX5c(header["x5c"], p.LegacyX5c)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         p.Roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return nil, refuse("ERR_CERT_EXPIRED", "%v", err)
		}
		return nil, refuse("ERR_CERT_UNTRUSTED", "%v", err)
	}
	// 6. Key usage: x509.Verify checks issuers, not whether the leaf may sign (RFC 5280 §4.2.1.3).
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, refuse("ERR_CERT_UNTRUSTED", "the leaf certificate may not sign (keyUsage lacks digitalSignature)")
	}
	// 7. Signature, with a key that fits the algorithm.
	input := []byte(parts[0] + "." + parts[1])
	if err := verifySignature(alg, algName, leaf.PublicKey, input, raw[2]); err != nil {
		return nil, err
	}
	// 8. Claims.
	if err := checkClaims(claims, p, now); err != nil {
		return nil, err
	}
	// 9. Body hash. 10. Request binding.
	if err := checkBody(claims, req.Body); err != nil {
		return nil, err
	}
	if err := checkBinding(claims, req); err != nil {
		return nil, err
	}
	// 11. Replay.
	if p.Replay != nil {
		exp, _ := numericDate(claims, "exp")
		fresh, err := p.Replay(claims["jti"].(string), exp.Add(p.ClockTolerance))
		if err != nil {
			return nil, refuse("ERR_REPLAY_STORE_UNAVAILABLE", "replay store failed: %v", err)
		}
		if !fresh {
			return nil, refuse("ERR_TOKEN_REPLAYED", "token was already used (jti seen before)")
		}
	}
	return claims, nil
}

func decodeX5c(value any, legacy bool) ([]*x509.Certificate, error) {
	if value == nil {
		return nil, refuse("ERR_CERT_UNTRUSTED", "token has no x5c; no trusted key (jku and x5u are never fetched)")
	}
	list, ok := value.([]any)
	if !ok || len(list) == 0 {
		return nil, refuse("ERR_TOKEN_MALFORMED", "x5c header must be a non-empty array")
	}
	if len(list) > maxChainLength {
		return nil, refuse("ERR_CERT_UNTRUSTED", "x5c has more than %d certificates", maxChainLength)
	}
	certs := make([]*x509.Certificate, len(list))
	for i, entry := range list {
		s, ok := entry.(string)
		if !ok {
			return nil, refuse("ERR_TOKEN_MALFORMED", "x5c[%d] is not a string", i)
		}
		var der []byte
		var err error
		switch {
		case base64std.MatchString(s):
			der, err = base64.StdEncoding.DecodeString(s)
		case legacy && base64url.MatchString(s):
			der, err = base64.RawURLEncoding.DecodeString(s)
		default:
			err = errors.New("not standard base64 (RFC 7515 §4.1.6)")
		}
		if err != nil {
			return nil, refuse("ERR_TOKEN_MALFORMED", "x5c[%d]: %v", i, err)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, refuse("ERR_TOKEN_MALFORMED", "x5c[%d] is not a DER certificate: %v", i, err)
		}
	}
	return certs, nil
}

func verifySignature(alg algorithm, name string, key any, input, sig []byte) error {
	misfit := refuse("ERR_ALG_NOT_ALLOWED", "the certificate's key does not fit %s", name)
	bad := refuse("ERR_SIGNATURE_INVALID", "signature does not verify with the trusted key")
	var digest []byte
	if alg.hash != 0 {
		h := alg.hash.New()
		h.Write(input)
		digest = h.Sum(nil)
	}
	switch alg.kind {
	case "rsa", "pss":
		pub, ok := key.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < 2048 {
			return misfit
		}
		if alg.kind == "rsa" {
			if rsa.VerifyPKCS1v15(pub, alg.hash, digest, sig) != nil {
				return bad
			}
			return nil
		}
		// RFC 7518 §3.5: the salt is as long as the hash.
		if rsa.VerifyPSS(pub, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return bad
		}
	case "ec":
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != alg.ec {
			return misfit
		}
		// JWS ECDSA signatures are r || s, each as long as the curve (RFC 7518 §3.4), not DER.
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return bad
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return bad
		}
	case "ed25519":
		pub, ok := key.(ed25519.PublicKey)
		if !ok {
			return misfit
		}
		if !ed25519.Verify(pub, input, sig) {
			return bad
		}
	}
	return nil
}

func numericDate(claims map[string]any, name string) (time.Time, error) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return time.Time{}, refuse("ERR_CLAIM_INVALID", "%q claim must be a number (NumericDate)", name)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, refuse("ERR_CLAIM_INVALID", "%q claim must be a number (NumericDate)", name)
	}
	return time.Unix(0, int64(f*1e9)), nil
}

func checkClaims(claims map[string]any, p Policy, now time.Time) error {
	for _, name := range []string{"exp", "jti"} {
		if _, ok := claims[name]; !ok {
			return refuse("ERR_CLAIM_INVALID", "%q claim is missing", name)
		}
	}
	if jti, ok := claims["jti"].(string); !ok || jti == "" || len(jti) > 256 {
		return refuse("ERR_CLAIM_INVALID", `"jti" claim must be a non-empty string of at most 256 characters`)
	}
	if p.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != p.Issuer {
			return refuse("ERR_CLAIM_INVALID", `"iss" claim is not the expected issuer`)
		}
	}
	if len(p.Audience) > 0 {
		var auds []string
		switch a := claims["aud"].(type) {
		case string:
			auds = []string{a}
		case []any:
			for _, x := range a {
				s, ok := x.(string)
				if !ok {
					return refuse("ERR_CLAIM_INVALID", `"aud" claim is not a string or list of strings`)
				}
				auds = append(auds, s)
			}
		default:
			return refuse("ERR_CLAIM_INVALID", `"aud" claim is missing or not a string or list of strings`)
		}
		if !intersects(auds, p.Audience) {
			return refuse("ERR_CLAIM_INVALID", `"aud" claim is not an expected audience`)
		}
	}
	tol := p.ClockTolerance
	exp, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	if !exp.After(now.Add(-tol)) {
		return refuse("ERR_TOKEN_EXPIRED", `token expired ("exp" claim)`)
	}
	if _, ok := claims["nbf"]; ok {
		nbf, err := numericDate(claims, "nbf")
		if err != nil {
			return err
		}
		if nbf.After(now.Add(tol)) {
			return refuse("ERR_TOKEN_NOT_YET_VALID", `token is not valid yet ("nbf" claim)`)
		}
	}
	if _, ok := claims["iat"]; ok {
		iat, err := numericDate(claims, "iat")
		if err != nil {
			return err
		}
		if iat.After(now.Add(tol)) {
			return refuse("ERR_CLAIM_INVALID", `"iat" claim is in the future`)
		}
	}
	return nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func checkBody(claims map[string]any, body []byte) error {
	v, present := claims["payloadhash"]
	if !present {
		return refuse("ERR_CLAIM_INVALID", `"payloadhash" claim is missing`)
	}
	claim, ok := v.(string)
	if !ok || (claim != "" && !hex64.MatchString(claim)) {
		return refuse("ERR_CLAIM_INVALID", `"payloadhash" claim must be lowercase hex SHA-256 or ""`)
	}
	if len(body) == 0 {
		// The original plugin sends "" for no body; other signers hash the empty input.
		if claim == "" || claim == emptySHA256 {
			return nil
		}
		return refuse("ERR_BODY_HASH_MISMATCH", `"payloadhash" claim is for a body, but the request has none`)
	}
	if claim == "" {
		return refuse("ERR_BODY_HASH_MISMATCH", `"payloadhash" claim is "" (no body), but the request has a body`)
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != claim {
		return refuse("ERR_BODY_HASH_MISMATCH", `"payloadhash" claim does not match the request body`)
	}
	return nil
}

// RequestURI is the htu value: scheme and host lower-cased, a default port dropped
// (RFC 3986 §6.2.2–6.2.3), the path as received, no query or fragment.
func RequestURI(scheme, host, path string) string {
	s := strings.ToLower(scheme)
	authority := strings.ToLower(host)
	if colon := strings.LastIndex(authority, ":"); colon > strings.LastIndex(authority, "]") {
		port := authority[colon+1:]
		if (s == "http" && port == "80") || (s == "https" && port == "443") {
			authority = authority[:colon]
		}
	}
	if path == "" {
		path = "/"
	}
	if cut := strings.IndexAny(path, "?#"); cut != -1 {
		path = path[:cut]
	}
	return s + "://" + authority + path
}

func checkBinding(claims map[string]any, req Request) error {
	htm, hasM := claims["htm"]
	htu, hasU := claims["htu"]
	htq, hasQ := claims["htq"]
	if hasM && htm != strings.ToUpper(req.Method) {
		return refuse("ERR_BINDING_MISMATCH", `"htm" claim does not match the request method`)
	}
	if !hasU && !hasQ {
		return nil
	}
	// The raw authority, path and query as received: net/url would normalise escapes.
	m := absURL.FindStringSubmatch(req.URL)
	if m == nil {
		return refuse("ERR_BINDING_MISMATCH", "the request URL is not absolute")
	}
	rest := strings.SplitN(req.URL[len(m[0]):], "#", 2)[0]
	path, query := rest, ""
	if q := strings.Index(rest, "?"); q != -1 {
		path, query = rest[:q], rest[q+1:]
	}
	if hasU && htu != RequestURI(m[1], m[2], path) {
		return refuse("ERR_BINDING_MISMATCH", `"htu" claim does not match the request URL`)
	}
	sum := sha256.Sum256([]byte(query))
	if hasQ && htq != base64.RawURLEncoding.EncodeToString(sum[:]) {
		return refuse("ERR_BINDING_MISMATCH", `"htq" claim does not match the request query`)
	}
	return nil
}
