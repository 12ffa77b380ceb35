package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podwire/podwire/transport"
)

// StatusOptions says where `podwire status` looks.
type StatusOptions struct {
	// Admin is a sidecar's admin address ("host:port" or "unix:PATH").
	Admin string
	// SocketDir, when set, lists the *.sock files there (mode, owner, live
	// or stale) and reads the admin socket podwire-admin.sock if present.
	SocketDir string
	// Timeout bounds each request and probe. Default 2s.
	Timeout time.Duration
}

// Status writes a netstat-like report to w: sockets in SocketDir (if set),
// then the listeners, sessions and byte counts from the admin endpoint.
func Status(ctx context.Context, w io.Writer, opts StatusOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	admin := opts.Admin
	if opts.SocketDir != "" {
		socks, err := ScanSocketDir(ctx, opts.SocketDir, opts.Timeout)
		if err != nil {
			return err
		}
		RenderSockets(w, opts.SocketDir, socks)
		if admin == "" {
			for _, sk := range socks {
				if sk.Admin && sk.Live {
					admin = "unix:" + sk.Path
				}
			}
		}
		if admin == "" {
			fmt.Fprintf(w, "\nno live %s in %s; pass --admin to read a sidecar's sessions\n", adminSocketName, opts.SocketDir)
			return nil
		}
		fmt.Fprintln(w)
	}
	if admin == "" {
		admin = DefaultConfig().Admin
	}
	snap, err := FetchSnapshot(ctx, admin, opts.Timeout)
	if err != nil {
		return err
	}
	return RenderStatus(w, admin, snap)
}

// SocketFile is one *.sock file found by ScanSocketDir.
type SocketFile struct {
	Path  string
	Mode  string
	Owner string
	Live  bool // something accepts connections on it
	Admin bool // it is a sidecar's admin socket
}

// ScanSocketDir lists the *.sock files in dir and probes which are live.
func ScanSocketDir(ctx context.Context, dir string, timeout time.Duration) ([]SocketFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("socket dir: %w (pass the directory the sidecar and the apps share, e.g. /run/podwire)", err)
	}
	slices.Sort(paths)
	out := make([]SocketFile, 0, len(paths))
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		live := transport.ProbeUnix(pctx, p) == nil
		cancel()
		out = append(out, SocketFile{Path: p, Mode: fileMode(fi), Owner: fileOwner(fi), Live: live, Admin: filepath.Base(p) == adminSocketName})
	}
	return out, nil
}

// RenderSockets prints the socket files of a directory as a table.
func RenderSockets(w io.Writer, dir string, socks []SocketFile) {
	fmt.Fprintf(w, "SOCKETS in %s\n", dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tMODE\tOWNER\tSTATE")
	for _, sk := range socks {
		state := "stale"
		if sk.Live {
			state = "live"
		}
		if sk.Admin {
			state += " (sidecar admin)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sk.Path, sk.Mode, dash(sk.Owner), state)
	}
	tw.Flush()
	if len(socks) == 0 {
		fmt.Fprintln(w, "(no *.sock files)")
	}
}

// adminClient returns an HTTP client for admin ("host:port" or "unix:PATH")
// and the base URL to use with it.
func adminClient(admin string, timeout time.Duration) (*http.Client, string) {
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

// FetchSnapshot reads /debug/sessions from a sidecar's admin endpoint.
func FetchSnapshot(ctx context.Context, admin string, timeout time.Duration) (Snapshot, error) {
	var snap Snapshot
	c, base := adminClient(admin, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/sessions", nil)
	if err != nil {
		return snap, fmt.Errorf("%w: %s: %w", ErrAdminUnreachable, admin, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return snap, fmt.Errorf("%w: %s: %w (is the sidecar running? pass --admin with its admin address)", ErrAdminUnreachable, admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snap, fmt.Errorf("%w: %s/debug/sessions answered %s", ErrAdminUnreachable, admin, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return snap, fmt.Errorf("decode %s/debug/sessions: %w", admin, err)
	}
	return snap, nil
}

// Check asks a sidecar's admin endpoint ("healthz" or "readyz") and
// returns nil on 200, else an error with the reason; kubelet exec probes
// run it through `podwire status --check`.
func Check(ctx context.Context, admin, endpoint string, timeout time.Duration) error {
	if endpoint != "healthz" && endpoint != "readyz" {
		return fmt.Errorf("check %q: use healthz or readyz", endpoint)
	}
	c, base := adminClient(admin, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+endpoint, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAdminUnreachable, admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", endpoint, strings.TrimSpace(string(body)))
	}
	return nil
}

// RenderStatus prints a Snapshot as netstat-like tables.
func RenderStatus(w io.Writer, admin string, snap Snapshot) error {
	ready := "yes"
	if !snap.Ready {
		ready = "no (" + snap.NotReady + ")"
	}
	fmt.Fprintf(w, "SIDECAR %s  ready: %s  uptime: %s\n\n", admin, ready, (time.Duration(snap.UptimeSecs) * time.Second).String())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LISTENER\tNAME\tNET\tADDRESS\tMODE\tOWNER\tPEER ADDRESS")
	for _, l := range snap.Listeners {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Role, dash(l.Name), l.Network, l.Address, dash(l.Mode), dash(l.Owner), dash(l.Target))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tTRANSPORT\tLOCAL\tREMOTE\tPEER\tSTREAMS\tTX\tRX\tRTT\tAGE")
	for _, s := range snap.Sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Direction, s.Transport, s.Local, s.Remote, s.Peer,
			s.Streams, bytesHuman(s.BytesTx), bytesHuman(s.BytesRx),
			(time.Duration(s.RTTMillis * float64(time.Millisecond))).Round(time.Microsecond), (time.Duration(s.AgeSecs) * time.Second).String())
	}
	tw.Flush()
	if len(snap.Sessions) == 0 {
		fmt.Fprintln(w, "(no sessions)")
	}
	if len(snap.Upstreams) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UPSTREAM\tADDRESS\tTX\tRX")
		for _, u := range snap.Upstreams {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Address, bytesHuman(u.BytesTx), bytesHuman(u.BytesRx))
		}
		tw.Flush()
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bytesHuman renders n as B, KiB, MiB or GiB with one decimal.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%s", f, suffix[i])
}
