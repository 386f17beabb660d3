package keytrans

import (
	"errors"
	"testing"
)

func TestDeviceListValue(t *testing.T) {
	d := [32]byte{0xaa, 31: 0xbb}
	v := DeviceListValue(7, d)
	if len(v) != DeviceListValueSize {
		t.Fatalf("%d bytes", len(v))
	}
	if ver, got, err := ParseDeviceListValue(v); err != nil || ver != 7 || got != d {
		t.Fatalf("parsed %d %x %v", ver, got, err)
	}
	for _, bad := range [][]byte{nil, v[:39], append(v, 0)} {
		if _, _, err := ParseDeviceListValue(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes: %v", len(bad), err)
		}
	}
	if a, ok := DeviceListAccount(DeviceListLabel("eeyg9rkpxq")); !ok || a != "eeyg9rkpxq" {
		t.Fatalf("label round trip: %q %v", a, ok)
	}
	if _, ok := DeviceListAccount("eeyg9rkpxq"); ok {
		t.Fatal("an account ID counts as a device-list label")
	}
}
