package boltdb

import (
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Message is a pointer to a generated protobuf message type T, such as
// *inventoryv1.Item for T = inventoryv1.Item.
type Message[T any] interface {
	*T
	proto.Message
}

// Get returns the message stored at key in bucket, or nil and no error if
// there is none. An error means the stored bytes are not a valid M; the
// caller names the record and wraps its own corruption sentinel.
// The bucket must exist (Open creates Options.Buckets).
func Get[T any, M Message[T]](tx *bolt.Tx, bucket, key []byte) (M, error) {
	v := tx.Bucket(bucket).Get(key)
	if v == nil {
		return nil, nil
	}
	return Decode[T, M](v)
}

// Decode unmarshals v, a value read from a bucket, into a new M.
func Decode[T any, M Message[T]](v []byte) (M, error) {
	m := M(new(T))
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Put stores m at key in bucket. The bucket must exist.
func Put(tx *bolt.Tx, bucket, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, v)
}
