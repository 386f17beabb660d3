package store

import "errors"

// Errors returned by every backend; test them with errors.Is.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrCodeUnknown    = errors.New("store: activation code unknown or already used")
	ErrCodeExpired    = errors.New("store: activation code expired")
	ErrAccountExists  = errors.New("store: account ID already taken")
	ErrNoPreKeys      = errors.New("store: device has not uploaded its signed prekeys")
	ErrTooManyPreKeys = errors.New("store: device holds the maximum number of one-time prekeys")
	ErrQueueFull      = errors.New("store: recipient device queue is full")
)

// Errors of linked devices.
var (
	ErrTooManyDevices = errors.New("store: the account has the most devices allowed")
	ErrLinkTaken      = errors.New("store: that link slot is written already")
)
