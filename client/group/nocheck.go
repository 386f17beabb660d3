//go:build sky_nogroupsigs

package group

// Built only with -tags sky_nogroupsigs, to show what the signature checks
// refuse: go test -tags sky_nogroupsigs ./client -run 'TestEvil' fails
// where a forged or rival group change would otherwise be taken. Never in
// a real build.
func init() { checkSignatures = false }
