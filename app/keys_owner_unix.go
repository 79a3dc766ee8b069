//go:build unix

package app

import (
	"fmt"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file info describes: a keys
// file that belongs to the gateway's user, replaced by root, stays that
// user's (a 0600 file of root's it could not read).
func keepOwner(f *os.File, info os.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("error keeping the keys file's owner (uid %d, gid %d): %w", st.Uid, st.Gid, err)
	}
	return nil
}
