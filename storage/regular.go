package storage

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// NotRegular says why a file of this mode is not read as an image ("" for
// a regular file): opening a named pipe waits for a writer, forever;
// reading a device or a socket never ends or never starts.
func NotRegular(mode fs.FileMode) string {
	var kind string
	switch t := mode.Type(); {
	case t == 0:
		return ""
	case t&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case t&fs.ModeSocket != 0:
		kind = "socket"
	case t&fs.ModeCharDevice != 0:
		kind = "character device"
	case t&fs.ModeDevice != 0:
		kind = "block device"
	case t&fs.ModeDir != 0:
		kind = "directory"
	case t&fs.ModeSymlink != 0:
		kind = "symbolic link"
	default:
		kind = "irregular file"
	}
	return "not a regular file (" + kind + ")"
}

// openRegular opens a regular file for reading and refuses anything else
// without blocking. The path may have been replaced since it was listed,
// so the check is on the opened file (fstat), and the open itself is
// non-blocking: a plain open of a named pipe waits for a writer forever.
// A regular file is then read in blocking mode, as usual.
func openRegular(path string) (*os.File, error) {
	fd, err := openNoEINTR(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		// Only a lease being broken (an SMB oplock, a leased file) says
		// this to a read-only open: wait for it, as a plain open does.
		fd, err = openNoEINTR(path, syscall.O_RDONLY|syscall.O_CLOEXEC)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := fstatNoEINTR(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New(NotRegular(modeOf(st.Mode)))}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openNoEINTR(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func fstatNoEINTR(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// modeOf maps a stat mode's file type onto fs.FileMode's.
func modeOf(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFREG:
		return 0
	}
	return fs.ModeIrregular
}
