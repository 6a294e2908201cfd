package notify

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestPolicyCheck: production refuses loopback, private, carrier-grade NAT, unique-local,
// documentation and benchmarking ranges and IPv6 outside 2000::/3; every mode refuses zoned
// addresses, link-local, metadata, unspecified, multicast and reserved addresses; IPv4 carried in
// IPv6 (mapped, compatible, SIIT, NAT64, 6to4, Teredo) is judged as that IPv4; the sandbox admits
// loopback and private ranges; a --notify-allow range opens exactly that range and never what no
// mode admits.
func TestPolicyCheck(t *testing.T) {
	production := Policy{}
	sandbox := Policy{AllowPrivate: true}
	allow10 := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	allowLoop := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	allowMeta := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}
	allowAll := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	allowULA := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("fd00::/8")}}

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
		{"production CGNAT", production, "100.64.0.1", false, "carrier-grade NAT"},
		{"production IETF protocol assignments", production, "192.0.0.8", false, "IETF"},
		{"production unique local", production, "fc00::1", false, "private"},
		{"production unique local fd", production, "fd12:3456::1", false, "private"},
		{"production documentation v4", production, "192.0.2.1", false, "documentation"},
		{"production documentation 198.51.100", production, "198.51.100.7", false, "documentation"},
		{"production documentation 203.0.113", production, "203.0.113.9", false, "documentation"},
		{"production documentation v6", production, "2001:db8::1", false, "documentation"},
		{"production documentation 3fff::/20", production, "3fff::1", false, "documentation"},
		{"production benchmarking v4", production, "198.18.0.1", false, "benchmarking"},
		{"production benchmarking v6", production, "2001:2::1", false, "benchmarking"},
		{"production discard-only v6", production, "100::1", false, "global unicast"},
		{"production site-local v6", production, "fec0::1", false, "global unicast"},
		{"production metadata", production, "169.254.169.254", false, "metadata"},
		{"production link-local", production, "169.254.1.1", false, "link-local"},
		{"production link-local v6", production, "fe80::1", false, "link-local"},
		{"production unspecified", production, "0.0.0.0", false, "unspecified"},
		{"production this network 0/8", production, "0.1.2.3", false, "unspecified"},
		{"production unspecified v6", production, "::", false, "unspecified"},
		{"production multicast", production, "224.0.0.1", false, "multicast"},
		{"production multicast v6", production, "ff02::1", false, "multicast"},
		{"production reserved 240/4", production, "240.0.0.1", false, "reserved"},
		{"production broadcast", production, "255.255.255.255", false, "reserved"},

		// The zone forms of the attack: netip.Prefix.Contains is false for all of them.
		{"zoned loopback", production, "::1%x", false, "zone"},
		{"zoned loopback lo", production, "::1%lo", false, "zone"},
		{"zoned loopback index", production, "::1%1", false, "zone"},
		{"zoned loopback eth0", production, "::1%eth0", false, "zone"},
		{"zoned unspecified", production, "::%lo", false, "zone"},
		{"zoned AWS metadata", production, "fd00:ec2::254%x", false, "zone"},
		{"zoned link-local", production, "fe80::1%eth0", false, "zone"},
		{"zoned public", production, "2606:2800:220:1::1%eth0", false, "zone"},
		{"sandbox zoned loopback", sandbox, "::1%lo", false, "zone"},
		{"allow ::/0 zoned loopback", allowAll, "::1%lo", false, "zone"},

		// Cloud metadata services outside link-local.
		{"Alibaba metadata", production, "100.100.100.200", false, "metadata"},
		{"Azure wire server", production, "168.63.129.16", false, "metadata"},
		{"Oracle metadata", production, "192.0.0.192", false, "metadata"},
		{"AWS metadata v6", production, "fd00:ec2::254", false, "metadata"},
		{"GCP metadata v6", production, "fd20:ce::254", false, "metadata"},
		{"sandbox Alibaba metadata", sandbox, "100.100.100.200", false, "metadata"},
		{"sandbox Azure wire server", sandbox, "168.63.129.16", false, "metadata"},
		{"sandbox AWS metadata v6", sandbox, "fd00:ec2::254", false, "metadata"},
		{"sandbox GCP metadata v6", sandbox, "fd20:ce::254", false, "metadata"},
		{"sandbox Oracle metadata", sandbox, "192.0.0.192", false, "metadata"},

		// IPv4 carried in IPv6 is judged as that IPv4.
		{"mapped loopback", production, "::ffff:127.0.0.1", false, "loopback"},
		{"mapped private", production, "::ffff:10.1.2.3", false, "private"},
		{"mapped metadata", production, "::ffff:169.254.169.254", false, "metadata"},
		{"mapped unspecified", production, "::ffff:0.0.0.0", false, "unspecified"},
		{"mapped public", production, "::ffff:93.184.216.34", true, ""},
		{"compatible loopback", production, "::127.0.0.1", false, "loopback"},
		{"compatible private", production, "::10.0.0.1", false, "private"},
		{"compatible metadata", sandbox, "::169.254.169.254", false, "metadata"},
		{"compatible low", sandbox, "::0.0.1.2", false, "unspecified"},
		{"SIIT loopback", production, "::ffff:0:127.0.0.1", false, "loopback"},
		{"SIIT metadata", sandbox, "::ffff:0:169.254.169.254", false, "metadata"},
		{"NAT64 loopback", production, "64:ff9b::127.0.0.1", false, "loopback"},
		{"NAT64 private", production, "64:ff9b::192.168.0.1", false, "private"},
		{"NAT64 metadata", sandbox, "64:ff9b::a9fe:a9fe", false, "metadata"},
		{"NAT64 public (DNS64)", production, "64:ff9b::93.184.216.34", true, ""},
		{"local-use NAT64", sandbox, "64:ff9b:1::93.184.216.34", false, "local-use NAT64"},
		{"6to4 loopback", production, "2002:7f00:1::1", false, "loopback"},
		{"6to4 private", production, "2002:c0a8:101::1", false, "private"},
		{"6to4 metadata", sandbox, "2002:a9fe:a9fe::1", false, "metadata"},
		{"6to4 public", production, "2002:5db8:d822::1", true, ""},
		{"Teredo client loopback", production, "2001:0:5db8:d822::80ff:fffe", false, "loopback"},
		{"Teredo client private", production, "2001:0:5db8:d822::f5ff:fffe", false, "private"},
		{"Teredo client metadata", sandbox, "2001:0:5db8:d822::5601:5601", false, "metadata"},
		{"Teredo server private", production, "2001:0:a00:1::a247:2bdd", false, "private"},
		{"Teredo public", production, "2001:0:5db8:d822::a247:2bdd", true, ""},

		{"production public v4", production, "93.184.216.34", true, ""},
		{"production public v6", production, "2606:2800:220:1::1", true, ""},
		{"production 172.32 is public", production, "172.32.0.1", true, ""},
		{"production 100.128 is public", production, "100.128.0.1", true, ""},
		{"production 169.255 is public", production, "169.255.0.1", true, ""},

		{"sandbox loopback", sandbox, "127.0.0.1", true, ""},
		{"sandbox loopback v6", sandbox, "::1", true, ""},
		{"sandbox mapped loopback", sandbox, "::ffff:127.0.0.1", true, ""},
		{"sandbox private", sandbox, "192.168.1.1", true, ""},
		{"sandbox 10/8", sandbox, "10.0.0.1", true, ""},
		{"sandbox unique local", sandbox, "fd12::1", true, ""},
		{"sandbox public", sandbox, "93.184.216.34", true, ""},
		{"sandbox metadata still refused", sandbox, "169.254.169.254", false, "metadata"},
		{"sandbox link-local v6 still refused", sandbox, "fe80::1", false, "link-local"},
		{"sandbox unspecified still refused", sandbox, "0.0.0.0", false, "unspecified"},
		{"sandbox unspecified v6 still refused", sandbox, "::", false, "unspecified"},
		{"sandbox multicast still refused", sandbox, "224.0.0.1", false, "multicast"},
		{"sandbox reserved still refused", sandbox, "240.0.0.1", false, "reserved"},

		{"allow 10/8 opens 10.0.0.1", allow10, "10.0.0.1", true, ""},
		{"allow 10/8 opens 10.255.1.1", allow10, "10.255.1.1", true, ""},
		{"allow 10/8 opens NAT64 of 10.0.0.1", allow10, "64:ff9b::10.0.0.1", true, ""},
		{"allow 10/8 keeps 192.168 closed", allow10, "192.168.1.1", false, "private"},
		{"allow 10/8 keeps loopback closed", allow10, "127.0.0.1", false, "loopback"},
		{"allow 127/8 opens loopback", allowLoop, "127.0.0.1", true, ""},
		{"allow 127/8 opens mapped loopback", allowLoop, "::ffff:127.0.0.1", true, ""},
		{"allow 127/8 keeps ::1 closed", allowLoop, "::1", false, "loopback"},
		{"an explicit allow never opens the metadata address", allowMeta, "169.254.169.254", false, "metadata"},
		{"allow everything keeps metadata closed", allowAll, "169.254.169.254", false, "metadata"},
		{"allow everything keeps link-local closed", allowAll, "169.254.7.7", false, "link-local"},
		{"allow everything keeps link-local v6 closed", allowAll, "fe80::1", false, "link-local"},
		{"allow everything keeps Alibaba metadata closed", allowAll, "100.100.100.200", false, "metadata"},
		{"allow everything keeps Azure wire server closed", allowAll, "168.63.129.16", false, "metadata"},
		{"allow everything keeps mapped metadata closed", allowAll, "::ffff:169.254.169.254", false, "metadata"},
		{"allow everything keeps 6to4 metadata closed", allowAll, "2002:a9fe:a9fe::1", false, "metadata"},
		{"allow everything keeps unspecified closed", allowAll, "0.0.0.0", false, "unspecified"},
		{"allow everything keeps multicast closed", allowAll, "ff02::1", false, "multicast"},
		{"allow everything opens loopback", allowAll, "127.0.0.1", true, ""},
		{"allow fd00::/8 keeps AWS metadata v6 closed", allowULA, "fd00:ec2::254", false, "metadata"},
		{"allow fd00::/8 opens the rest of it", allowULA, "fd00:ec2::253", true, ""},
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
				if !errors.Is(err, ErrRefused) {
					t.Errorf("Check(%s) = %v, not an ErrRefused", tc.addr, err)
				}
				if !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("Check(%s) = %q, want it to say %q", tc.addr, err, tc.reason)
				}
			}
		})
	}
}

