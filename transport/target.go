package transport

import (
	"net"
	"net/netip"
	"strings"

	"github.com/podwire/podwire/mux"
)

// targetKind is the form of a dial target.
type targetKind int

const (
	targetName     targetKind = iota // bare service name
	targetUnix                       // unix:///abs/path.sock
	targetAbstract                   // unix-abstract:name
	targetTLS                        // tls://host:port
	targetTCP                        // tcp://127.0.0.1:port
)

// target is a parsed dial target.
type target struct {
	kind targetKind
	addr string // service name, socket path, abstract name, or host:port
}

// parseTarget parses the targets Dial accepts. It never touches the network.
func parseTarget(s string) (target, error) {
	switch {
	case strings.HasPrefix(s, "unix://"):
		p := strings.TrimPrefix(s, "unix://")
		if !strings.HasPrefix(p, "/") {
			return target{}, &TargetError{Target: s, Reason: "unix:// needs an absolute path (three slashes)"}
		}
		if strings.ContainsRune(p, 0) {
			return target{}, &TargetError{Target: s, Reason: "path contains a NUL byte"}
		}
		return target{kind: targetUnix, addr: p}, nil
	case strings.HasPrefix(s, "unix-abstract:"):
		n := strings.TrimPrefix(s, "unix-abstract:")
		if n == "" || strings.ContainsRune(n, 0) {
			return target{}, &TargetError{Target: s, Reason: "abstract socket name is empty or contains a NUL byte"}
		}
		return target{kind: targetAbstract, addr: n}, nil
	case strings.HasPrefix(s, "tls://"):
		hp, err := parseHostPort(s, strings.TrimPrefix(s, "tls://"))
		if err != nil {
			return target{}, err
		}
		return target{kind: targetTLS, addr: hp}, nil
	case strings.HasPrefix(s, "tcp://"):
		hp, err := parseHostPort(s, strings.TrimPrefix(s, "tcp://"))
		if err != nil {
			return target{}, err
		}
		return target{kind: targetTCP, addr: hp}, nil
	}
	// A bare name: mux.ValidateServiceName is the one rule for service
	// names (Dial, Listen, certs, the podwire.wire.v1 header, sidecar config).
	if err := mux.ValidateServiceName(s); err != nil {
		return target{}, &TargetError{Target: s, Reason: err.Error()}
	}
	return target{kind: targetName, addr: s}, nil
}

// parseHostPort checks a host:port with a non-empty host and a numeric port.
func parseHostPort(orig, hp string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", &TargetError{Target: orig, Reason: err.Error()}
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return "", &TargetError{Target: orig, Reason: "host is empty or has characters not allowed in a host"}
	}
	if p, ok := atoiPort(port); !ok || p == 0 {
		return "", &TargetError{Target: orig, Reason: "port must be a number from 1 to 65535"}
	}
	return net.JoinHostPort(host, port), nil
}

// atoiPort parses a decimal port number.
func atoiPort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
