package errs

import "errors"

// Detail returns the detail of an error made by New or Newf, or err's text
// for any other error.
func Detail(err error) string {
	var d *detailed
	if errors.As(err, &d) {
		return d.detail
	}
	return err.Error()
}
