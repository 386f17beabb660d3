package main

// Receipts in groups: sky group receipts GROUP [on|off|default].

import (
	"flag"
	"fmt"
	"time"

	"github.com/skymsg/sky/client"
)

// jsonReceipts is a group's receipts setting as --json prints it.
type jsonReceipts struct {
	Type    string     `json:"type"`    // "receipts"
	Setting string     `json:"setting"` // "default", "on" or "off"
	On      bool       `json:"on"`      // members confirm texts now
	By      string     `json:"by,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Default int        `json:"default_members"` // the largest group the default has them on for
}

func receiptsSettingJSON(rs client.ReceiptsSetting) jsonReceipts {
	return jsonReceipts{Type: "receipts", Setting: rs.Setting.String(), On: rs.On, By: rs.By, At: optTime(rs.At), Default: client.DefaultReceiptMembers}
}

// groupReceipts sets a group's receipts setting (set "on", "off" or
// "default") or, with set empty, returns it.
func groupReceipts(c *client.Client, group, set string) (client.ReceiptsSetting, error) {
	switch set {
	case "":
		return c.GroupReceipts(group)
	case "on":
		return c.SetGroupReceipts(group, client.ReceiptsOn)
	case "off":
		return c.SetGroupReceipts(group, client.ReceiptsOff)
	case "default":
		return c.SetGroupReceipts(group, client.ReceiptsDefault)
	}
	return client.ReceiptsSetting{}, fmt.Errorf("receipts are on, off or default, not %q", set)
}

func cmdGroupReceipts(e *env, fs *flag.FlagSet, asJSON *bool, rest []string) error {
	pos, err := parse(fs, rest, 1, 2, "GROUP [on|off|default]")
	if err != nil {
		return err
	}
	set := ""
	if len(pos) == 2 {
		set = pos[1]
		if set != "on" && set != "off" && set != "default" {
			return usageError("receipts are on, off or default, not %q", set)
		}
	}
	return withClient(e, func(c *client.Client) error {
		rs, err := groupReceipts(c, pos[0], set)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, receiptsSettingJSON(rs))
		}
		state := "off"
		if rs.On {
			state = "on"
		}
		why := fmt.Sprintf("switched %s by %s", rs.Setting, contactNames(c).label(rs.By))
		if rs.Setting == client.ReceiptsDefault {
			why = fmt.Sprintf("the default: on in groups of up to %d members", client.DefaultReceiptMembers)
		}
		_, err = fmt.Fprintf(e.stdout, "delivery and read receipts in this group: %s (%s)\n", state, why)
		return err
	})
}