// TestCheckHost: before any lookup, metadata names, zoned hosts and numeric hosts other than
// canonical dotted quads are refused in every mode; ordinary names and canonical addresses pass
// on to the address checks.
func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		host   string
		ok     bool
		reason string
	}{
		{"merchant.example", true, ""},
		{"MERCHANT.example.", true, ""},
		{"localhost", true, ""}, // a name: judged by what it resolves to
		{"1password.com", true, ""},
		{"0x.example", true, ""},
		{"93.184.216.34", true, ""},
		{"127.0.0.1", true, ""}, // the mode decides
		{"::1", true, ""},
		{"2606:2800:220:1::1", true, ""},

		{"2130706433", false, "numeric"},
		{"0177.0.0.1", false, "numeric"},
		{"0x7f.1", false, "numeric"},
		{"0x7f000001", false, "numeric"},
		{"0X7F.0.0.1", false, "numeric"},
		{"127.1", false, "numeric"},
		{"127.0.1", false, "numeric"},
		{"127.000.000.001", false, "numeric"},
		{"127.0.0.1.", false, "numeric"},
		{"1.2.3.4.5", false, "numeric"},
		{"017700000001", false, "numeric"},
		{"example.0x1", false, "numeric"},

		{"::1%x", false, "zone"},
		{"::1%lo", false, "zone"},
		{"::%lo", false, "zone"},
		{"fd00:ec2::254%x", false, "zone"},
		{"fe80::1%eth0", false, "zone"},

		{"metadata", false, "metadata"},
		{"metadata.google.internal", false, "metadata"},
		{"METADATA.google.internal.", false, "metadata"},
		{"metadata.goog", false, "metadata"},
		{"instance-data", false, "metadata"},
		{"instance-data.ec2.internal", false, "metadata"},
		{"metadata.tencentyun.com", false, "metadata"},

		{"169.254.169.254", false, "metadata"},
		{"fd00:ec2::254", false, "metadata"},
		{"0.0.0.0", false, "unspecified"},
		{"::", false, "unspecified"},
		{"224.0.0.1", false, "multicast"},
		{"::ffff:169.254.169.254", false, "metadata"},
		{"a:b:c", false, "IPv6"},
		{"", false, "empty"},
		{"a\\b", false, "backslash"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			err := CheckHost(tc.host)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckHost(%q) = %v, want ok=%v", tc.host, err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.reason)) {
				t.Errorf("CheckHost(%q) = %q, want an ErrRefused saying %q", tc.host, err, tc.reason)
			}
		})
	}
}

