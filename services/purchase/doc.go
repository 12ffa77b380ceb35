// Package purchase is podwire's purchase sample service: orders that
// reserve their stock in the inventory service.
//
// PlaceOrder is idempotent on the client's idempotency key. The order id is
// derived from the key (OrderID), so every retry — after a lost reply, or a
// restart of purchase or inventory — reserves under the same order id and
// inventory's own idempotency makes it one reservation. The order is stored
// as pending before inventory is called and confirmed after, so a crash in
// between is finished by the retry. Concurrent calls with one key run one
// at a time. Retryable inventory failures (Unavailable, DeadlineExceeded,
// ResourceExhausted, Aborted) are retried with exponential backoff and
// jitter within the request's deadline.
//
// The Server takes an inventoryv1.InventoryServiceClient, so it does not
// know or care how inventory is reached; Run dials it by name with
// transport.Dial and records, per order, which transport carried the
// reservation.
package purchase
