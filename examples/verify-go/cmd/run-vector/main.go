// Command run-vector checks conformance vectors (vectors/*.json of kong-upstream-jwt) with
// the upstreamjwt package. For each file it prints "FILE: valid", "FILE: invalid CODE reason"
// or "FILE: cannot-judge reason", and exits with the highest of 0 (valid), 1 (invalid) and
// 2 (cannot judge) over all files.
package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"example.com/upstreamjwt/upstreamjwt"
)

type vector struct {
	Token      string `json:"token"`
	BodyBase64 string `json:"body_base64"`
	Request    *struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
	Policy struct {
		CA             string          `json:"ca"`
		Audience       json.RawMessage `json:"audience"`
		Issuer         *string         `json:"issuer"`
		ClockTolerance int64           `json:"clock_tolerance"`
		LegacyX5c      bool            `json:"legacy_x5c"`
	} `json:"policy"`
	Now int64 `json:"now"`
}

func judge(file string) (int, string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 2, err.Error()
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		return 2, "not a vector: " + err.Error()
	}
	pem, err := os.ReadFile(filepath.Join(filepath.Dir(file), v.Policy.CA))
	if err != nil {
		return 2, err.Error()
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return 2, "no certificate in " + v.Policy.CA
	}
	var audience []string
	var one string
	if string(v.Policy.Audience) == "null" || len(v.Policy.Audience) == 0 {
		audience = nil // any audience
	} else if json.Unmarshal(v.Policy.Audience, &one) == nil {
		audience = []string{one}
	} else if err := json.Unmarshal(v.Policy.Audience, &audience); err != nil {
		return 2, "policy.audience: " + err.Error()
	}
	body, err := base64.StdEncoding.DecodeString(v.BodyBase64)
	if err != nil {
		return 2, "body_base64: " + err.Error()
	}
	policy := upstreamjwt.Policy{
		Roots:          roots,
		Audience:       audience,
		ClockTolerance: time.Duration(v.Policy.ClockTolerance) * time.Second,
		LegacyX5c:      v.Policy.LegacyX5c,
		Now:            func() time.Time { return time.Unix(v.Now, 0) },
	}
	if v.Policy.Issuer != nil {
		policy.Issuer = *v.Policy.Issuer
	}
	req := upstreamjwt.Request{Body: body}
	if v.Request != nil {
		req.Method, req.URL = v.Request.Method, v.Request.URL
	}
	if _, err := upstreamjwt.Verify(v.Token, req, policy); err != nil {
		var refusal *upstreamjwt.Error
		if errors.As(err, &refusal) {
			return 1, refusal.Code + " " + refusal.Reason
		}
		return 2, err.Error()
	}
	return 0, ""
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: run VECTOR.json [VECTOR.json ...]")
		os.Exit(2)
	}
	worst := 0
	for _, file := range os.Args[1:] {
		status, detail := judge(file)
		switch status {
		case 0:
			fmt.Printf("%s: valid\n", file)
		case 1:
			fmt.Printf("%s: invalid %s\n", file, detail)
		default:
			fmt.Printf("%s: cannot-judge %s\n", file, detail)
		}
		if status > worst {
			worst = status
		}
	}
	os.Exit(worst)
}
