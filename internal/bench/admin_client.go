package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// adminGet fetches path from a sidecar's admin server on a Unix socket.
func adminGet(ctx context.Context, sock, path string) (int, []byte, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin"+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// waitSidecarReady polls the sidecar's /readyz until it answers 200, the
// process exits, or procStartTimeout passes.
func waitSidecarReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, procStartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		code, body, err := adminGet(ctx, p.admin, "/readyz")
		switch {
		case err == nil && code == http.StatusOK:
			if s, ok := sidecarGoStats(ctx, p.admin); ok {
				p.goProcs = s.GOMAXPROCS
			}
			return nil
		case err == nil:
			last = fmt.Sprintf("%d %s", code, body)
		default:
			last = err.Error()
		}
		select {
		case <-p.done:
			return p.exited()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %s", p.role, procStartTimeout, last)
		case <-tick.C:
		}
	}
}

// sidecarGoStats reads the runtime block of a sidecar's /debug/sessions.
func sidecarGoStats(ctx context.Context, sock string) (goStats, bool) {
	code, body, err := adminGet(ctx, sock, "/debug/sessions")
	if err != nil || code != http.StatusOK {
		return goStats{}, false
	}
	var snap struct {
		Runtime *goStats `json:"runtime"`
	}
	if json.Unmarshal(body, &snap) != nil || snap.Runtime == nil {
		return goStats{}, false
	}
	return *snap.Runtime, true
}
