package transport

// CheckSocketDir applies the socket-dir trust rule Listen applies (see
// sockdir.go) to dir without creating anything: nil when no other user can
// write dir or replace it through an ancestor; else a *SocketDirError that
// names the fix. `podwire check` reports it.
func CheckSocketDir(dir string) error { return checkSocketDir(dir, -1) }
