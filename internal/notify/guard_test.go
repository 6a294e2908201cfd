package notify

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestPolicyCheck: production refuses loopback, private, carrier-grade NAT, unique-local,
// link-local (the metadata address), unspecified and multicast addresses, also when written as
// IPv4-mapped IPv6; the sandbox admits loopback and private ranges but never link-local; an
// --notify-allow range opens exactly that range.
func TestPolicyCheck(t *testing.T) {
	production := Policy{}
	sandbox := Policy{AllowPrivate: true}
	allow10 := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	allowLoop := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	allowMeta := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}

	for _, tc := range []struct {
		name   string
		policy Policy
		addr   string
		ok     bool
		reason string // a word the refusal must contain
	}{
		{"production loopback v4", production, "127.0.0.1", false, "loopback"},
		{"production loopback 127/8", production, "127.10.0.7", false, "loopback"},
		{"production loopback v6", production, "::1", false, "loopback"},
		{"production 10/8", production, "10.0.0.1", false, "private"},
		{"production 172.16/12", production, "172.16.5.4", false, "private"},
		{"production 172.31 edge", production, "172.31.255.255", false, "private"},
		{"production 192.168/16", production, "192.168.1.1", false, "private"},
		{"production CGNAT", production, "100.64.0.1", false, "private"},
		{"production unique local", production, "fc00::1", false, "private"},
		{"production metadata", production, "169.254.169.254", false, "link-local"},
		{"production link-local v6", production, "fe80::1", false, "link-local"},
		{"production unspecified", production, "0.0.0.0", false, "unspecified"},
		{"production unspecified v6", production, "::", false, "unspecified"},
		{"production multicast", production, "224.0.0.1", false, "multicast"},
		{"production multicast v6", production, "ff02::1", false, "multicast"},
		{"production broadcast", production, "255.255.255.255", false, ""},
		{"production mapped loopback", production, "::ffff:127.0.0.1", false, "loopback"},
		{"production mapped private", production, "::ffff:10.1.2.3", false, "private"},
		{"production mapped metadata", production, "::ffff:169.254.169.254", false, "link-local"},
		{"production public v4", production, "93.184.216.34", true, ""},
		{"production public v6", production, "2606:2800:220:1::1", true, ""},
		{"production 172.32 is public", production, "172.32.0.1", true, ""},
		{"production 100.128 is public", production, "100.128.0.1", true, ""},

		{"sandbox loopback", sandbox, "127.0.0.1", true, ""},
		{"sandbox loopback v6", sandbox, "::1", true, ""},
		{"sandbox private", sandbox, "192.168.1.1", true, ""},
		{"sandbox 10/8", sandbox, "10.0.0.1", true, ""},
		{"sandbox public", sandbox, "93.184.216.34", true, ""},
		{"sandbox metadata still refused", sandbox, "169.254.169.254", false, "link-local"},
		{"sandbox link-local v6 still refused", sandbox, "fe80::1", false, "link-local"},
		{"sandbox unspecified still refused", sandbox, "0.0.0.0", false, "unspecified"},
		{"sandbox multicast still refused", sandbox, "224.0.0.1", false, "multicast"},

		{"allow 10/8 opens 10.0.0.1", allow10, "10.0.0.1", true, ""},
		{"allow 10/8 opens 10.255.1.1", allow10, "10.255.1.1", true, ""},
		{"allow 10/8 keeps 192.168 closed", allow10, "192.168.1.1", false, "private"},
		{"allow 10/8 keeps loopback closed", allow10, "127.0.0.1", false, "loopback"},
		{"allow 127/8 opens loopback", allowLoop, "127.0.0.1", true, ""},
		{"allow 127/8 opens mapped loopback", allowLoop, "::ffff:127.0.0.1", true, ""},
		{"allow 127/8 keeps ::1 closed", allowLoop, "::1", false, "loopback"},
		{"an explicit allow opens even the metadata address", allowMeta, "169.254.169.254", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(netip.MustParseAddr(tc.addr))
			if tc.ok && err != nil {
				t.Fatalf("Check(%s) refused: %v", tc.addr, err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatalf("Check(%s) admitted", tc.addr)
				}
				if !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("Check(%s) = %q, want it to say %q", tc.addr, err, tc.reason)
				}
			}
		})
	}
}

// TestPolicyControl: the dialer hook parses the dialled "host:port" and applies the policy, so a
// name that resolved to an internal address is refused at connect time.
func TestPolicyControl(t *testing.T) {
	p := Policy{}
	for addr, ok := range map[string]bool{
		"127.0.0.1:80":            false,
		"[::1]:443":               false,
		"169.254.169.254:80":      false,
		"93.184.216.34:443":       true,
		"[2606:2800:220:1::1]:80": true,
		"not-an-address":          false,
	} {
		if err := p.control("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("control(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// TestAcknowledged: only HTTP 200 whose body says SUCCESS / S counts (antom-wire §7.3).
func TestAcknowledged(t *testing.T) {
	const ack = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"seed acknowledgement", 200, ack, true},
		{"minimal acknowledgement", 200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`, true},
		{"with extra fields", 200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"},"x":1}`, true},
		{"Java sample's F after a bad signature", 200, `{"result":{"resultCode":"ERROR","resultStatus":"F","resultMessage":"bad sign"}}`, false},
		{"SUCCESS with F", 200, `{"result":{"resultCode":"SUCCESS","resultStatus":"F"}}`, false},
		{"S with another code", 200, `{"result":{"resultCode":"OK","resultStatus":"S"}}`, false},
		{"lowercase", 200, `{"result":{"resultCode":"success","resultStatus":"s"}}`, false},
		{"no result", 200, `{}`, false},
		{"HTTP 500 with the ack body", 500, ack, false},
		{"HTTP 201 with the ack body", 201, ack, false},
		{"HTTP 204", 204, ``, false},
		{"redirect", 302, ack, false},
		{"non-JSON", 200, `OK`, false},
		{"HTML", 200, `<html>success</html>`, false},
		{"empty", 200, ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := acknowledged(tc.status, []byte(tc.body))
			if ok != tc.ok {
				t.Fatalf("acknowledged(%d, %q) = %v (%s), want %v", tc.status, tc.body, ok, why, tc.ok)
			}
			if !ok && why == "" {
				t.Errorf("a refusal without a reason")
			}
			if ok && why != "" {
				t.Errorf("an acknowledgement with an error %q", why)
			}
		})
	}
	if _, why := acknowledged(http.StatusInternalServerError, nil); !strings.Contains(why, "500") {
		t.Errorf("the error of an HTTP 500 should name the status: %q", why)
	}
}
