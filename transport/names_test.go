package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/sidecar"
	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
	"google.golang.org/protobuf/proto"
)

// TestServiceNameRuleEverywhere runs each name through every place podwire
// takes a service name and expects mux.ValidateServiceName's verdict from
// all of them: one rule, no copies that disagree.
func TestServiceNameRuleEverywhere(t *testing.T) {
	names := []struct {
		name string
		ok   bool
	}{
		{"inventory", true},
		{"a", true},
		{"a-b", true},
		{"order-db2", true},
		{strings.Repeat("a", 63), true},
		{"foo-", false},
		{"-foo", false},
		{"a..b", false},
		{"a.b", false},
		{"Foo", false},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"../evil", false},
		{"a_b", false},
		{"1abc", false},
	}
	// Short, so <dir>/<63 bytes>.sock stays within the 108-byte limit.
	sockDir, err := os.MkdirTemp("", "pwnames")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	certDir := t.TempDir()

	entries := []struct {
		where string
		check func(t *testing.T, name string) error
	}{
		{"mux.ValidateServiceName", func(_ *testing.T, name string) error { return mux.ValidateServiceName(name) }},
		{"transport.Dial bare name", dialName(sockDir)},
		{"transport.Listen service", listenName(sockDir)},
		{"certs.Write service", func(_ *testing.T, name string) error { return certs.Write(certDir, []string{name}) }},
		{"header encode", encodeHeader},
		{"header decode", decodeHeader},
		{"sidecar config service", sidecarConfig("services:\n  - name: %q\nlisten: \":15443\"\n")},
		{"sidecar config upstream", sidecarConfig("upstreams:\n  - name: %q\n    address: peer.example:15443\n")},
	}
	for _, n := range names {
		for _, e := range entries {
			t.Run(fmt.Sprintf("%s/%q", e.where, n.name), func(t *testing.T) {
				err := e.check(t, n.name)
				if got := err == nil; got != n.ok {
					t.Fatalf("%s(%q) = %v, want ok=%v (the verdict of mux.ValidateServiceName)", e.where, n.name, err, n.ok)
				}
				if err != nil && !strings.Contains(err.Error(), "must be 1–63 lowercase letters, digits or '-'") {
					t.Errorf("error %q does not state the rule", err)
				}
			})
		}
	}
}

// dialName reports whether transport.Dial accepts name as a bare service
// name: only a *TargetError counts as a rejection of the name (a valid
// name may still fail later for want of a peer).
func dialName(sockDir string) func(*testing.T, string) error {
	return func(t *testing.T, name string) error {
		cc, err := transport.Dial(context.Background(), name, transport.WithSocketDir(sockDir))
		if cc != nil {
			cc.Close()
		}
		var te *transport.TargetError
		if errors.As(err, &te) {
			return err
		}
		return nil
	}
}

// listenName listens on <sockDir>/<name>.sock and closes it again.
func listenName(sockDir string) func(*testing.T, string) error {
	return func(t *testing.T, name string) error {
		l, err := transport.Listen(context.Background(), transport.ListenConfig{Service: name, SocketDir: sockDir})
		if err != nil {
			return err
		}
		return l.Close()
	}
}

func encodeHeader(_ *testing.T, name string) error {
	var buf bytes.Buffer
	return mux.WriteHeader(&buf, &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: name})
}

// decodeHeader frames a header by hand (WriteHeader would refuse a bad
// name) and reads it back, as an acceptor does with a peer's bytes.
func decodeHeader(t *testing.T, name string) error {
	body, err := proto.Marshal(&wirev1.StreamHeader{Version: mux.HeaderVersion, Service: name})
	if err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(body)))
	_, err = mux.ReadHeader(bytes.NewReader(append(frame, body...)))
	return err
}

// sidecarConfig parses a sidecar config with the name put into layout and
// validates it.
func sidecarConfig(layout string) func(*testing.T, string) error {
	return func(t *testing.T, name string) error {
		yaml := "tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem}\n" + fmt.Sprintf(layout, name)
		cfg, err := sidecar.ParseConfig(strings.NewReader(yaml))
		if err != nil {
			t.Fatalf("ParseConfig: %v", err)
		}
		return cfg.Validate()
	}
}
