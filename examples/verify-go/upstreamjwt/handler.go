package upstreamjwt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

type claimsKey struct{}

// ClaimsFrom returns the verified claims that Middleware put in the request's context.
func ClaimsFrom(ctx context.Context) (map[string]any, bool) {
	claims, ok := ctx.Value(claimsKey{}).(map[string]any)
	return claims, ok
}

// Middleware wraps an http.Handler: it reads the body (at most maxBody bytes), verifies the
// token in header (e.g. "JWT") against those raw bytes and the request as received, and calls
// next with the body restored and the claims in the context (ClaimsFrom). Refusals get 401
// with a JSON body {"error": code, "message": reason} and an RFC 6750 WWW-Authenticate header.
//
//	roots := x509.NewCertPool()
//	roots.AppendCertsFromPEM(caPEM)
//	policy := upstreamjwt.Policy{Roots: roots, Audience: []string{"orders"}, Issuer: "kong-gateway", ClockTolerance: 30 * time.Second}
//	http.ListenAndServe(":8080", upstreamjwt.Middleware(policy, "JWT", 10<<20, mux))
func Middleware(p Policy, header string, maxBody int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			} else {
				http.Error(w, "request body could not be read", http.StatusBadRequest)
			}
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		// RequestURI is the path and query as received, escapes untouched.
		req := Request{Method: r.Method, URL: scheme + "://" + r.Host + r.RequestURI, Body: body}
		claims, err := Verify(r.Header.Get(header), req, p)
		if err != nil {
			refusal := &Error{Code: "ERR_TOKEN_MALFORMED", Reason: "token could not be verified"}
			errors.As(err, &refusal)
			status := http.StatusUnauthorized
			if refusal.Code == "ERR_REPLAY_STORE_UNAVAILABLE" {
				status = http.StatusServiceUnavailable
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": refusal.Code, "message": refusal.Reason})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}
