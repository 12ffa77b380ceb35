// Package boltdb holds the bbolt plumbing the sample services share: Open
// creates a file's buckets, View, Update and Batch run a transaction and
// report a failure as a *StoreError naming the step and the file, and Get,
// Decode and Put move protobuf messages in and out of buckets.
//
// Request errors (*valid.FieldError) returned by a transaction function pass
// through unwrapped, so a handler can return them as gRPC statuses.
package boltdb
