package netpoll

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// sysPoller is an epoll instance plus an eventfd that interrupts its wait.
type sysPoller struct {
	epfd, evfd int
	events     []unix.EpollEvent
}

// wakeToken marks the eventfd's events; Arm never hands it out.
const wakeToken = 0

func (s *sysPoller) open() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return fmt.Errorf("netpoll: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setToken(&ev, wakeToken)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return fmt.Errorf("netpoll: epoll_ctl: %w", err)
	}
	s.epfd, s.evfd = epfd, evfd
	s.events = make([]unix.EpollEvent, 256)
	return nil
}

// setToken stores a 64-bit token in the event's user data (the Fd and Pad
// fields together form epoll_data).
func setToken(ev *unix.EpollEvent, t uint64) {
	ev.Fd = int32(uint32(t))
	ev.Pad = int32(uint32(t >> 32))
}

func token(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// arm registers fd for one readiness event (level-triggered, so data that
// arrived before arming is reported at once).
func (s *sysPoller) arm(fd int32, t uint64, added bool) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setToken(&ev, t)
	op := unix.EPOLL_CTL_MOD
	if !added {
		op = unix.EPOLL_CTL_ADD
	}
	err := unix.EpollCtl(s.epfd, op, int(fd), &ev)
	if errors.Is(err, unix.ENOENT) && added {
		err = unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}
	if err != nil {
		return fmt.Errorf("netpoll: epoll_ctl: %w", err)
	}
	return nil
}

// wait blocks until some registrations are ready and appends their tokens;
// stop is true once interrupt was called.
func (s *sysPoller) wait(tokens []uint64) ([]uint64, bool) {
	for {
		n, err := unix.EpollWait(s.epfd, s.events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return tokens, true
		}
		stop := false
		for i := range n {
			t := token(&s.events[i])
			if t == wakeToken {
				stop = true
				continue
			}
			tokens = append(tokens, t)
		}
		return tokens, stop
	}
}

func (s *sysPoller) interrupt() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(s.evfd, one[:])
}

func (s *sysPoller) close() error {
	return errors.Join(unix.Close(s.epfd), unix.Close(s.evfd))
}
