package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
)

func groupJSON(g client.Group, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": g.ID, "name": g.Name}, nil
}

func apiGroupCreate(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return groupJSON(c.CreateGroup(in.Name, in.Members))
}

func apiGroupAdd(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return groupJSON(c.AddMembers(in.ID, in.Members...))
}

func apiGroupRemove(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return groupJSON(c.RemoveMembers(in.ID, in.Members...))
}

func apiGroupRename(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return groupJSON(c.RenameGroup(in.ID, in.Name))
}

func apiGroupAdmin(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if len(in.Members) != 1 {
		return nil, badRequest("Name one member to make or unmake admin.")
	}
	return groupJSON(c.SetGroupAdmin(in.ID, in.Members[0], in.Admin))
}

func apiGroupLeave(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.LeaveGroup(in.ID)
}

// Group invite links (an admin's link, its QR at /api/qr?link=GROUP, the
// requests it brought, and joining with someone else's).

// apiGroupLink makes a new invite link (revoking any earlier one) when
// in.Admin is set, and otherwise answers the current one ("" when this
// device made none).
func apiGroupLink(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Admin {
		link, _, err := c.MakeInviteLink(in.ID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"link": link}, nil
	}
	return map[string]any{"link": currentLink(c, in.ID)}, nil
}

// currentLink is a group's invite link if this device made it, else "".
func currentLink(c *client.Client, id string) string {
	link, err := c.InviteLink(id)
	if err != nil {
		return ""
	}
	return link
}

func apiGroupRevokeLink(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return groupJSON(c.RevokeInviteLink(in.ID))
}

// apiGroupJoin asks the admin named in a pasted link to let the user in.
func apiGroupJoin(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	link := strings.TrimSpace(in.Text)
	if link == "" {
		return nil, badRequest("Paste the invite link (sky:join:…) a group's admin gave you.")
	}
	admin, group, err := c.JoinGroup(link)
	if err != nil {
		return nil, err
	}
	return map[string]any{"admin": admin, "group": group}, nil
}

// apiGroupAnswer approves (in.Admin) or denies one who asked to join.
func apiGroupAnswer(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if len(in.Members) != 1 {
		return nil, badRequest("Name the one person to let in or turn down.")
	}
	return groupJSON(c.AnswerJoin(in.ID, in.Members[0], in.Admin))
}

func apiBroadcastList(s *Server, c *client.Client, _ *http.Request, _ *body) (any, error) {
	ls, err := c.BroadcastLists()
	out := []map[string]any{}
	for _, l := range ls {
		out = append(out, map[string]any{"name": l.Name, "members": l.Members})
	}
	return out, err
}

func apiBroadcastSave(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.SaveBroadcastList(in.Name, in.Members)
}

func apiBroadcastDelete(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.DeleteBroadcastList(in.Name)
}

func apiBroadcastSend(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	ms, err := c.Broadcast(in.Name, in.Text)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"sent": len(ms)}
	if len(ms) > 0 {
		out["msg"] = ms[0].ID // names the broadcast for /api/broadcast/edit and unsend
	}
	return out, nil
}

// apiAccount asks the server about the account (subscription days left).
func apiAccount(s *Server, c *client.Client, r *http.Request, _ *body) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	a, err := c.AccountInfo(ctx)
	if err != nil {
		return nil, err
	}
	days := int(time.Until(a.SubscriptionEnd).Hours() / 24)
	return map[string]any{"id": a.ID, "created": millis(a.Created), "subscriptionEnd": millis(a.SubscriptionEnd), "daysLeft": days,
		"revoked": a.Revoked, "canSend": a.CanSend}, nil
}

func apiSettings(s *Server, c *client.Client, _ *http.Request, _ *body) (any, error) {
	def, err := c.DefaultTimer()
	if err != nil {
		return nil, err
	}
	set, del, err := c.PanicSettings()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	idle := s.idleLock
	s.mu.Unlock()
	return map[string]any{"defaultTimer": int64(def / time.Second), "panicSet": set, "panicDeletesAccount": del,
		"wipeAfter": c.MaxFailedUnlocks(), "idleLock": int64(idle / time.Second), "server": c.Server(),
		"trustRoot": c.TrustRoot().String(), "id": c.ID(), "version": s.opts.Version}, nil
}

func apiDefaultTimer(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	d, err := timerOf(in.Seconds)
	if err != nil {
		return nil, err
	}
	return nil, c.SetDefaultTimer(d)
}

func apiPanic(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Clear {
		return nil, c.ClearPanic()
	}
	if in.Passphrase == "" {
		return nil, badRequest("Type the panic passphrase.")
	}
	p := []byte(in.Passphrase)
	defer clear(p)
	return nil, c.SetPanic(p, in.DeleteAccount)
}

func apiWipeAfter(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.N < 0 || in.N > 1000 {
		return nil, badRequest("Wipe after 0 (never) to 1000 failed unlocks.")
	}
	return nil, c.SetMaxFailedUnlocks(in.N)
}

func apiPassphrase(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Passphrase == "" || in.Next == "" {
		return nil, badRequest("Type the current passphrase and the new one.")
	}
	cur, next := []byte(in.Passphrase), []byte(in.Next)
	defer clear(cur)
	defer clear(next)
	return nil, c.ChangePassphrase(cur, next)
}
