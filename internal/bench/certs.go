package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// pki holds an in-process CA with one server and one client certificate
// (ECDSA P-256), as tls.Configs for the bare rows and as PEM files for the
// podwire rows, which load certificates from files.
type pki struct {
	pool       *x509.CertPool
	server     tls.Certificate
	client     tls.Certificate
	caFile     string
	serverCert string
	serverKey  string
	clientCert string
	clientKey  string
}

// benchSPIFFE names both ends; the podwire rows may check it.
const (
	serverSPIFFE = "spiffe://bench.podwire.local/ns/bench/sa/echo"
	clientSPIFFE = "spiffe://bench.podwire.local/ns/bench/sa/client"
)

// newPKI makes the CA and both leaves and writes their PEM files into dir.
func newPKI(dir string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "podwire bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA: %w", err)
	}
	p := &pki{pool: x509.NewCertPool(), caFile: filepath.Join(dir, "ca.pem")}
	p.pool.AddCert(caCert)
	if err := writePEM(p.caFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	p.server, p.serverCert, p.serverKey, err = issueLeaf(dir, "server", serverSPIFFE, caCert, caKey)
	if err != nil {
		return nil, err
	}
	p.client, p.clientCert, p.clientKey, err = issueLeaf(dir, "client", clientSPIFFE, caCert, caKey)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// issueLeaf signs a leaf for localhost/127.0.0.1/::1 and writes name.pem
// and name-key.pem. Leaves serve as both server and client: a sidecar
// presents one certificate in both roles.
func issueLeaf(dir, name, spiffe string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("generate %s key: %w", name, err)
	}
	uri, err := url.Parse(spiffe)
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("parse SPIFFE ID %q: %w", spiffe, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("serial for %s: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost", podwireService},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs:         []*url.URL{uri},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("sign %s certificate: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("marshal %s key: %w", name, err)
	}
	certFile := filepath.Join(dir, name+".pem")
	keyFile := filepath.Join(dir, name+"-key.pem")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return tls.Certificate{}, "", "", err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER); err != nil {
		return tls.Certificate{}, "", "", err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, "", "", fmt.Errorf("parse %s certificate: %w", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certFile, keyFile, nil
}

func writePEM(path, typ string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// serverTLS is TLS 1.3 with client certificates required, like podwire's listener.
func (p *pki) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.server},
		ClientCAs:    p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// clientTLS presents the client certificate and verifies the server against the CA.
func (p *pki) clientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.client},
		RootCAs:      p.pool,
		ServerName:   "localhost",
	}
}
