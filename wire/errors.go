package wire

import (
	"errors"
	"time"
)

// Error makes a protocol Error usable as a Go error.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return "sky server: " + e.GetMessage() + " (" + e.GetCode().String() + ")"
}

// Is reports whether target is an *Error with the same code, so
// errors.Is(err, wire.ErrRateLimited) works on any error the server sent.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t != nil && e != nil && t.GetCode() == e.GetCode()
}

// RetryAfter is how long the server asked the client to wait.
func (e *Error) RetryAfter() time.Duration {
	return time.Duration(e.GetRetryAfterMs()) * time.Millisecond
}

// NewError returns an error with code and a message for a person.
func NewError(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

// Sentinels to compare against with errors.Is. Never modify them.
var (
	ErrBadRequest           = &Error{Code: Code_BAD_REQUEST}
	ErrUnsupportedVersion   = &Error{Code: Code_UNSUPPORTED_VERSION}
	ErrUnauthenticated      = &Error{Code: Code_UNAUTHENTICATED}
	ErrAuthFailed           = &Error{Code: Code_AUTH_FAILED}
	ErrNotFound             = &Error{Code: Code_NOT_FOUND}
	ErrTooLarge             = &Error{Code: Code_TOO_LARGE}
	ErrRateLimited          = &Error{Code: Code_RATE_LIMITED}
	ErrQueueFull            = &Error{Code: Code_QUEUE_FULL}
	ErrSubscriptionExpired  = &Error{Code: Code_SUBSCRIPTION_EXPIRED}
	ErrAccountRevoked       = &Error{Code: Code_ACCOUNT_REVOKED}
	ErrCodeInvalid          = &Error{Code: Code_CODE_INVALID}
	ErrCodeExpired          = &Error{Code: Code_CODE_EXPIRED}
	ErrNoPreKeys            = &Error{Code: Code_NO_PREKEYS}
	ErrTooManyPreKeys       = &Error{Code: Code_TOO_MANY_PREKEYS}
	ErrUnsupported          = &Error{Code: Code_UNSUPPORTED}
	ErrInternal             = &Error{Code: Code_INTERNAL}
	ErrUnavailable          = &Error{Code: Code_UNAVAILABLE}
	ErrAlreadyAuthenticated = &Error{Code: Code_ALREADY_AUTHENTICATED}
	ErrSlowClient           = &Error{Code: Code_SLOW_CLIENT}
	ErrReplaced             = &Error{Code: Code_REPLACED}
	ErrTokenRejected        = &Error{Code: Code_TOKEN_REJECTED}
)
