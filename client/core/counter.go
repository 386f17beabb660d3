package core

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/store"
)

// Counter reads a counter kept as a bare varint in setting name (0 when the
// setting is missing). Group and broadcast sequence numbers use it.
func Counter(tx *store.Tx, name string) (uint64, error) {
	b, err := Setting(tx, name)
	if err != nil || b == nil {
		return 0, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n != len(b) {
		return 0, ErrBadSetting
	}
	return v, nil
}

// NextCounter increments the counter in setting name and returns its new
// value.
func NextCounter(tx *store.Tx, name string) (uint64, error) {
	v, err := Counter(tx, name)
	if err != nil {
		return 0, err
	}
	v++
	return v, tx.SetSetting(name, protowire.AppendVarint(nil, v))
}
