package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podwire/podwire/internal/statusapi"
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sk.Path, sk.Mode, statusapi.Dash(sk.Owner), state)
	}
	tw.Flush()
	if len(socks) == 0 {
		fmt.Fprintln(w, "(no *.sock files)")
	}
}

// FetchSnapshot reads /debug/sessions from a sidecar's (or a `podwire
// serve`'s) admin endpoint; an endpoint that does not answer is
// ErrAdminUnreachable.
func FetchSnapshot(ctx context.Context, admin string, timeout time.Duration) (Snapshot, error) {
	snap, err := statusapi.Fetch(ctx, admin, timeout)
	if errors.Is(err, statusapi.ErrUnreachable) {
		return snap, fmt.Errorf("%w: %w", ErrAdminUnreachable, err)
	}
	return snap, err
}

// Check asks a sidecar's admin endpoint ("healthz" or "readyz") and
// returns nil on 200, else an error with the reason; kubelet exec probes
// run it through `podwire status --check`.
func Check(ctx context.Context, admin, endpoint string, timeout time.Duration) error {
	if endpoint != "healthz" && endpoint != "readyz" {
		return fmt.Errorf("check %q: use healthz or readyz", endpoint)
	}
	c, base := statusapi.Client(admin, timeout)
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

// RenderStatus prints a Snapshot as netstat-like tables, the same
// tables `podwire status` prints; "—" marks a value not known yet.
func RenderStatus(w io.Writer, admin string, snap Snapshot) error {
	statusapi.Render(w, admin, snap)
	return nil
}
