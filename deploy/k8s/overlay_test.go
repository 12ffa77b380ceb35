package k8s

import (
	"net"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/podwire/podwire/sidecar"
)

// certificate and issuer are the subset of cert-manager.io/v1 the overlay
// uses. k8s.io/api has no cert-manager types, so strict decoding here
// catches keys outside this subset (a typo, or a field the test does not
// know), not every schema error cert-manager would report.
type certificate struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		IsCA        bool     `json:"isCA"`
		CommonName  string   `json:"commonName"`
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		Usages      []string `json:"usages"`
		URIs        []string `json:"uris"`
		DNSNames    []string `json:"dnsNames"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type issuer struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		SelfSigned *struct{} `json:"selfSigned"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca"`
	} `json:"spec"`
}

// TestCertManagerOverlay: each pod's TLS Secret is issued, with the SPIFFE
// ID the peers' allow lists name and the DNS name the upstreams dial.
func TestCertManagerOverlay(t *testing.T) {
	r := decode(t, kustomize(t, "overlays/cert-manager"))
	bySecret := map[string]*certificate{}
	for _, c := range r.certificates {
		bySecret[c.Spec.SecretName] = c
	}
	allowed := map[string]bool{} // SPIFFE IDs some allow list names
	var dialed []string          // upstream hosts
	cfgs := map[string]sidecar.Config{}
	for name, d := range r.deployments {
		spec, sc, _ := podParts(t, d)
		cfg := sidecarConfig(t, r, spec, sc)
		cfgs[name] = cfg
		for _, s := range cfg.Services {
			for _, a := range s.Allow {
				allowed[a] = true
			}
		}
		for _, u := range cfg.Upstreams {
			host, _, _ := net.SplitHostPort(u.Address)
			dialed = append(dialed, host)
		}
	}
	for name, d := range r.deployments {
		spec, sc, _ := podParts(t, d)
		v := volumeAt(t, spec, sc, cfgs[name].TLS.Cert)
		c, ok := bySecret[v.Secret.SecretName]
		if !ok {
			t.Errorf("%s: no Certificate issues Secret %q", name, v.Secret.SecretName)
			continue
		}
		if c.Spec.PrivateKey.Algorithm != "ECDSA" || c.Spec.PrivateKey.Size != 256 {
			t.Errorf("%s: key %+v, want ECDSA P-256", name, c.Spec.PrivateKey)
		}
		for _, u := range []string{"server auth", "client auth"} {
			if !slices.Contains(c.Spec.Usages, u) {
				t.Errorf("%s: usages %v lack %q (the certificate serves both ends of the link)", name, c.Spec.Usages, u)
			}
		}
		want := "spiffe://cluster.local/ns/" + d.Namespace + "/sa/" + d.Spec.Template.Spec.ServiceAccountName
		if !slices.Contains(c.Spec.URIs, want) {
			t.Errorf("%s: URIs %v lack its SPIFFE ID %s", name, c.Spec.URIs, want)
		}
		delete(allowed, want)
		dialed = slices.DeleteFunc(dialed, func(h string) bool { return slices.Contains(c.Spec.DNSNames, h) })
	}
	for id := range allowed {
		t.Errorf("allow list names %s, which no Certificate of the overlay carries", id)
	}
	for _, h := range dialed {
		t.Errorf("upstream host %s is in no Certificate's dnsNames (TLS verification would fail)", h)
	}
}

// TestReferenceConfig: deploy/k8s/sidecar.yaml parses strictly, validates,
// and sets every key of sidecar.Config (so every key is documented there).
func TestReferenceConfig(t *testing.T) {
	data, err := os.ReadFile("sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sidecar.ParseConfig(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("ParseConfig(sidecar.yaml): %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate(sidecar.yaml): %v", err)
	}
	for _, key := range yamlKeys(reflect.TypeFor[sidecar.Config](), "") {
		re := regexp.MustCompile(`(?m)^\s*(- )?` + regexp.QuoteMeta(lastKey(key)) + `:`)
		if !re.Match(data) {
			t.Errorf("sidecar.yaml does not show key %s", key)
		}
	}
}

// yamlKeys lists the dotted yaml keys of t's fields, recursing into
// structs and slices of structs.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		keys = append(keys, key)
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
			keys = append(keys, yamlKeys(ft, key+".")...)
		}
	}
	return keys
}

func lastKey(k string) string { return k[strings.LastIndex(k, ".")+1:] }
