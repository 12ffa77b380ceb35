package integration

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
)

// tlsMountPath is where containers find their TLS files (read-only).
const tlsMountPath = "/etc/podwire/tls"

// spiffeOf is the URI SAN transport/certs gives the leaf of service name.
func spiffeOf(name string) string { return "spiffe://" + certs.DefaultTrustDomain + "/" + name }

// tlsDir writes a development CA and one leaf per name into a new host
// directory the image's user can read (keys included), as a Kubernetes
// secret volume would be. A second call on the same dir adds leaves signed
// by the same CA; opts shape them (e.g. certs.WithValidity for expired ones).
func tlsDir(t testing.TB, names []string, opts ...certs.Option) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	addLeaves(t, dir, names, opts...)
	return dir
}

// addLeaves writes more leaves into dir, signed by its CA.
func addLeaves(t testing.TB, dir string, names []string, opts ...certs.Option) {
	t.Helper()
	if err := certs.Write(dir, names, opts...); err != nil {
		t.Fatalf("writing certificates for %v into %s: %v", names, dir, err)
	}
	readableByRuntime(t, dir)
}

// readableByRuntime hands dir and its files to the image's user; as a
// non-root test process it opens them to everyone instead (the directory
// is private to the test).
func readableByRuntime(t testing.TB, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Chown(path, runtimeUID, runtimeUID); err != nil {
			mode := os.FileMode(0o644)
			if d.IsDir() {
				mode = 0o755
			}
			return os.Chmod(path, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("making %s readable for uid %d: %v", dir, runtimeUID, err)
	}
}

// tlsFiles mounts a tlsDir read-only at tlsMountPath.
func tlsFiles(dir string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.Binds = append(hc.Binds, dir+":"+tlsMountPath+":ro")
	})
}

// tlsFlags are `podwire serve` flags naming leaf name of the mounted dir.
func tlsFlags(name string) []string {
	return []string{
		"--tls-cert", tlsMountPath + "/" + name + ".crt",
		"--tls-key", tlsMountPath + "/" + name + ".key",
		"--tls-ca", tlsMountPath + "/ca.crt",
	}
}

// clientTLS is the test process's TLS config as leaf name of dir, trusting
// caDir's CA (usually dir itself), verifying the server as serverName and
// offering podwire-mux/1.
func clientTLS(t testing.TB, dir, name, caDir, serverName string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatalf("loading the %s certificate from %s: %v", name, dir, err)
	}
	ca, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		t.Fatalf("reading the CA of %s: %v", caDir, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("%s/ca.crt holds no certificate", caDir)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		ServerName:   serverName,
		NextProtos:   []string{transport.ALPNMux},
		MinVersion:   tls.VersionTLS13,
	}
}
