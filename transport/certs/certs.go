// Package certs writes a development CA and per-service certificates for
// podwire's mutual TLS: DIR/ca.crt, DIR/ca.key, DIR/NAME.crt, DIR/NAME.key
// (PEM, ECDSA P-256). Each leaf has DNS SANs NAME and localhost, IP SANs
// 127.0.0.1 and ::1 (plus any WithHosts), URI SAN
// spiffe://TRUST-DOMAIN/NAME, and is valid as both client and server
// certificate. These are demo and test certificates, not a PKI.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/podwire/podwire/mux"
)

// DefaultTrustDomain is the SPIFFE trust domain when none is given.
const DefaultTrustDomain = "podwire.local"

// ErrBadInput is wrapped by errors about arguments.
var ErrBadInput = errors.New("podwire/certs: bad input")

// Option changes how Write makes certificates.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config collects Options.
type config struct {
	trustDomain         string
	notBefore, notAfter time.Time
	newCA               bool
	hosts               []string // extra SANs (WithHosts)
}

// WithTrustDomain sets the SPIFFE trust domain; default podwire.local.
func WithTrustDomain(d string) Option { return optionFunc(func(c *config) { c.trustDomain = d }) }

// WithValidity sets the leaves' validity window; default from 5 minutes ago
// for one year. Tests use a window in the past for expired certificates.
func WithValidity(notBefore, notAfter time.Time) Option {
	return optionFunc(func(c *config) { c.notBefore, c.notAfter = notBefore, notAfter })
}

// WithNewCA makes a new CA even if DIR/ca.crt and DIR/ca.key exist.
func WithNewCA() Option { return optionFunc(func(c *config) { c.newCA = true }) }

// Write makes DIR (0700 if missing), reuses DIR/ca.crt and DIR/ca.key when
// both exist (else writes a new CA), and writes DIR/NAME.crt and
// DIR/NAME.key for each service, replacing existing leaves. Keys are 0600.
func Write(dir string, services []string, opts ...Option) error {
	c := config{trustDomain: DefaultTrustDomain}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.notBefore.IsZero() {
		c.notBefore = time.Now().Add(-5 * time.Minute)
		c.notAfter = c.notBefore.Add(365 * 24 * time.Hour)
	}
	if err := c.validate(services); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("podwire/certs: create %s: %w", dir, err)
	}
	ca, caKey, err := loadOrMakeCA(dir, c.newCA)
	if err != nil {
		return err
	}
	for _, s := range services {
		if err := writeLeaf(dir, s, c, ca, caKey); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the options and service names.
func (c config) validate(services []string) error {
	if len(services) == 0 {
		return fmt.Errorf("%w: no service names; pass at least one (e.g. --service inventory)", ErrBadInput)
	}
	for _, s := range services {
		if err := mux.ValidateServiceName(s); err != nil {
			return fmt.Errorf("%w: %w", ErrBadInput, err)
		}
	}
	if u, err := url.Parse("spiffe://" + c.trustDomain); err != nil || u.Host != c.trustDomain || c.trustDomain == "" {
		return fmt.Errorf("%w: trust domain %q: use a DNS-like name such as podwire.local", ErrBadInput, c.trustDomain)
	}
	if err := validateHosts(c.hosts); err != nil {
		return err
	}
	if !c.notAfter.After(c.notBefore) {
		return fmt.Errorf("%w: validity ends (%v) before it starts (%v)", ErrBadInput, c.notAfter, c.notBefore)
	}
	return nil
}

// loadOrMakeCA returns the CA in dir, or makes and writes one.
func loadOrMakeCA(dir string, fresh bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	crtPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if !fresh {
		ca, key, err := loadCA(crtPath, keyPath)
		if err == nil {
			return ca, key, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/certs: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "podwire dev CA", Organization: []string{"podwire"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/certs: sign CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/certs: parse CA: %w", err)
	}
	if err := writePair(crtPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// loadCA reads an existing CA; fs.ErrNotExist if either file is missing.
func loadCA(crtPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	crtPEM, err := os.ReadFile(crtPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(crtPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("podwire/certs: %s or %s is not PEM; delete both to make a new CA", crtPath, keyPath)
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/certs: parse %s: %w", crtPath, err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/certs: parse %s: %w (want an EC key)", keyPath, err)
	}
	return ca, key, nil
}

// writeLeaf writes NAME.crt and NAME.key signed by the CA.
func writeLeaf(dir, name string, c config, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("podwire/certs: %s key: %w", name, err)
	}
	id := &url.URL{Scheme: "spiffe", Host: c.trustDomain, Path: "/" + name}
	dns, ips := sans(name, c.hosts)
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"podwire"}},
		NotBefore:    c.notBefore,
		NotAfter:     c.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
		URIs:         []*url.URL{id},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("podwire/certs: sign %s: %w", name, err)
	}
	return writePair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), der, key)
}

// writePair writes a certificate (0644) and its key (0600) atomically, so a
// watching server never reads a half-written file.
func writePair(crtPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("podwire/certs: marshal key: %w", err)
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return writeAtomic(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeAtomic writes data to a temp file in the same dir and renames it.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("podwire/certs: write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), mode)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("podwire/certs: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("podwire/certs: write %s: %w", path, err)
	}
	return nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}
