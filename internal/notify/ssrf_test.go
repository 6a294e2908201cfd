package notify_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/notify"
)

// secret is what the internal service behind loopback answers: it must never come back to the
// merchant, and when a sandbox is allowed to reach it, only an excerpt of it is kept.
var secret = "INTERNAL-SECRET\x00\x1b[31m\u202e" + strings.Repeat("s3cr3t ", 100)

// internalService is an HTTP listener that counts the connections it accepts: the only honest
// measure of whether a notification reached it.
type internalService struct {
	net.Listener
	accepted atomic.Int32
	port     string
}

func (s *internalService) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err == nil {
		s.accepted.Add(1)
	}
	return c, err
}

func listen(t *testing.T, addr string) *internalService {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	s := &internalService{Listener: l}
	_, s.port, _ = net.SplitHostPort(l.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, secret)
	})}
	go srv.Serve(s)
	t.Cleanup(func() { srv.Close() })
	return s
}

// resolver plays a DNS server: names map to fixed answers, or to a sequence of answers, one per
// lookup, the last repeated (a rebinding server).
type resolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newResolver() *resolver {
	return &resolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
}

func (r *resolver) set(name string, answers ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seq [][]netip.Addr
	for _, a := range answers {
		var one []netip.Addr
		for _, f := range strings.Fields(a) {
			one = append(one, netip.MustParseAddr(f))
		}
		seq = append(seq, one)
	}
	r.answers[name] = seq
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	n := r.lookups[host]
	r.lookups[host]++
	return seq[min(n, len(seq)-1)], nil
}

