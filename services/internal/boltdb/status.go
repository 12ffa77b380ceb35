package boltdb

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Status turns a store failure of service's step op into the status a
// caller gets, in the service's words: no file path and no Go error text
// (the service logs those). corrupt is the service's sentinel for a record
// that does not decode. A full disk or an I/O error is Unavailable (the
// caller may retry later); a damaged file or corrupt record is DataLoss
// (an operator must restore from backup); after Close it is Unavailable.
// retry is appended to the Unavailable messages: what to retry with, e.g.
// "retry later with the same order id".
func Status(service, op string, err, closed, corrupt error, retry string) *status.Status {
	switch Classify(err, closed) {
	case KindClosed:
		return status.Newf(codes.Unavailable, "%s %s: the service is stopping; %s on another replica", service, op, retry)
	case KindNoSpace:
		return status.Newf(codes.Unavailable, "%s %s: the data disk is full, so the change was not saved; %s once space is freed", service, op, retry)
	case KindIO:
		return status.Newf(codes.Unavailable, "%s %s: the data disk failed to read or write; %s", service, op, retry)
	case KindDamaged:
		return status.Newf(codes.DataLoss, "%s %s: the data file is damaged; an operator must restore it from backup", service, op)
	}
	if corrupt != nil && errors.Is(err, corrupt) {
		return status.Newf(codes.DataLoss, "%s %s: a stored record is corrupt and will not be changed; an operator must restore the data file from backup", service, op)
	}
	return status.Newf(codes.Internal, "%s %s: internal error in the data store; see the %s log", service, op, service)
}
