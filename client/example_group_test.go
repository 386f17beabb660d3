package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client"
)

// Groups: the user creates one (and is its admin), writes to it, adds and
// removes members. Every member is told of every change, and a removed
// member cannot read what follows.
func ExampleClient_CreateGroup() {
	var c *client.Client // from Open, with Run running
	g, err := c.CreateGroup("Newsroom", []string{"mnpqrstuvw", "xyz2345678"})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.SendGroup(g.ID, "Morning, all") // or by name: c.SendGroup("Newsroom", …)
	c.AddMembers(g.ID, "abcdefghjk")
	c.RemoveMembers(g.ID, "xyz2345678")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Flush(ctx)
}

// Following a group: its texts come as MessageEvents naming the group, its
// changes as GroupEvents (only those made by an admin the client accepted).
func ExampleGroupEvent() {
	var c *client.Client
	sub := c.Subscribe()
	defer sub.Close()
	for ev := range sub.Events() {
		switch e := ev.(type) {
		case *client.MessageEvent:
			if e.Message.Group != "" {
				fmt.Printf("%s in %q: %s\n", e.Message.From, e.Message.GroupName, e.Message.Text)
			}
		case *client.GroupEvent:
			fmt.Printf("%s changed %q: added %v, removed %v, left %v\n", e.Change.By, e.Change.Name, e.Change.Added, e.Change.Removed, e.Change.Left)
		case *client.UnannouncedDeviceEvent:
			fmt.Println("the server invented a device of", e.Peer, "- nothing was sent to it")
		}
	}
}

// A broadcast list: one text to several people, each as an ordinary 1:1
// message; they learn nothing of the list or of each other.
func ExampleClient_Broadcast() {
	var c *client.Client
	c.SaveBroadcastList("desk", []string{"mnpqrstuvw", "xyz2345678"})
	if _, err := c.Broadcast("desk", "Deadline moved to 6"); err != nil {
		var changed *client.IdentityChangedError
		if errors.As(err, &changed) {
			fmt.Println("not sent to", changed.Peer, "until their new key is verified")
		}
	}
}