// TestCheckURL: the pay-time check of a notify URL.
func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		ok     bool
		reason string
	}{
		{"https://merchant.example/notify", true, ""},
		{"https://merchant.example:8443/notify?x=1", true, ""},
		{"http://127.0.0.1:9000/n", true, ""},
		{"http://[::1]:9000/n", true, ""},
		{"http://[::1%25x]:27992/secret", false, "zone"},
		{"http://[::1%25lo]:27992/secret", false, "zone"},
		{"http://[::1%251]:27992/secret", false, "zone"},
		{"http://[::1%25eth0]:27992/secret", false, "zone"},
		{"http://[::%25lo]:27992/secret", false, "zone"},
		{"http://[fd00:ec2::254%25x]/latest/meta-data/", false, "zone"},
		{"http://merchant.example@10.0.0.1/n", false, "user information"},
		{"http://user:pass@merchant.example/n", false, "user information"},
		{"http://merchant.example\\@10.0.0.1/n", false, "backslash"},
		{"https://merchant.example/a\\b", false, "backslash"},
		{"http://2130706433/n", false, "numeric"},
		{"http://0177.0.0.1/n", false, "numeric"},
		{"http://0x7f.1/n", false, "numeric"},
		{"http://127.1/n", false, "numeric"},
		{"http://metadata.google.internal/computeMetadata/v1/", false, "metadata"},
		{"http://169.254.169.254/latest/meta-data/", false, "metadata"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := CheckURL(tc.url)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("CheckURL(%q) = %q, want it to say %q", tc.url, err, tc.reason)
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
		"[::1%lo]:443":            false,
		"[fd00:ec2::254%x]:80":    false,
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

// TestAcknowledged: only HTTP 200 whose body says SUCCESS / S counts (docs/wire.md §7.3).
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
