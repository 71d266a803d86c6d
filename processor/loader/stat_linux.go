package loader

import (
	"io/fs"
	"syscall"
	"time"
)

// sysStat adds to st the change time, device and inode of a file os.Stat read. The conversions are for the
// architectures whose fields are 32-bit.
func sysStat(info fs.FileInfo, st *fileStat) {
	if s, ok := info.Sys().(*syscall.Stat_t); ok {
		st.change = time.Unix(int64(s.Ctim.Sec), int64(s.Ctim.Nsec))
		st.dev, st.ino = uint64(s.Dev), uint64(s.Ino)
	}
}
