package transport

import (
	"crypto/tls"
	"slices"
	"strings"

	"github.com/podwire/podwire/mux"
)

// MuxSession describes one podwire-mux/1 session a Listener accepted.
type MuxSession struct {
	mux.SessionInfo
	// SPIFFEID and DNSNames are the SANs of the peer's verified leaf.
	SPIFFEID string
	DNSNames []string
}

// MuxSessions describes the live mux sessions on the TLS port, sorted by
// remote address; nil without a TLS port. Safe for concurrent use; an
// admin endpoint (`podwire serve --admin`'s /debug/sessions) reads it.
func (l *Listener) MuxSessions() []MuxSession {
	if l.mux == nil {
		return nil
	}
	l.mux.mu.Lock()
	sessions := make([]*mux.Session, 0, len(l.mux.sessions))
	for s := range l.mux.sessions {
		sessions = append(sessions, s)
	}
	l.mux.mu.Unlock()
	out := make([]MuxSession, 0, len(sessions))
	for _, s := range sessions {
		ms := MuxSession{SessionInfo: s.Info()}
		if tc, ok := s.Conn().(*tls.Conn); ok {
			if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
				leaf := st.PeerCertificates[0]
				ms.DNSNames = leaf.DNSNames
				for _, u := range leaf.URIs {
					if u.Scheme == "spiffe" {
						ms.SPIFFEID = u.String()
					}
				}
			}
		}
		out = append(out, ms)
	}
	slices.SortFunc(out, func(a, b MuxSession) int { return strings.Compare(a.Remote, b.Remote) })
	return out
}
