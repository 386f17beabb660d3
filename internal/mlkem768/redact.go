package mlkem768

import (
	"fmt"
	"io"
)

// Format keeps the secret key out of every fmt verb (%v, %+v, %#v, %s, %x, …).
func (DecapsulationKey) Format(f fmt.State, _ rune) {
	io.WriteString(f, "mlkem768.DecapsulationKey(redacted)")
}
