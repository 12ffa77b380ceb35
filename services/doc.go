// Package services holds podwire's two sample services and what runs them:
//
//   - inventory: items with stock and reservations held for orders, in an
//     embedded bbolt file; Reserve is atomic and idempotent on the order id.
//   - purchase: orders placed idempotently on a client key; each reserves
//     its stock in inventory, reached by name through podwire's transport.
//   - host: runs a service under transport.Listen with identity, allow-list,
//     health, reflection, metrics and a graceful stop (`podwire serve`).
//   - demo: `podwire demo`, both services as processes and a checked batch
//     of orders.
package services
