// Package valid holds the request checks the sample services share: SKUs,
// quantities, ids, page sizes and opaque page tokens. Every failure is a
// *FieldError that names the offending field and converts to a gRPC status,
// so handlers can return it as is.
package valid
