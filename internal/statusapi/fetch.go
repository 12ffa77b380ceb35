package statusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrUnreachable means an admin endpoint did not answer /debug/sessions.
var ErrUnreachable = errors.New("admin endpoint unreachable")

// maxBody caps the JSON read from an admin endpoint.
const maxBody = 8 << 20

// Client returns an HTTP client for admin ("host:port" or "unix:PATH")
// and the base URL to use with it.
func Client(admin string, timeout time.Duration) (*http.Client, string) {
	tr := &http.Transport{DisableKeepAlives: true}
	base := "http://" + admin
	if path, ok := strings.CutPrefix(admin, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://podwire-admin"
	}
	return &http.Client{Transport: tr, Timeout: timeout}, base
}

// Fetch reads /debug/sessions from admin ("host:port" or "unix:PATH").
func Fetch(ctx context.Context, admin string, timeout time.Duration) (Snapshot, error) {
	var snap Snapshot
	c, base := Client(admin, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/sessions", nil)
	if err != nil {
		return snap, fmt.Errorf("%w: %s: %v", ErrUnreachable, admin, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return snap, fmt.Errorf("%w: %s: %v (is it running? pass --admin with its admin address)", ErrUnreachable, admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snap, fmt.Errorf("%w: %s/debug/sessions answered %s (an older podwire?)", ErrUnreachable, admin, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&snap); err != nil {
		return snap, fmt.Errorf("%s/debug/sessions is not a podwire snapshot: %v", admin, err)
	}
	return snap, nil
}

// Handler answers GET with the JSON of snapshot().
func Handler(snapshot func() Snapshot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(snapshot())
	})
}
