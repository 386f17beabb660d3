package store

import "time"

// NewAccount is the account that redeeming a code worth period at now
// creates: created on now's day (UTC), paid up until now+period.
func NewAccount(r Registration, now time.Time, period time.Duration) Account {
	now = now.UTC()
	return Account{
		ID:              r.ID,
		Created:         time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC),
		SubscriptionEnd: now.Add(period).Truncate(time.Second),
		IdentityKey:     r.IdentityKey,
	}
}

// Extended is a subscription end moved by d: counted from the old end if
// that is still ahead, from now otherwise.
func Extended(end time.Time, d time.Duration, now time.Time) time.Time {
	if end.Before(now) {
		end = now
	}
	return end.Add(d).Truncate(time.Second).UTC()
}
