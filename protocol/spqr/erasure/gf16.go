package erasure

import "sync"

// The code works in GF(2^16) = GF(2)[x] / (x^16 + x^12 + x^3 + x + 1), the
// field SPQR uses (polynomial 0x1100b, which is primitive, so x generates the
// multiplicative group). Addition is XOR; multiplication goes through
// logarithm tables built on first use.

const (
	fieldPoly  = 0x1100b
	groupOrder = 1<<16 - 1 // number of non-zero field elements
)

type gfTables struct {
	log [1 << 16]uint16
	exp [2 * groupOrder]uint16 // doubled so that exp[log a + log b] needs no reduction
}

var (
	tablesOnce sync.Once
	tables     *gfTables
)

// field returns the logarithm tables, building them on first use (384 KiB,
// about a tenth of a millisecond).
func field() *gfTables {
	tablesOnce.Do(func() {
		t := new(gfTables)
		v := uint32(1)
		for i := range groupOrder {
			t.exp[i] = uint16(v)
			t.exp[i+groupOrder] = uint16(v)
			t.log[v] = uint16(i)
			v <<= 1
			if v&(1<<16) != 0 {
				v ^= fieldPoly
			}
		}
		tables = t
	})
	return tables
}

// mul returns a·b.
func (t *gfTables) mul(a, b uint16) uint16 {
	if a == 0 || b == 0 {
		return 0
	}
	return t.exp[int(t.log[a])+int(t.log[b])]
}

// inv returns 1/a for a ≠ 0.
func (t *gfTables) inv(a uint16) uint16 {
	return t.exp[groupOrder-int(t.log[a])]
}

// mulSlow multiplies by shift-and-add with reduction, independently of the
// tables; the tests check the tables against it.
func mulSlow(a, b uint16) uint16 {
	var acc uint32
	for i := range 16 {
		if b&(1<<i) != 0 {
			acc ^= uint32(a) << i
		}
	}
	for i := 31; i >= 16; i-- {
		if acc&(1<<i) != 0 {
			acc ^= fieldPoly << (i - 16)
		}
	}
	return uint16(acc)
}
