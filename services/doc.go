// Package services holds podwire's two sample services, inventory and
// purchase, in its subpackages.
package services
