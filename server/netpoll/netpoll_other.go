//go:build !linux

package netpoll

type sysPoller struct{}

func (s *sysPoller) open() error                              { return ErrUnsupported }
func (s *sysPoller) arm(fd int32, t uint64, added bool) error { return ErrUnsupported }
func (s *sysPoller) wait(tokens []uint64) ([]uint64, bool)    { return tokens, true }
func (s *sysPoller) interrupt()                               {}
func (s *sysPoller) close() error                             { return nil }
