package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/podwire/podwire/transport"
)

// checkSocketDir checks that the dir exists and is trusted, then probes
// each *.sock in it.
func checkSocketDir(ctx context.Context, cfg Config) []Result {
	dir := cfg.SocketDir
	check := "socket dir " + dir + " exists"
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return []Result{fail(check, "it does not exist", "create it (mkdir -m 0750 "+dir+") or let the service create it; in a pod mount the shared emptyDir there")}
	case err != nil:
		return []Result{fail(check, err.Error(), "make it readable by this user")}
	case !fi.IsDir():
		return []Result{fail(check, "it is not a directory", "remove the file or pass another --socket-dir")}
	}
	rs := []Result{ok(check, fmt.Sprintf("mode %04o", fi.Mode().Perm()))}
	trust := "socket dir " + dir + " is writable only by trusted users"
	var sde *transport.SocketDirError
	switch err := transport.CheckSocketDir(dir); {
	case err == nil:
		rs = append(rs, ok(trust, fmt.Sprintf("mode %04o, owner and ancestors trusted", fi.Mode().Perm())))
	case errors.As(err, &sde) && cfg.AllowSharedDir:
		rs = append(rs, ok(trust, fmt.Sprintf("%s %s, accepted as shared (--allow-shared-dir)", sde.Dir, sde.Reason)))
	case errors.As(err, &sde):
		rs = append(rs, fail(trust, fmt.Sprintf("%s %s", sde.Dir, sde.Reason), sde.Fix+"; or, for a pod's private emptyDir, --allow-shared-dir"))
	default:
		rs = append(rs, fail(trust, err.Error(), "make the directory and its parents readable"))
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	slices.Sort(paths)
	for _, p := range paths {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err := transport.ProbeUnix(pctx, p)
		cancel()
		check := "socket " + filepath.Base(p) + " is live"
		if err != nil {
			rs = append(rs, warn(check, "stale: nothing accepts on it", "start its service (it removes a stale file when it listens) or remove "+p))
			continue
		}
		rs = append(rs, ok(check, "accepts connections"))
	}
	if len(paths) == 0 {
		rs = append(rs, warn("sockets in "+dir, "no *.sock files", "start the services, or check that they use this --socket-dir"))
	}
	return rs
}
