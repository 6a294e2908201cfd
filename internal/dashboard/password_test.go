package dashboard

import (
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	h1, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no fresh salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(h1, "$") != 5 {
		t.Fatalf("not a PHC argon2id string: %s", h1)
	}
	for _, tc := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"right", h1, "correct horse battery", true},
		{"other salt", h2, "correct horse battery", true},
		{"wrong", h1, "correct horse battery!", false},
		{"empty", h1, "", false},
		{"too long", h1, strings.Repeat("x", MaxPassword+1), false},
		{"not phc", "plain", "correct horse battery", false},
		{"argon2i", strings.Replace(h1, "argon2id", "argon2i", 1), "correct horse battery", false},
		{"other version", strings.Replace(h1, "v=19", "v=16", 1), "correct horse battery", false},
		{"huge memory", strings.Replace(h1, "m=19456", "m=99999999", 1), "correct horse battery", false},
		{"zero time", strings.Replace(h1, "t=2", "t=0", 1), "correct horse battery", false},
		{"changed parameters", strings.Replace(h1, "t=2", "t=3", 1), "correct horse battery", false},
		{"bad base64", h1[:strings.LastIndex(h1, "$")+1] + "!!!", "correct horse battery", false},
		{"empty", "", "", false},
	} {
		if got := VerifyPassword(tc.hash, tc.password); got != tc.want {
			t.Errorf("%s: VerifyPassword = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPasswordAndUsernameRules(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"short", false}, {"exactly10!", true}, {strings.Repeat("p", MaxPassword), true}, {strings.Repeat("p", MaxPassword+1), false}} {
		if _, err := HashPassword(tc.password); (err == nil) != tc.ok {
			t.Errorf("HashPassword(%d chars): %v", len(tc.password), err)
		}
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"alice", true}, {"ops.team-1@example", true}, {"", false}, {"with space", false}, {"<b>", false}, {strings.Repeat("a", 65), false}} {
		if err := CheckUsername(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckUsername(%q): %v", tc.name, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newSecret()
	if a == b || len(a) != 43 {
		t.Fatalf("secrets %q %q: want two different 32-byte values", a, b)
	}
	if tokenHash(a) == tokenHash(b) || len(tokenHash(a)) != 64 || tokenHash(a) == a {
		t.Fatal("token hashes")
	}
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{{a, a, true}, {b, a, false}, {"", a, false}, {"", "", false}, {a[:10], a, false}} {
		if sameSecret(tc.got, tc.want) != tc.ok {
			t.Errorf("sameSecret(%q, %q) != %v", tc.got, tc.want, tc.ok)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         Prefix,
		"/dashboard/payments?x=1":  "/dashboard/payments?x=1",
		"https://evil.example/":    Prefix,
		"//evil.example/dashboard": Prefix,
		"/dashboard/\\evil":        Prefix,
		"/metrics":                 Prefix,
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[int]int{0: 4, 3: 4, 5: 8, 9: 20, 21: 40, 41: 80, 81: 200, 1234: 2000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}
