package boltdb

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/podwire/podwire/services/internal/valid"
)

var (
	bucketA = []byte("a")
	errTest = errors.New("test: closed")
)

// openTest opens a DB in a temporary directory and closes it at cleanup.
func openTest(tb testing.TB, opts Options) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "t.db"), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// TestTransactionErrors checks what View, Update and Batch return for each
// kind of failure of the transaction function.
func TestTransactionErrors(t *testing.T) {
	fieldErr := valid.Invalid("sku", "bad")
	cause := errors.New("disk on fire")
	tests := []struct {
		name      string
		closed    error // Options.Closed
		close     bool  // close the DB before the call
		fn        func(*bolt.Tx) error
		wantErr   error // matched with errors.Is; nil means no error
		wantField bool  // the error is the *valid.FieldError itself
		wantText  string
	}{
		{name: "ok", fn: func(*bolt.Tx) error { return nil }},
		{name: "field error passes through", fn: func(*bolt.Tx) error { return fieldErr }, wantErr: valid.ErrInvalid, wantField: true, wantText: "sku: bad"},
		{name: "other error wrapped", fn: func(*bolt.Tx) error { return cause }, wantErr: cause, wantText: "podwire/svc: step PATH: disk on fire"},
		{name: "closed, own sentinel", closed: errTest, close: true, fn: func(*bolt.Tx) error { return nil }, wantErr: errTest, wantText: "podwire/svc: step PATH: test: closed"},
		{name: "closed, default sentinel", close: true, fn: func(*bolt.Tx) error { return nil }, wantErr: ErrClosed, wantText: "podwire/svc: step PATH: " + ErrClosed.Error()},
	}
	calls := []struct {
		name string
		run  func(*DB, string, func(*bolt.Tx) error) error
	}{
		{"View", (*DB).View},
		{"Update", (*DB).Update},
		{"Batch", (*DB).Batch},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				db := openTest(t, Options{Service: "svc", Buckets: [][]byte{bucketA}, Closed: tt.closed})
				if tt.close {
					if err := db.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
				}
				err := c.run(db, "step", tt.fn)
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("got %v, want nil", err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want errors.Is %v", err, tt.wantErr)
				}
				var se *StoreError
				if got, want := errors.As(err, &se), !tt.wantField; got != want {
					t.Errorf("errors.As(*StoreError) = %v, want %v (err %v)", got, want, err)
				}
				if se != nil && (se.Op != "step" || se.Path != db.Path() || se.Service != "svc") {
					t.Errorf("got StoreError{%q, %q, %q}, want {svc, step, %q}", se.Service, se.Op, se.Path, db.Path())
				}
				if got, want := err.Error(), strings.ReplaceAll(tt.wantText, "PATH", db.Path()); got != want {
					t.Errorf("Error() = %q, want %q", got, want)
				}
			})
		}
	}
}

// TestOpenLocked checks that a file another DB holds fails to open after
// Timeout with a StoreError that says who might hold it.
func TestOpenLocked(t *testing.T) {
	db := openTest(t, Options{Service: "svc"})
	_, err := Open(db.Path(), Options{Service: "svc", Timeout: 20 * time.Millisecond})
	if !errors.Is(err, bolt.ErrTimeout) {
		t.Fatalf("got %v, want bolt.ErrTimeout", err)
	}
	var se *StoreError
	if !errors.As(err, &se) || se.Op != "open" {
		t.Fatalf("got %#v, want a *StoreError with Op open", err)
	}
	if got, want := err.Error(), "(is another svc using this --data file?)"; !strings.Contains(got, want) {
		t.Errorf("Error() = %q, want it to contain %q", got, want)
	}
}

// TestCloseTwice checks that Close is idempotent.
func TestCloseTwice(t *testing.T) {
	db := openTest(t, Options{})
	for i := range 2 {
		if err := db.Close(); err != nil {
			t.Errorf("Close #%d: got %v, want nil", i+1, err)
		}
	}
}

// TestProto checks Get (and so Decode) and Put on present, absent and
// corrupt records.
func TestProto(t *testing.T) {
	db := openTest(t, Options{Buckets: [][]byte{bucketA}})
	err := db.Update("put", func(tx *bolt.Tx) error {
		if err := Put(tx, bucketA, []byte("k"), wrapperspb.String("v")); err != nil {
			return err
		}
		return tx.Bucket(bucketA).Put([]byte("bad"), []byte{0xff})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	tests := []struct {
		key     string
		want    *wrapperspb.StringValue
		wantErr bool
	}{
		{key: "k", want: wrapperspb.String("v")},
		{key: "missing", want: nil},
		{key: "bad", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			var got *wrapperspb.StringValue
			err := db.View("get", func(tx *bolt.Tx) error {
				var err error
				got, err = Get[wrapperspb.StringValue](tx, bucketA, []byte(tt.key))
				return err
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get(%q) error = %v, want error %v", tt.key, err, tt.wantErr)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("Get(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}
