package valid

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// line is a Line for tests.
type line struct {
	sku string
	q   int32
}

func (l line) GetSku() string     { return l.sku }
func (l line) GetQuantity() int32 { return l.q }

func TestChecks(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantField string // "" means no error
	}{
		{"sku ok", SKU("sku", "A-z_0.9"), ""},
		{"sku empty", SKU("sku", ""), "sku"},
		{"sku 64", SKU("sku", strings.Repeat("a", 64)), ""},
		{"sku 65", SKU("sku", strings.Repeat("a", 65)), "sku"},
		{"sku slash", SKU("x.sku", "a/b"), "x.sku"},
		{"quantity 0", Quantity("q", 0), "q"},
		{"quantity 1", Quantity("q", 1), ""},
		{"quantity max", Quantity("q", MaxQuantity), ""},
		{"quantity over", Quantity("q", MaxQuantity+1), "q"},
		{"id empty", ID("id", ""), "id"},
		{"id 128", ID("id", strings.Repeat("i", 128)), ""},
		{"id 129", ID("id", strings.Repeat("i", 129)), "id"},
		{"id bad utf8", ID("id", "\xff"), "id"},
		{"id control", ID("id", "a\x00"), "id"},
		{"name empty ok", Name("name", ""), ""},
		{"name long", Name("name", strings.Repeat("n", 201)), "name"},
		{"lines none", Lines[line]("lines", nil), "lines"},
		{"lines ok", Lines("lines", []line{{"a", 1}, {"b", 2}}), ""},
		{"lines dup", Lines("lines", []line{{"a", 1}, {"a", 1}}), "lines[1].sku"},
		{"lines bad sku", Lines("lines", []line{{"a", 1}, {"b/c", 1}}), "lines[1].sku"},
		{"lines bad quantity", Lines("lines", []line{{"a", 0}}), "lines[0].quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantField == "" {
				if tt.err != nil {
					t.Fatalf("got %v, want nil", tt.err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(tt.err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("got %v, want a FieldError on %q", tt.err, tt.wantField)
			}
			if got := status.Code(tt.err); got != codes.InvalidArgument {
				t.Errorf("code = %v, want InvalidArgument", got)
			}
		})
	}
}

func TestPageSize(t *testing.T) {
	tests := []struct {
		in      int32
		want    int
		wantErr bool
	}{{0, 50, false}, {1, 1, false}, {500, 500, false}, {501, 0, true}, {-1, 0, true}}
	for _, tt := range tests {
		got, err := PageSize("page_size", tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("PageSize(%d) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	for _, key := range [][]byte{[]byte("a"), {0, 1, 2, 255}, []byte("sku-99")} {
		got, err := DecodeToken("t", EncodeToken(key))
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("DecodeToken(EncodeToken(%q)) = %q, %v", key, got, err)
		}
	}
	if got, err := DecodeToken("t", ""); got != nil || err != nil {
		t.Errorf("DecodeToken(\"\") = %q, %v; want nil, nil", got, err)
	}
}

// FuzzDecodeToken feeds arbitrary page tokens (they come from clients):
// decoding never panics, and what decodes re-encodes to the same token.
func FuzzDecodeToken(f *testing.F) {
	f.Add("")
	f.Add(EncodeToken([]byte("sku-1")))
	f.Add("!!!")
	f.Add("cHcxOg")
	f.Fuzz(func(t *testing.T, tok string) {
		key, err := DecodeToken("page_token", tok)
		if err != nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("code %v, want InvalidArgument", status.Code(err))
			}
			return
		}
		if tok != "" && EncodeToken(key) != tok {
			t.Fatalf("token %q decodes to %q which encodes to %q", tok, key, EncodeToken(key))
		}
	})
}

func TestSameLines(t *testing.T) {
	tests := []struct {
		name string
		a, b []line
		want bool
	}{
		{"both empty", nil, nil, true},
		{"same order", []line{{"a", 1}, {"b", 2}}, []line{{"a", 1}, {"b", 2}}, true},
		{"other order", []line{{"a", 1}, {"b", 2}}, []line{{"b", 2}, {"a", 1}}, true},
		{"other quantity", []line{{"a", 1}, {"b", 2}}, []line{{"a", 1}, {"b", 3}}, false},
		{"other sku", []line{{"a", 1}}, []line{{"c", 1}}, false},
		{"fewer lines", []line{{"a", 1}, {"b", 2}}, []line{{"a", 1}}, false},
		{"more lines", []line{{"a", 1}}, []line{{"a", 1}, {"b", 2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameLines(tt.a, tt.b); got != tt.want {
				t.Errorf("SameLines(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
