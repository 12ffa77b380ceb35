package transport

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestJudgeDir runs the socket dir trust rule over every case it decides.
func TestJudgeDir(t *testing.T) {
	const me, other, grp = 1000, 2000, 3000
	tests := []struct {
		name    string
		d       dirStat
		wantMsg string // "" means trusted
	}{
		{"ours 0750", dirStat{mode: 0o750, uid: me, gid: grp, socketDir: true, sockGr: -1}, ""},
		{"root's 0755", dirStat{mode: 0o755, uid: 0, gid: 0, socketDir: true, sockGr: -1}, ""},
		{"another uid's 0700", dirStat{mode: 0o700, uid: other, socketDir: true, sockGr: -1}, "owned by uid 2000"},
		{"ours 0777", dirStat{mode: 0o777, uid: me, socketDir: true, sockGr: -1}, "writable by others and group 0 (mode 0777)"},
		{"ours 1777 (sticky is not enough)", dirStat{mode: 0o777 | fs.ModeSticky, uid: me, socketDir: true, sockGr: -1}, "writable by others"},
		{"ours 0770, no socket group", dirStat{mode: 0o770, uid: me, gid: grp, socketDir: true, sockGr: -1}, "writable by group 3000 (mode 0770)"},
		{"ours 0770, its group is the socket group", dirStat{mode: 0o770, uid: me, gid: grp, socketDir: true, sockGr: grp}, ""},
		{"ours 0770, another socket group", dirStat{mode: 0o770, uid: me, gid: grp, socketDir: true, sockGr: 7}, "chgrp 7"},
		{"ours 0770, dialer accepts any group", dirStat{mode: 0o770, uid: me, gid: grp, socketDir: true, sockGr: anyGroup}, ""},
		{"ours 0772, dialer", dirStat{mode: 0o772, uid: me, gid: grp, socketDir: true, sockGr: anyGroup}, "writable by others (mode 0772)"},
		{"ancestor 1777 (/tmp)", dirStat{mode: 0o777 | fs.ModeSticky, uid: 0, sockGr: -1}, ""},
		{"ancestor 0777", dirStat{mode: 0o777, uid: 0, sockGr: -1}, "writable by others without the sticky bit"},
		{"ancestor 0775 group-writable", dirStat{mode: 0o775, uid: 0, sockGr: -1}, ""},
		{"ancestor of another uid", dirStat{mode: 0o755, uid: other, sockGr: -1}, "owned by uid 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.d.path, tt.d.me = "/run/x", me
			err := judgeDir(tt.d)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("judgeDir = %v, want trusted", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrUntrustedDir) || !strings.Contains(err.Error(), tt.wantMsg) ||
				!strings.Contains(err.Error(), AllowSharedSocketDirEnv) {
				t.Fatalf("judgeDir = %v, want an ErrUntrustedDir saying %q and naming the opt-out", err, tt.wantMsg)
			}
		})
	}
}
