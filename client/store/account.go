package store

import (
	"github.com/skymsg/sky/client/store/keyfile"
)

// Account returns the recorded account, or ErrNotFound.
func (t *Tx) Account() (Account, error) {
	return getRecord(t, "kv", kvAccount, decodeAccount)
}

// SetAccount records the account. Its encoding must fit the panic payload
// (keyfile.MaxAccount bytes), since a panic unlock may need it to delete the
// account; a larger one is ErrTooLarge. After commit the key file's panic
// payload is refreshed.
func (t *Tx) SetAccount(a Account) error {
	if a.ID == "" {
		return invalid("the account has no ID")
	}
	b := encodeAccount(&a)
	defer clear(b)
	if len(b) > keyfile.MaxAccount {
		return ErrTooLarge
	}
	t.rewriteKey, t.scrub = true, true
	return t.put("kv", kvAccount, nil, b)
}

// LocalIdentity returns the own identity key pair, or ErrNotFound.
func (t *Tx) LocalIdentity() (LocalIdentity, error) {
	return getRecord(t, "kv", kvIdentity, decodeLocalIdentity)
}

// SetLocalIdentity records the own identity key pair.
func (t *Tx) SetLocalIdentity(l LocalIdentity) error {
	if len(l.KeyPair) == 0 {
		return invalid("the identity key pair is empty")
	}
	b := encodeLocalIdentity(&l)
	defer clear(b)
	t.scrub = true
	return t.put("kv", kvIdentity, nil, b)
}

func settingKey(name string) ([]byte, error) {
	if name == "" {
		return nil, invalid("the setting name is empty")
	}
	return []byte("setting/" + name), nil
}

// Setting returns the SDK setting name, or ErrNotFound. Settings are sealed
// like everything else; their names are hashed.
func (t *Tx) Setting(name string) ([]byte, error) {
	k, err := settingKey(name)
	if err != nil {
		return nil, err
	}
	return t.get("kv", k)
}

// SetSetting stores the SDK setting name.
func (t *Tx) SetSetting(name string, value []byte) error {
	k, err := settingKey(name)
	if err != nil {
		return err
	}
	return t.put("kv", k, nil, value)
}

// DeleteSetting removes the SDK setting name; a missing one is not an error.
func (t *Tx) DeleteSetting(name string) error {
	k, err := settingKey(name)
	if err != nil {
		return err
	}
	_, err = t.del("kv", k)
	return err
}

// getRecord is get followed by decode, with both failures typed.
func getRecord[T any](t *Tx, table string, key []byte, decode func([]byte) (T, error)) (T, error) {
	var zero T
	v, err := t.get(table, key)
	if err != nil {
		return zero, err
	}
	r, err := decode(v) // decoders copy what they keep
	clear(v)
	if err != nil {
		return zero, corrupt(table+" record", err)
	}
	return r, nil
}

// listRecords lists and decodes a table or group.
func listRecords[T any](t *Tx, table string, grp []byte, decode func([]byte) (T, error)) ([]T, error) {
	pairs, err := t.list(table, grp)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(pairs))
	for _, p := range pairs {
		r, err := decode(p.value)
		if err != nil {
			return nil, corrupt(table+" record", err)
		}
		out = append(out, r)
	}
	return out, nil
}
