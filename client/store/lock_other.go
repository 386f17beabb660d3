//go:build !unix || solaris || aix

package store

import "os"

// lockDir is not implemented on this system: the store refuses to open rather
// than risk two processes changing it at once.
func lockDir(dir string) (*os.File, error) { return nil, ErrUnsupported }
