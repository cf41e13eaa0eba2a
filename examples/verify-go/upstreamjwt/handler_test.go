package upstreamjwt

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The middleware over a real HTTP server, with the conformance vector valid-rs256: the signed
// body passes and reaches the handler whole; one changed byte is refused with 401.
func TestMiddleware(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "vectors")
	var v struct {
		Token      string `json:"token"`
		BodyBase64 string `json:"body_base64"`
		Now        int64  `json:"now"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "valid-rs256.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	policy := Policy{
		Roots: roots, Audience: []string{"orders"}, Issuer: "kong-gateway",
		ClockTolerance: 30 * time.Second, Now: func() time.Time { return time.Unix(v.Now, 0) },
	}
	body, _ := base64.StdEncoding.DecodeString(v.BodyBase64)
	var seen string
	server := httptest.NewServer(Middleware(policy, "JWT", 1<<20, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		claims, _ := ClaimsFrom(r.Context())
		seen = string(got) + " " + claims["consumername"].(string)
	})))
	defer server.Close()

	post := func(payload string) *http.Response {
		req, _ := http.NewRequest("POST", server.URL+"/orders", strings.NewReader(payload))
		req.Header.Set("JWT", v.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := post(string(body)); res.StatusCode != 200 || seen != string(body)+" alice" {
		t.Fatalf("valid token: status %d, handler saw %q", res.StatusCode, seen)
	}
	res := post(string(body[:len(body)-1]) + "]")
	var refusal map[string]string
	_ = json.NewDecoder(res.Body).Decode(&refusal)
	res.Body.Close()
	if res.StatusCode != 401 || refusal["error"] != "ERR_BODY_HASH_MISMATCH" {
		t.Fatalf("changed body: status %d, %v", res.StatusCode, refusal)
	}
}
