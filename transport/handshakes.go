package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons HandshakeFailureReason gives, the values of the reason label of
// podwire_tls_handshake_failures_total.
const (
	HandshakeLimit        = "limit"                 // closed unhandshaken: MaxPendingHandshakes in progress
	HandshakeTimeout      = "timeout"               // no complete handshake within HandshakeTimeout
	HandshakeClientClosed = "client_closed"         // the client hung up or reset mid-handshake
	HandshakeNotTLS       = "not_tls"               // the first bytes were not a TLS record (plaintext, HTTP, a scanner)
	HandshakeNoClientCert = "no_client_certificate" // the client sent no certificate
	HandshakeUnknownCA    = "unknown_ca"            // the client certificate does not chain to the CA
	HandshakeExpired      = "expired_certificate"   // the client certificate is expired or not yet valid
	HandshakeBadCert      = "bad_certificate"       // the client certificate failed verification otherwise
	HandshakePeerAlert    = "peer_alert"            // the client aborted with a TLS alert (it refused our certificate)
	HandshakeProtocol     = "protocol"              // no common TLS version, cipher suite or ALPN protocol
	HandshakeOther        = "other"
)

// HandshakeFailureReason sorts a failed server handshake (the err of
// TLSListenerOptions.OnHandshakeError) into one of the Handshake* reasons.
func HandshakeFailureReason(err error) string {
	var (
		rh  tls.RecordHeaderError
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		ne  net.Error
	)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case errors.Is(err, ErrTooManyHandshakes):
		return HandshakeLimit
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return HandshakeTimeout
	case errors.As(err, &rh):
		return HandshakeNotTLS
	case errors.As(err, &ua):
		return HandshakeUnknownCA
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return HandshakeExpired
	case errors.As(err, &cve), errors.As(err, &ci):
		return HandshakeBadCert
	case strings.Contains(msg, "didn't provide a certificate"):
		return HandshakeNoClientCert
	case strings.Contains(msg, "remote error"):
		return HandshakePeerAlert
	case strings.Contains(msg, "protocol version"), strings.Contains(msg, "no cipher suite"),
		strings.Contains(msg, "application protocol"), strings.Contains(msg, "unsupported versions"):
		return HandshakeProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return HandshakeClientClosed
	}
	return HandshakeOther
}

// HandshakeFailures counts failed inbound TLS handshakes by reason as
// podwire_tls_handshake_failures_total{reason} (HandshakeFailureReason).
// Its Observe method is a TLSListenerOptions.OnHandshakeError (and
// ListenConfig.OnHandshakeError). Safe for concurrent use.
type HandshakeFailures struct {
	c *prometheus.CounterVec
}

// NewHandshakeFailures registers the counter on reg; registering twice on
// one registry fails.
func NewHandshakeFailures(reg prometheus.Registerer) (*HandshakeFailures, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podwire_tls_handshake_failures_total",
		Help: "Inbound TLS connections closed without a completed handshake, by reason (limit, timeout, client_closed, not_tls, no_client_certificate, unknown_ca, expired_certificate, bad_certificate, peer_alert, protocol, other).",
	}, []string{"reason"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("%w: podwire_tls_handshake_failures_total: %v (one HandshakeFailures per registry)", ErrBadConfig, err)
	}
	return &HandshakeFailures{c: c}, nil
}

// Observe counts one failed handshake.
func (h *HandshakeFailures) Observe(_ net.Addr, err error) {
	h.c.WithLabelValues(HandshakeFailureReason(err)).Inc()
}
