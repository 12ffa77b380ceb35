package statusapi

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Unknown is printed where a value is not known yet.
const Unknown = "—"

// Render prints snap, read from admin, as netstat-like tables.
func Render(w io.Writer, admin string, snap Snapshot) {
	ready := "yes"
	if !snap.Ready {
		ready = "no"
		if snap.NotReady != "" {
			ready += " (" + snap.NotReady + ")"
		}
	}
	title := "SIDECAR"
	if snap.Kind == KindService {
		title = "SERVICE " + snap.Service
	}
	fmt.Fprintf(w, "%s  admin %s  ready: %s  uptime: %s\n\n", title, admin, ready, (time.Duration(snap.UptimeSecs) * time.Second).String())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LISTENER\tNAME\tNET\tADDRESS\tMODE\tOWNER\tPEER ADDRESS")
	for _, l := range snap.Listeners {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Role, Dash(l.Name), l.Network, l.Address, Dash(l.Mode), Dash(l.Owner), Dash(l.Target))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tTRANSPORT\tLOCAL\tREMOTE\tPEER\tSTREAMS\tTX\tRX\tRTT\tAGE")
	for _, s := range snap.Sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Direction, s.Transport, s.Local, s.Remote, Dash(s.Peer),
			s.Streams, BytesHuman(s.BytesTx), BytesHuman(s.BytesRx), RTT(s.RTTMillis), (time.Duration(s.AgeSecs) * time.Second).String())
	}
	tw.Flush()
	if len(snap.Sessions) == 0 {
		fmt.Fprintln(w, "(no sessions)")
	}
	if len(snap.Upstreams) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UPSTREAM\tADDRESS\tTX\tRX")
		for _, u := range snap.Upstreams {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Address, BytesHuman(u.BytesTx), BytesHuman(u.BytesRx))
		}
		tw.Flush()
	}
}

// RTT renders a round-trip time in milliseconds; 0 (no ping answered
// yet) is Unknown.
func RTT(ms float64) string {
	if ms <= 0 {
		return Unknown
	}
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
}

// Dash returns s, or Unknown when s is empty.
func Dash(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// BytesHuman renders n as B, KiB, MiB, GiB or TiB with one decimal.
func BytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%s", f, suffix[i])
}
