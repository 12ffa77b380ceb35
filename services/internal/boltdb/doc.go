// Package boltdb holds the bbolt plumbing the sample services share: Open
// creates a file's buckets, View, Update and Batch run a transaction and
// report a failure as a *StoreError naming the step and the file, and Get,
// Decode and Put move protobuf messages in and out of buckets.
//
// Open verifies an existing file read-only before it opens it for writing
// and never writes to one that fails: a damaged file (or a bbolt panic on
// a later read) is a *FileError, errors.Is ErrDamaged, saying "data file X
// is damaged: ...; restore from backup". Classify and Status turn store
// failures into what a caller can act on (Unavailable for a full disk or
// an I/O error, DataLoss for damage) without paths or Go error text.
//
// Request errors (*valid.FieldError) returned by a transaction function pass
// through unwrapped, so a handler can return them as gRPC statuses.
package boltdb
