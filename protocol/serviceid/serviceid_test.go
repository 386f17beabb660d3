package serviceid

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		kind    byte
		ok      bool
	}{
		{"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", ACI, true},
		{"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", ACI, true},
		{"PNI:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "PNI:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", PNI, true},
		{"pni:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "", 0, false},
		{"aaaaaaaabbbb4ccc8dddeeeeeeeeeeee", "", 0, false},
		{"gaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "", 0, false},
		{"", "", 0, false},
	} {
		id, ok := Parse(tc.in)
		if ok != tc.ok || ok && (id.String() != tc.out || id[0] != tc.kind) {
			t.Errorf("Parse(%q) = %s (kind %d), %v", tc.in, id, id[0], ok)
		}
		if ok {
			if back, ok := FromBinary(id[:]); !ok || back != id {
				t.Errorf("FromBinary(%x) = %v, %v", id, back, ok)
			}
		}
	}
	if _, ok := FromBinary(append([]byte{2}, make([]byte, 16)...)); ok {
		t.Error("FromBinary accepted kind 2")
	}
	if _, ok := FromBinary(make([]byte, 16)); ok {
		t.Error("FromBinary accepted 16 bytes")
	}
}
