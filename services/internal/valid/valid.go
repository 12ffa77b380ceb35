package valid

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits shared by both services, as documented in the protos.
const (
	MaxSKULen       = 64
	MaxIDLen        = 128
	MaxNameLen      = 200
	MaxQuantity     = 1_000_000
	MaxLines        = 100
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// SKU checks a stock-keeping unit: 1 to 64 bytes of [A-Za-z0-9-_.].
func SKU(field, s string) error {
	if s == "" {
		return Invalid(field, "required; send a SKU of 1 to %d characters [A-Za-z0-9-_.]", MaxSKULen)
	}
	if len(s) > MaxSKULen {
		return Invalid(field, "%d bytes is too long; send at most %d", len(s), MaxSKULen)
	}
	for i := 0; i < len(s); i++ {
		if !skuByte(s[i]) {
			return Invalid(field, "byte %d (%q) is not allowed; use only [A-Za-z0-9-_.]", i, s[i])
		}
	}
	return nil
}

func skuByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}

// Quantity checks a unit count: 1 to 1,000,000.
func Quantity(field string, q int32) error {
	if q < 1 || q > MaxQuantity {
		return Invalid(field, "%d is out of range; send 1 to %d", q, MaxQuantity)
	}
	return nil
}

// ID checks a required identifier: 1 to 128 bytes of printable UTF-8.
func ID(field, s string) error {
	if s == "" {
		return Invalid(field, "required; send 1 to %d bytes", MaxIDLen)
	}
	if len(s) > MaxIDLen {
		return Invalid(field, "%d bytes is too long; send at most %d", len(s), MaxIDLen)
	}
	return printable(field, s)
}

// Name checks an optional display name: at most 200 bytes of printable UTF-8.
func Name(field, s string) error {
	if len(s) > MaxNameLen {
		return Invalid(field, "%d bytes is too long; send at most %d", len(s), MaxNameLen)
	}
	return printable(field, s)
}

func printable(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "not valid UTF-8")
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f {
			return Invalid(field, "control character at byte %d; send printable text", i)
		}
	}
	return nil
}

// LineCount checks the number of lines of an order: 1 to 100.
func LineCount(field string, n int) error {
	if n == 0 {
		return Invalid(field, "required; send 1 to %d lines", MaxLines)
	}
	if n > MaxLines {
		return Invalid(field, "%d lines is too many; send at most %d", n, MaxLines)
	}
	return nil
}

// Line is an order line of either service's protos (inventoryv1.Line,
// purchasev1.OrderLine).
type Line interface {
	GetSku() string
	GetQuantity() int32
}

// Lines checks order lines: their count, each SKU, each quantity, and that
// no SKU repeats. prefix is the repeated field's name, e.g. "lines".
func Lines[L Line](prefix string, lines []L) error {
	if err := LineCount(prefix, len(lines)); err != nil {
		return err
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		sku, q := l.GetSku(), l.GetQuantity()
		if err := SKU(fmt.Sprintf("%s[%d].sku", prefix, i), sku); err != nil {
			return err
		}
		if err := Quantity(fmt.Sprintf("%s[%d].quantity", prefix, i), q); err != nil {
			return err
		}
		if j, dup := seen[sku]; dup {
			return Invalid(fmt.Sprintf("%s[%d].sku", prefix, i), "SKU %q already in %s[%d]; merge the quantities into one line", sku, prefix, j)
		}
		seen[sku] = i
	}
	return nil
}

// SameLines reports whether a and b ask for the same quantities of the same
// SKUs, in any order; each SKU appears at most once in each (Lines checks
// that). Idempotent replays compare a stored request with a new one by it.
func SameLines[A, B Line](a []A, b []B) bool {
	if len(a) != len(b) {
		return false
	}
	want := make(map[string]int32, len(a))
	for _, l := range a {
		want[l.GetSku()] = l.GetQuantity()
	}
	for _, l := range b {
		if q, ok := want[l.GetSku()]; !ok || q != l.GetQuantity() {
			return false
		}
	}
	return true
}

// PageSize checks a page size and applies the default: 0 means 50, the
// maximum is 500.
func PageSize(field string, n int32) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0:
		return 0, Invalid(field, "%d is negative; send 0 for the default of %d, or up to %d", n, DefaultPageSize, MaxPageSize)
	case n > MaxPageSize:
		return 0, Invalid(field, "%d is too large; send at most %d", n, MaxPageSize)
	}
	return int(n), nil
}

// tokenPrefix versions page tokens so their format can change.
const tokenPrefix = "pw1:"

// EncodeToken makes an opaque page token that resumes after key.
func EncodeToken(key []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(tokenPrefix), key...))
}

// DecodeToken returns the key an EncodeToken token resumes after; the empty
// token yields nil (start from the beginning).
func DecodeToken(field, tok string) ([]byte, error) {
	if tok == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), tokenPrefix) || len(b) == len(tokenPrefix) {
		return nil, Invalid(field, "not a token this server issued; send next_page_token from a previous response, or empty for the first page")
	}
	return b[len(tokenPrefix):], nil
}
