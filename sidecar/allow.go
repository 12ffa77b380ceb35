package sidecar

import (
	"crypto/x509"
	"net/url"
	"slices"
	"strings"
)

// allowEntry is one parsed allow-list entry.
type allowEntry struct {
	spiffe string // exact URI SAN, or ""
	dns    string // DNS SAN ("*.example.org" matches one label), or ""
}

// parseAllow parses "spiffe://..." or "dns:NAME".
func parseAllow(s string) (allowEntry, error) {
	switch {
	case strings.HasPrefix(s, "spiffe://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
			return allowEntry{}, &AllowEntryError{Entry: s, Reason: "not a SPIFFE ID"}
		}
		return allowEntry{spiffe: s}, nil
	case strings.HasPrefix(s, "dns:"):
		name := strings.ToLower(strings.TrimPrefix(s, "dns:"))
		rest := strings.TrimPrefix(name, "*.")
		if rest == "" || strings.ContainsAny(rest, "*/: ") || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") {
			return allowEntry{}, &AllowEntryError{Entry: s, Reason: "not a DNS name"}
		}
		return allowEntry{dns: name}, nil
	case strings.HasPrefix(s, "uid:"), strings.HasPrefix(s, "gid:"):
		return allowEntry{}, &AllowEntryError{Entry: s, Reason: "uid/gid apply to Unix sockets only, and peers of a sidecar always come over TLS"}
	default:
		return allowEntry{}, &AllowEntryError{Entry: s, Reason: "unknown form"}
	}
}

// match reports whether the leaf certificate satisfies the entry.
func (a allowEntry) match(leaf *x509.Certificate) bool {
	if a.spiffe != "" {
		return slices.ContainsFunc(leaf.URIs, func(u *url.URL) bool { return u.String() == a.spiffe })
	}
	for _, n := range leaf.DNSNames {
		n = strings.ToLower(n)
		if n == a.dns {
			return true
		}
		if suffix, ok := strings.CutPrefix(a.dns, "*"); ok {
			head, tail, found := strings.Cut(n, ".")
			if found && head != "" && "."+tail == suffix {
				return true
			}
		}
	}
	return false
}

// policy is the parsed allow list of one service; empty admits any
// certificate the CA signed.
type policy []allowEntry

func newPolicy(entries []string) (policy, error) {
	p := make(policy, 0, len(entries))
	for _, e := range entries {
		a, err := parseAllow(e)
		if err != nil {
			return nil, err
		}
		p = append(p, a)
	}
	return p, nil
}

// allows reports whether the verified leaf is admitted.
func (p policy) allows(leaf *x509.Certificate) bool {
	if leaf == nil {
		return false
	}
	if len(p) == 0 {
		return true
	}
	return slices.ContainsFunc(p, func(a allowEntry) bool { return a.match(leaf) })
}

// identity summarises a leaf certificate for logs and /debug/sessions.
type identity struct {
	SPIFFEID string   `json:"spiffe_id,omitempty"`
	DNSNames []string `json:"dns_names,omitempty"`
	Subject  string   `json:"subject,omitempty"`
}

func identityOf(leaf *x509.Certificate) identity {
	if leaf == nil {
		return identity{}
	}
	id := identity{DNSNames: leaf.DNSNames, Subject: leaf.Subject.CommonName}
	for _, u := range leaf.URIs {
		if u.Scheme == "spiffe" {
			id.SPIFFEID = u.String()
			break
		}
	}
	return id
}

// String returns the SPIFFE ID, else the DNS names, else the subject CN.
func (id identity) String() string {
	switch {
	case id.SPIFFEID != "":
		return id.SPIFFEID
	case len(id.DNSNames) > 0:
		return "dns:" + strings.Join(id.DNSNames, ",")
	case id.Subject != "":
		return "cn:" + id.Subject
	}
	return "(no identity)"
}
