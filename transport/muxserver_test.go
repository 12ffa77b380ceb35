package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// muxSession opens a client mux session to a TLS listener as NAME.
func muxSession(tb testing.TB, addr, certDir, name string) *mux.Session {
	tb.Helper()
	cfg, err := DefaultClient.config([]DialOption{tlsFiles(certDir, name)})
	if err != nil {
		tb.Fatalf("dial config: %v", err)
	}
	conf, _ := cfg.tlsClientConfig("inventory", []string{ALPNMux})
	tc, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		tb.Fatalf("tls.Dial: %v", err)
	}
	ac, err := withTLSIdentity(KindMuxTLS, tc) // as a Client's pool dials
	if err != nil {
		tb.Fatalf("identity: %v", err)
	}
	sess, err := mux.Client(ac, mux.DefaultConfig())
	if err != nil {
		tb.Fatalf("mux.Client: %v", err)
	}
	tb.Cleanup(func() { sess.Close() })
	return sess
}

func TestMuxStreamsServeGRPC(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	s := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, dir, "inventory"))
	sess := muxSession(t, s.ln.TLSAddr().String(), dir, "client")
	cc, err := grpc.NewClient("passthrough:///inventory",
		grpc.WithTransportCredentials(clientCreds{}),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			c, err := sess.DialService(ctx, &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC})
			if err != nil {
				return nil, err
			}
			ai, _ := AuthInfoOf(sess.Conn())
			return &authStream{Conn: c, ai: ai}, nil
		}))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	p, err := check(t, cc)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if p.Transport != KindMuxTLS || len(p.Chain) == 0 {
		t.Errorf("client peer = %v with %d certs, want mux+tls with the server chain", p.Transport, len(p.Chain))
	}
	sp := <-s.peers
	if got, want := sp.SPIFFEID, "spiffe://podwire.local/client"; sp.Transport != KindMuxTLS || got != want {
		t.Errorf("server peer = %v %q, want mux+tls %q", sp.Transport, got, want)
	}
}

func TestMuxStreamRefusals(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	s := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, dir, "inventory"))
	sess := muxSession(t, s.ln.TLSAddr().String(), dir, "client")
	tests := []struct {
		name string
		h    *wirev1.StreamHeader
		want codes.Code
	}{
		{"other service", &wirev1.StreamHeader{Version: 1, Service: "purchase"}, codes.NotFound},
		{"raw payload", &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_RAW}, codes.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sess.DialService(ctxT(t), tt.h)
			var re *mux.RefusedError
			if !errors.As(err, &re) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("DialService = %v, want *mux.RefusedError", err)
			}
			if got := codes.Code(re.Code); got != tt.want {
				t.Errorf("refusal code = %v (%s), want %v", got, re.Message, tt.want)
			}
			// #12.9: a refusal names the requested service only.
			if tt.h.GetService() != "inventory" && strings.Contains(re.Message, "inventory") {
				t.Errorf("refusal %q names the served service; it must name only %q", re.Message, tt.h.GetService())
			}
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		c, err := sess.Open(ctxT(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer c.Close()
		// WriteHeader validates, so frame a version-2 header by hand.
		if err := writeRawHeader(c, &wirev1.StreamHeader{Version: 2, Service: "inventory"}); err != nil {
			t.Fatalf("write header: %v", err)
		}
		r, err := mux.ReadReply(c)
		if err != nil {
			t.Fatalf("ReadReply: %v", err)
		}
		if got := codes.Code(r.GetCode()); got != codes.FailedPrecondition {
			t.Errorf("reply code = %v (%s), want FailedPrecondition", got, r.GetMessage())
		}
	})
}

// writeRawHeader frames h without validating it (2-byte length + protobuf).
func writeRawHeader(w io.Writer, h *wirev1.StreamHeader) error {
	b, err := proto.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...))
	return err
}

// TestMuxStreamsShareAuthInfo: every stream the Listener accepts from one
// mux session carries the session's identity through one shared AuthInfo
// (made by the session's TLS handshake), not a copy per channel.
func TestMuxStreamsShareAuthInfo(t *testing.T) {
	dir := testCertDir(t, "inventory", "client")
	ln, err := Listen(ctxT(t), serverTLS(ListenConfig{Service: "inventory", NoUnix: true, Logger: testLogger(t)}, dir, "inventory"))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	sess := muxSession(t, ln.TLSAddr().String(), dir, "client")
	var infos []*AuthInfo
	for range 2 {
		accepted := acceptOne(ln)
		c, err := sess.DialService(ctxT(t), &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "inventory"})
		if err != nil {
			t.Fatalf("DialService: %v", err)
		}
		defer c.Close()
		sc := <-accepted
		if sc == nil {
			t.Fatal("Accept failed")
		}
		defer sc.Close()
		ai, ok := AuthInfoOf(sc)
		if !ok {
			t.Fatalf("AuthInfoOf(accepted %T) = false, want the session's identity", sc)
		}
		infos = append(infos, ai)
	}
	if infos[0] != infos[1] {
		t.Errorf("two streams of one session got AuthInfos %p and %p, want one shared", infos[0], infos[1])
	}
	if got, want := infos[0].Peer.Transport, KindMuxTLS; got != want {
		t.Errorf("Peer.Transport = %v, want %v", got, want)
	}
	if got := infos[0].Peer.DNSNames; len(got) == 0 || got[0] != "client" {
		t.Errorf("Peer.DNSNames = %v, want the client certificate's [client]", got)
	}
	if infos[0].Peer.Addr.String() != sess.Addr().String() {
		t.Errorf("Peer.Addr = %v, want the client's %v", infos[0].Peer.Addr, sess.Addr())
	}
}
