package store

import "time"

// Day is the granularity of the account dates the server keeps (creation
// day, subscription end): neither tells the time of day anything happened.
const Day = 24 * time.Hour

// NewAccount is the account that redeeming a code worth period at now
// creates: created on now's day (UTC), paid up until now+period rounded up
// to the next midnight (UTC), so the end does not reveal the hour of
// registration.
func NewAccount(r Registration, now time.Time, period time.Duration) Account {
	now = now.UTC()
	return Account{
		ID:              r.ID,
		Created:         now.Truncate(Day),
		SubscriptionEnd: CeilDay(now.Add(period)),
		IdentityKey:     r.IdentityKey,
	}
}

// Extended is a subscription end moved by d: counted from the old end if
// that is still ahead, from now otherwise, and rounded up to midnight (UTC).
func Extended(end time.Time, d time.Duration, now time.Time) time.Time {
	if end.Before(now) {
		end = now
	}
	return CeilDay(end.Add(d))
}

// CeilDay rounds t up to the next midnight UTC (t itself if it is one).
func CeilDay(t time.Time) time.Time {
	t = t.UTC()
	d := t.Truncate(Day)
	if d.Before(t) {
		d = d.Add(Day)
	}
	return d
}

// CreatedDay is the value a backend stores for a code's creation day: unix
// seconds of its UTC midnight (any time of day is dropped here too, so no
// caller can store an hour), or nil (NULL) when unknown.
func CreatedDay(c Code) *int64 {
	if c.Created.IsZero() {
		return nil
	}
	d := c.Created.UTC().Truncate(Day).Unix()
	return &d
}

// CreatedFrom is a code's creation day read back from a backend: zero when
// NULL (unknown).
func CreatedFrom(day *int64) time.Time {
	if day == nil {
		return time.Time{}
	}
	return time.Unix(*day, 0).UTC()
}
