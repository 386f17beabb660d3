package wire

import "testing"

func TestCalls(t *testing.T) {
	var c Calls
	a, b, x := &Request{}, &Request{}, &Request{}
	cha, ok1 := c.Add(a)
	chb, ok2 := c.Add(b)
	_, ok3 := c.Add(x)
	if !ok1 || !ok2 || !ok3 || a.Id != 1 || b.Id != 2 || x.Id != 3 {
		t.Fatalf("IDs %d %d %d (%v %v %v), want 1 2 3", a.Id, b.Id, x.Id, ok1, ok2, ok3)
	}
	c.Cancel(x.Id)
	c.Deliver(&Response{Id: 2})
	c.Deliver(&Response{Id: 2}) // a second answer: dropped
	c.Deliver(&Response{Id: 3}) // cancelled: dropped
	c.Deliver(&Response{Id: 9}) // unsolicited: dropped
	if r := <-chb; r.GetId() != 2 {
		t.Fatalf("request 2 got the answer to %d", r.GetId())
	}
	select {
	case r := <-cha:
		t.Fatalf("request 1 got %v before its answer", r)
	default:
	}
	c.Close()
	if r, ok := <-cha; ok {
		t.Fatalf("request 1 got %v after Close, want its channel closed", r)
	}
	select {
	case r := <-chb:
		t.Fatalf("request 2's channel held a second answer %v", r)
	default:
	}
	if ch, ok := c.Add(&Request{}); ok || ch != nil {
		t.Fatal("Add succeeded after Close")
	}
}
