package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Status is the outcome of one check.
type Status string

// Outcomes of a check. Only Fail makes Failed report true.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check's outcome.
type Result struct {
	Check  string `json:"check"`          // what was checked, e.g. "certificate chains to the CA"
	Status Status `json:"status"`         // ok, warn or fail
	Detail string `json:"detail"`         // what was found
	Hint   string `json:"hint,omitempty"` // what to do, for warn and fail
}

// Config says what to check; empty fields skip their checks.
type Config struct {
	// CertFile, KeyFile and CAFile are the PEM certificate, its key and the
	// CA bundle. With CertFile set, KeyFile and CAFile are checked too.
	CertFile, KeyFile, CAFile string
	// SPIFFEID, when set, must be the certificate's URI SAN.
	SPIFFEID string
	// SANs are DNS names or IPs the certificate must carry.
	SANs []string
	// WarnWithin warns when the certificate expires within it. Default 30 days.
	WarnWithin time.Duration
	// SocketDir is checked for existence, trust (see transport.CheckSocketDir)
	// and its *.sock files.
	SocketDir string
	// AllowSharedDir accepts a socket dir other users can write (a pod's
	// emptyDir), as the SDK's PODWIRE_ALLOW_SHARED_SOCKET_DIR does.
	AllowSharedDir bool
	// Peers are TLS "host:port" addresses that must complete a handshake
	// with the certificate and ALPN podwire-mux/1.
	Peers []Peer
	// Timeout bounds each probe and handshake. Default 3s.
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Peer is one TLS endpoint to reach.
type Peer struct {
	Name       string // label in the report, e.g. the upstream name; default Address
	Address    string // host:port
	ServerName string // TLS server name; default the host of Address
}

func (c Config) withDefaults() Config {
	if c.WarnWithin == 0 {
		c.WarnWithin = 30 * 24 * time.Hour
	}
	if c.Timeout <= 0 {
		c.Timeout = 3 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Run runs every check cfg asks for, in order: certificates, socket dir,
// sockets, peers. It never stops early: a failed step's dependants report
// that they could not run.
func Run(ctx context.Context, cfg Config) []Result {
	cfg = cfg.withDefaults()
	var rs []Result
	var id *identity
	if cfg.CertFile != "" || cfg.CAFile != "" {
		var r []Result
		r, id = checkCerts(cfg)
		rs = append(rs, r...)
	}
	if cfg.SocketDir != "" {
		rs = append(rs, checkSocketDir(ctx, cfg)...)
	}
	for _, p := range cfg.Peers {
		rs = append(rs, checkPeer(ctx, cfg, id, p))
	}
	return rs
}

// Failed reports whether any result is a failure.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Render prints one line per result, ✔ ok, ‼ warn, ✘ fail, with the hint
// indented under warnings and failures, then a summary line.
func Render(w io.Writer, rs []Result) {
	fails, warns := 0, 0
	for _, r := range rs {
		mark := "✔"
		switch r.Status {
		case Warn:
			mark, warns = "‼", warns+1
		case Fail:
			mark, fails = "✘", fails+1
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, r.Check, r.Detail)
		if r.Hint != "" && r.Status != OK {
			fmt.Fprintf(w, "    hint: %s\n", r.Hint)
		}
	}
	switch {
	case len(rs) == 0:
		fmt.Fprintln(w, "nothing to check: pass certificate files, --socket-dir or --peer")
	case fails > 0:
		fmt.Fprintf(w, "\n%d of %d checks failed, %d warnings\n", fails, len(rs), warns)
	default:
		fmt.Fprintf(w, "\nall %d checks passed, %d warnings\n", len(rs), warns)
	}
}

// RenderJSON writes {"ok": bool, "checks": [...]}.
func RenderJSON(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		OK     bool     `json:"ok"`
		Checks []Result `json:"checks"`
	}{!Failed(rs), rs})
}

func ok(check, detail string) Result { return Result{Check: check, Status: OK, Detail: detail} }

func fail(check, detail, hint string) Result {
	return Result{Check: check, Status: Fail, Detail: detail, Hint: hint}
}

func warn(check, detail, hint string) Result {
	return Result{Check: check, Status: Warn, Detail: detail, Hint: hint}
}
