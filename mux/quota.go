package mux

import (
	"fmt"
	"sync/atomic"
)

// StreamQuota bounds the inbound streams held across every session that
// shares it through Config.StreamQuota: a server or listener makes one
// and passes it to the sessions it accepts, so many sessions (from one
// peer or many) cannot together hold more than Max streams. A stream
// arriving when the quota is used up is refused with RESOURCE_EXHAUSTED
// (and counts against its session's MaxRefusalsPerSecond). Safe for
// concurrent use.
type StreamQuota struct {
	max  int64
	used atomic.Int64
}

// DefaultStreamQuota is the quota podwire's servers (transport.Listener,
// the sidecar) make when their mux config sets none: four sessions' worth
// of MaxInboundStreams. #12.7 held 8,733 never-read streams over 10
// sessions; an idle stream costs ~4.1 KB of heap for both ends together
// (TestManyStreams), so the quota bounds idle streams at ~17 MB per server.
const DefaultStreamQuota = 4096

// NewStreamQuota returns a quota of max streams; max must be positive.
func NewStreamQuota(max int) (*StreamQuota, error) {
	if max <= 0 {
		return nil, fmt.Errorf("%w: StreamQuota max = %d, want > 0 (streams held across all sessions)", ErrInvalidConfig, max)
	}
	return &StreamQuota{max: int64(max)}, nil
}

// Max returns the quota's bound.
func (q *StreamQuota) Max() int { return int(q.max) }

// InUse returns the streams currently holding a share of the quota.
func (q *StreamQuota) InUse() int { return int(q.used.Load()) }

// acquire takes one share, or reports false if none is left.
func (q *StreamQuota) acquire() bool {
	for {
		n := q.used.Load()
		if n >= q.max {
			return false
		}
		if q.used.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release returns one share.
func (q *StreamQuota) release() { q.used.Add(-1) }
