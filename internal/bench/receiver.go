package bench

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardgate/cardgate/client"
)

// Receiver is a merchant's notification endpoint: it verifies the gateway's signature on every
// notification, counts it by type, and acknowledges it. A notification that does not verify is
// counted as invalid and answered 401, so the gateway retries it as it would for a real merchant.
type Receiver struct {
	gateway *rsa.PublicKey
	srv     *http.Server
	url     string

	valid, invalid atomic.Int64
	mu             sync.Mutex
	byType         map[string]int64
}

// StartReceiver listens on a free loopback port.
func StartReceiver(gateway *rsa.PublicKey) (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("notification receiver: %w", err)
	}
	r := &Receiver{gateway: gateway, url: "http://" + ln.Addr().String() + "/notify", byType: map[string]int64{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.invalid.Add(1) // the gateway will see refused connections: surface it in the counts
		}
	}()
	return r, nil
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := client.VerifyNotification(r.gateway, req)
	if err != nil {
		r.invalid.Add(1)
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	var n struct {
		NotifyType string `json:"notifyType"`
	}
	_ = json.Unmarshal(body, &n) // a body without notifyType still counts, as "(none)"
	if n.NotifyType == "" {
		n.NotifyType = "(none)"
	}
	r.mu.Lock()
	r.byType[n.NotifyType]++
	r.mu.Unlock()
	r.valid.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(client.Acknowledgement))
}

// URL is the paymentNotifyUrl / refundNotifyUrl to give the gateway.
func (r *Receiver) URL() string { return r.url }

// Valid is the number of notifications received whose signature verified.
func (r *Receiver) Valid() int64 { return r.valid.Load() }

// Invalid is the number received whose signature did not verify.
func (r *Receiver) Invalid() int64 { return r.invalid.Load() }

// ByType counts the verified notifications by notifyType.
func (r *Receiver) ByType() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.byType))
	for k, v := range r.byType {
		out[k] = v
	}
	return out
}

// WaitFor waits until want notifications arrived, or until none arrived for quiet, whichever
// comes first; delivery is asynchronous (an outbox), so the last ones trail the load.
func (r *Receiver) WaitFor(want int64, quiet time.Duration) {
	last, lastChange := r.Valid(), time.Now()
	for r.Valid() < want && time.Since(lastChange) < quiet {
		time.Sleep(20 * time.Millisecond)
		if v := r.Valid(); v != last {
			last, lastChange = v, time.Now()
		}
	}
}

// WaitUntil waits until want notifications arrived or limit passed, whichever comes first.
func (r *Receiver) WaitUntil(want int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for r.Valid() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Reset forgets what was counted so far (the warm-up's notifications are not the measurement's).
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.valid.Store(0)
	r.invalid.Store(0)
	clear(r.byType)
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }
