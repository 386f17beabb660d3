package testenv

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		env  map[string]string
		name string
		want bool
	}{
		{map[string]string{}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_POSTGRES": "1"}, "postgres", true},
		{map[string]string{"SKY_REQUIRE_POSTGRES": "0"}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_NATS": "1"}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_ALL": "1"}, "interop", true},
	}
	for _, tc := range tests {
		t.Setenv("SKY_REQUIRE_POSTGRES", "")
		t.Setenv("SKY_REQUIRE_NATS", "")
		t.Setenv("SKY_REQUIRE_ALL", "")
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		if got := Required(tc.name); got != tc.want {
			t.Errorf("Required(%q) with %v = %v, want %v", tc.name, tc.env, got, tc.want)
		}
	}
}