func (r *resolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

// TestSSRFForms: every URL form of the attack of issue 11, and the usual others, is refused by a
// production dispatcher with 0 connections to a real listener on 127.0.0.1 or [::1], and the
// attempt records the policy's refusal and no answer. The sandbox control shows the same
// listeners do accept the loopback forms a sandbox admits, so the count could fail; the forms no
// mode admits (zones, numeric hosts, metadata names, unspecified) stay at 0 there too.
func TestSSRFForms(t *testing.T) {
	v4 := listen(t, "127.0.0.1:0")
	v6 := listen(t, "[::1]:0")
	o := newOutbox(t, "M1") // one for all: a test name with "%" cannot be a SQLite path
	dns := newResolver()
	dns.set("loop4.test", "127.0.0.1")
	dns.set("loop6.test", "::1")
	dns.set("localhost", "127.0.0.1")
	dns.set("mapped.test", "::ffff:127.0.0.1")
	dns.set("zoned.test", "::1%lo")
	dns.set("unspecified.test", "0.0.0.0")
	dns.set("nat64.test", "64:ff9b::7f00:1")
	dns.set("private.test", "10.0.0.1 192.168.1.1")
	// Metadata names resolve to the listener: only the name check keeps the sandbox off them.
	for _, name := range []string{"metadata.google.internal", "metadata", "instance-data", "METADATA.GOOGLE.INTERNAL."} {
		dns.set(name, "127.0.0.1")
	}

	const skip = -1 // not run in the sandbox: no route on a test machine, nothing to show
	for _, tc := range []struct {
		url     string
		target  *internalService
		sandbox int // connections the sandbox makes
	}{
		// The attack: IPv6 zones on loopback and on AWS's IPv6 metadata address.
		{"http://[::1%25x]:{6}/secret", v6, 0},
		{"http://[::1%25lo]:{6}/secret", v6, 0},
		{"http://[::1%251]:{6}/secret", v6, 0},
		{"http://[::1%25eth0]:{6}/secret", v6, 0},
		{"http://[::%25lo]:{6}/secret", v6, 0},
		{"http://[fd00:ec2::254%25x]:{6}/latest/meta-data/", v6, 0},
		{"http://[fe80::1%25lo]:{6}/secret", v6, 0},
		{"http://zoned.test:{6}/secret", v6, 0},

		// Loopback as written plainly, and by names resolving to it.
		{"http://127.0.0.1:{4}/secret", v4, 1},
		{"http://[::1]:{6}/secret", v6, 1},
		{"http://[::ffff:127.0.0.1]:{4}/secret", v4, 1},
		{"http://[::ffff:7f00:1]:{4}/secret", v4, 1},
		{"http://loop4.test:{4}/secret", v4, 1},
		{"http://loop6.test:{6}/secret", v6, 1},
		{"http://mapped.test:{4}/secret", v4, 1},
		{"http://localhost:{4}/secret", v4, 1},

		// Numeric hosts other than canonical dotted quads.
		{"http://2130706433:{4}/secret", v4, 0},
		{"http://0177.0.0.1:{4}/secret", v4, 0},
		{"http://0x7f.1:{4}/secret", v4, 0},
		{"http://0x7f000001:{4}/secret", v4, 0},
		{"http://127.1:{4}/secret", v4, 0},
		{"http://127.0.0.1.:{4}/secret", v4, 0},

		// The unspecified addresses connect to the local host on Linux.
		{"http://0.0.0.0:{4}/secret", v4, 0},
		{"http://[::]:{6}/secret", v6, 0},
		{"http://unspecified.test:{4}/secret", v4, 0},

		// Metadata names, before any lookup.
		{"http://metadata.google.internal:{4}/computeMetadata/v1/", v4, 0},
		{"http://METADATA.GOOGLE.INTERNAL.:{4}/computeMetadata/v1/", v4, 0},
		{"http://metadata:{4}/", v4, 0},
		{"http://instance-data:{4}/latest/", v4, 0},

		// IPv4 carried in IPv6, judged as the IPv4 it carries.
		{"http://[::127.0.0.1]:{4}/secret", v4, skip},
		{"http://[::ffff:0:127.0.0.1]:{4}/secret", v4, skip},
		{"http://[64:ff9b::127.0.0.1]:{4}/secret", v4, skip},
		{"http://nat64.test:{4}/secret", v4, skip},
		{"http://[2002:7f00:1::1]:{4}/secret", v4, skip},
		{"http://[2002:a9fe:a9fe::1]:{4}/secret", v4, skip},
		{"http://[2001:0:5db8:d822::80ff:fffe]:{4}/secret", v4, skip},
		{"http://[2001:0:5db8:d822::5601:5601]:{4}/secret", v4, skip},

		// The rest of what production refuses.
		{"http://[fd12:3456::1]:{6}/secret", v6, skip},
		{"http://private.test:{4}/secret", v4, skip},
		{"http://169.254.169.254:{4}/latest/meta-data/", v4, 0},
		{"http://100.100.100.200:{4}/latest/meta-data/", v4, 0},
		{"http://[fd00:ec2::254]:{6}/latest/meta-data/", v6, 0},
		{"http://224.0.0.1:{4}/secret", v4, 0},
		{"http://[ff02::1]:{6}/secret", v6, 0},
	} {
		u := strings.NewReplacer("{4}", v4.port, "{6}", v6.port).Replace(tc.url)
		t.Run(tc.url, func(t *testing.T) {
			prod := notify.Policy{Resolver: dns}
			if accepted, a := deliverOnce(t, o, prod, u, tc.target); accepted != 0 {
				t.Fatalf("production: %d connections to the listener, attempt %+v", accepted, a)
			} else if !strings.Contains(a.Error, notify.ErrRefused.Error()) || a.HTTPStatus != 0 || a.Response != "" {
				t.Fatalf("production: the attempt should record the policy's refusal and no answer: %+v", a)
			}
			if tc.sandbox == skip {
				return
			}
			sandbox := notify.Policy{AllowPrivate: true, Resolver: dns}
			accepted, a := deliverOnce(t, o, sandbox, u, tc.target)
			if accepted != tc.sandbox {
				t.Fatalf("sandbox: %d connections to the listener, want %d; attempt %+v", accepted, tc.sandbox, a)
			}
			if tc.sandbox == 0 && !strings.Contains(a.Error, notify.ErrRefused.Error()) {
				t.Fatalf("sandbox: the attempt should record the policy's refusal: %+v", a)
			}
			if tc.sandbox == 1 {
				checkExcerpt(t, a.Response)
			}
		})
	}
}

// checkExcerpt: what is kept of the internal service's long answer full of control characters
// is a short, printable excerpt.
func checkExcerpt(t *testing.T, got string) {
	t.Helper()
	if n := utf8.RuneCountInString(got); n > notify.MaxExcerpt || n < notify.MaxExcerpt/2 {
		t.Errorf("excerpt of %d characters: %q", n, got)
	}
	if !utf8.ValidString(got) || strings.ContainsAny(got, "\x00\x1b\u202e") {
		t.Errorf("excerpt not sanitized: %q", got)
	}
	if !strings.HasPrefix(got, "INTERNAL-SECRET[31m") {
		t.Errorf("excerpt lost the start of the answer: %q", got)
	}
}

// deliverOnce makes one attempt to u with a fresh dispatcher (no connection kept from an earlier
// attempt) and returns the connections the target accepted meanwhile and the attempt as logged.
func deliverOnce(t *testing.T, o *outbox, p notify.Policy, u string, target *internalService) (int, notify.Attempt) {
	t.Helper()
	id := o.add("M1", u)
	d := notify.New(o.store, testKey(t), clock.NewFixed(t0), quietLog(), notify.Config{Timeout: 2 * time.Second, Policy: p})
	before := target.accepted.Load()
	if err := d.DeliverDue(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	log := o.attempts(id)
	if len(log) != 1 {
		t.Fatalf("%d attempts logged", len(log))
	}
	return int(target.accepted.Load() - before), log[0]
}

// TestPolicyRebinding: a name whose answer changes between lookups cannot slip an internal
// address past the policy. Each connection goes to an address that was judged: a name first
// answering an admitted address (127.0.0.2, opened by --notify-allow) and then loopback gets one
// connection to 127.0.0.2 and none to 127.0.0.1, with one lookup per attempt, and the next
// attempt, answered loopback, is refused; an answer mixing both is dialled only at the admitted
// one.
func TestPolicyRebinding(t *testing.T) {
	admitted := listen(t, "127.0.0.2:0")
	port := admitted.port
	inside, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Skipf("127.0.0.1:%s is taken: %v", port, err)
	}
	inside.Close()
	internal := listen(t, "127.0.0.1:"+port)

	o := newOutbox(t, "M1")
	dns := newResolver()
	dns.set("rebind.test", "127.0.0.2", "127.0.0.1")
	dns.set("mixed.test", "127.0.0.1 127.0.0.2")
	p := notify.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Resolver: dns}
	u := fmt.Sprintf("http://rebind.test:%s/secret", port)

	before := internal.accepted.Load()
	if n, a := deliverOnce(t, o, p, u, admitted); n != 1 || a.HTTPStatus != 200 {
		t.Fatalf("first answer 127.0.0.2: %d connections to it, attempt %+v", n, a)
	}
	if got := dns.count("rebind.test"); got != 1 {
		t.Fatalf("%d lookups for one attempt: the dial looked the name up again", got)
	}
	if n, a := deliverOnce(t, o, p, u, admitted); n != 0 || !strings.Contains(a.Error, "loopback") || a.Response != "" {
		t.Fatalf("rebound to 127.0.0.1: %d connections to 127.0.0.2, attempt %+v", n, a)
	}
	if n, a := deliverOnce(t, o, p, fmt.Sprintf("http://mixed.test:%s/secret", port), admitted); n != 1 || a.HTTPStatus != 200 {
		t.Fatalf("mixed answer: %d connections to 127.0.0.2, attempt %+v", n, a)
	}
	if n := internal.accepted.Load() - before; n != 0 {
		t.Fatalf("%d connections reached 127.0.0.1", n)
	}

	// The control: the same listener on 127.0.0.1 does accept when the policy admits loopback.
	if n, _ := deliverOnce(t, o, notify.Policy{AllowPrivate: true, Resolver: dns}, u, internal); n != 1 {
		t.Fatalf("sandbox: %d connections to 127.0.0.1, want 1", n)
	}
}
