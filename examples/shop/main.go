// Command shop is an example merchant app on cardgate's client package: a one-product web shop
// that takes the card on the gateway's hosted page, learns the result from the signed
// notification (and from inquiry when the buyer comes back first), captures when the order
// ships and refunds on request. It keeps its orders in memory; it is an example, not a shop.
//
//	go run ./examples/shop --gateway http://127.0.0.1:8080 --credentials creds.json
//
// where creds.json is what `cardgate init --json` prints.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run() error {
	gateway := flag.String("gateway", "http://127.0.0.1:8080", "the cardgate (or Antom) base URL")
	credsFile := flag.String("credentials", "", "JSON with clientId, merchantPrivateKey, gatewayPublicKey (cardgate init --json)")
	addr := flag.String("addr", "127.0.0.1:3000", "where the shop listens")
	public := flag.String("public-url", "", "the shop's URL as the gateway and buyers reach it (default http://ADDR)")
	flag.Parse()
	raw, err := os.ReadFile(*credsFile)
	if err != nil {
		return fmt.Errorf("--credentials: %w", err)
	}
	var creds struct{ ClientID, MerchantPrivateKey, GatewayPublicKey string }
	if err := json.Unmarshal(raw, &creds); err != nil {
		return fmt.Errorf("--credentials: %w", err)
	}
	c, err := client.New(client.Config{BaseURL: *gateway, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey, GatewayPublicKey: creds.GatewayPublicKey})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := strings.TrimRight(*public, "/")
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	s := &shop{gw: c, base: base, orders: map[string]*order{}, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	fmt.Printf("shop listening on %s\n", base)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// order is one purchase, as the shop knows it.
type order struct {
	ID, PaymentRequestID, PaymentID string
	Amount                          int64  // SGD cents
	Status                          string // NEW, PAID, FAILED, SHIPPED (captured), REFUNDED
	Note                            string
	Created                         time.Time
}

type shop struct {
	gw     *client.Client
	base   string
	mu     sync.Mutex
	orders map[string]*order
	seq    int
	log    *slog.Logger
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /buy", s.buy)
	mux.HandleFunc("GET /return", s.back)
	mux.HandleFunc("POST /notify", s.notify)
	mux.HandleFunc("POST /orders/{id}/ship", s.ship)
	mux.HandleFunc("POST /orders/{id}/refund", s.refund)
	mux.HandleFunc("GET /orders.json", s.ordersJSON)
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Example shop</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem;padding:0 1rem}td,th{padding:.3rem .6rem;text-align:left}
button{font:inherit;padding:.4rem .9rem}</style></head><body>
<h1>A cup of tea, 42.00 SGD</h1>
<form method="post" action="/buy"><button>Buy</button></form>
{{with .Message}}<p><strong>{{.}}</strong></p>{{end}}
<h2>Orders</h2><table><tr><th>order</th><th>status</th><th></th></tr>
{{range .Orders}}<tr><td>{{.ID}}</td><td>{{.Status}} {{.Note}}</td><td>
{{if eq .Status "PAID"}}<form method="post" action="/orders/{{.ID}}/ship"><button>Ship (capture)</button></form>{{end}}
{{if eq .Status "SHIPPED"}}<form method="post" action="/orders/{{.ID}}/refund"><button>Refund</button></form>{{end}}
</td></tr>{{end}}</table></body></html>`))

func (s *shop) list() []order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]order, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	_ = page.Execute(w, map[string]any{"Orders": s.list(), "Message": r.URL.Query().Get("msg")})
}

// buy creates the order and sends the buyer to the gateway's card page: pay without card data,
// the authorization only (captured when the order ships).
func (s *shop) buy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	o := &order{ID: fmt.Sprintf("order-%d", s.seq), Amount: 4200, Status: "NEW", Created: time.Now()}
	o.PaymentRequestID = fmt.Sprintf("shop-%d-%s", time.Now().UnixNano(), o.ID)
	s.orders[o.ID] = o
	s.mu.Unlock()
	resp, err := s.gw.Pay(r.Context(), &protocol.PayRequest{
		ProductCode: "CASHIER_PAYMENT", PaymentRequestID: o.PaymentRequestID,
		PaymentAmount:      &protocol.Amount{Currency: "SGD", Value: fmt.Sprint(o.Amount)},
		PaymentMethod:      &protocol.PaymentMethod{PaymentMethodType: "CARD"},
		PaymentRedirectURL: s.base + "/return?order=" + o.ID,
		PaymentNotifyURL:   s.base + "/notify",
		PaymentFactor:      &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: "MANUAL"},
		Order: &protocol.Order{ReferenceOrderID: o.ID, OrderDescription: "A cup of tea",
			OrderAmount: &protocol.Amount{Currency: "SGD", Value: fmt.Sprint(o.Amount)}, Buyer: &protocol.Buyer{ReferenceBuyerID: "guest"}},
		Env: &protocol.Env{TerminalType: "WEB", ClientIP: clientIP(r)},
	})
	if err != nil {
		http.Error(w, "the payment service is unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	s.update(o.ID, func(o *order) { o.PaymentID = resp.PaymentID })
	if resp.NormalURL == "" {
		s.settle(o.ID, resp.Result.ResultStatus, resp.Result.ResultCode)
		http.Redirect(w, r, "/?msg="+resp.Result.ResultMessage, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, resp.NormalURL, http.StatusSeeOther)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// back is where the buyer returns: the notification may not be in yet, so the shop asks.
func (s *shop) back(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("order")
	o, ok := s.get(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if o.Status == "NEW" {
		inq, err := s.gw.InquiryPayment(r.Context(), &protocol.InquiryPaymentRequest{PaymentRequestID: o.PaymentRequestID})
		if err == nil && inq.Result.ResultStatus == "S" {
			switch inq.PaymentStatus {
			case "SUCCESS":
				s.settle(id, "S", "SUCCESS")
			case "FAIL":
				s.settle(id, "F", inq.PaymentResultCode)
			}
		}
	}
	o, _ = s.get(id)
	http.Redirect(w, r, "/?msg="+o.ID+" is "+o.Status, http.StatusSeeOther)
}

// notify takes the gateway's signed notifications: only a verified one changes an order.
func (s *shop) notify(w http.ResponseWriter, r *http.Request) {
	body, err := s.gw.VerifyNotification(r)
	if err != nil {
		s.log.Warn("notification refused", "err", err)
		http.Error(w, "signature", http.StatusUnauthorized)
		return
	}
	var n struct {
		NotifyType       string          `json:"notifyType"`
		Result           protocol.Result `json:"result"`
		PaymentRequestID string          `json:"paymentRequestId"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(w, "body", http.StatusBadRequest)
		return
	}
	if n.NotifyType == protocol.NotifyTypePaymentResult {
		if o, ok := s.byRequestID(n.PaymentRequestID); ok {
			s.settle(o.ID, n.Result.ResultStatus, n.Result.ResultCode)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(client.Acknowledgement))
}

func (s *shop) ship(w http.ResponseWriter, r *http.Request) {
	o, ok := s.get(r.PathValue("id"))
	if !ok || o.Status != "PAID" {
		http.Error(w, "only a paid order ships", http.StatusConflict)
		return
	}
	resp, err := s.gw.Capture(r.Context(), &protocol.CaptureRequest{CaptureRequestID: "cap-" + o.PaymentRequestID, PaymentID: o.PaymentID,
		CaptureAmount: &protocol.Amount{Currency: "SGD", Value: fmt.Sprint(o.Amount)}})
	s.after(w, r, o.ID, "capture", err, func() (string, string) { return resp.Result.ResultStatus, resp.Result.ResultMessage }, "SHIPPED")
}

func (s *shop) refund(w http.ResponseWriter, r *http.Request) {
	o, ok := s.get(r.PathValue("id"))
	if !ok || o.Status != "SHIPPED" {
		http.Error(w, "only a shipped order is refunded", http.StatusConflict)
		return
	}
	resp, err := s.gw.Refund(r.Context(), &protocol.RefundRequest{RefundRequestID: "ref-" + o.PaymentRequestID, PaymentID: o.PaymentID,
		RefundAmount: &protocol.Amount{Currency: "SGD", Value: fmt.Sprint(o.Amount)}, RefundReason: "the buyer asked"})
	s.after(w, r, o.ID, "refund", err, func() (string, string) { return resp.Result.ResultStatus, resp.Result.ResultMessage }, "REFUNDED")
}

// after records a capture's or refund's answer: S moves the order on; U leaves it for the
// notification; F is shown.
func (s *shop) after(w http.ResponseWriter, r *http.Request, id, what string, err error, result func() (string, string), next string) {
	if err != nil {
		http.Error(w, what+": "+err.Error(), http.StatusBadGateway)
		return
	}
	status, msg := result()
	switch status {
	case "S":
		s.update(id, func(o *order) { o.Status, o.Note = next, "" })
	default:
		s.update(id, func(o *order) { o.Note = what + " " + status + ": " + msg })
	}
	http.Redirect(w, r, "/?msg="+id+" "+what+" "+status, http.StatusSeeOther)
}

func (s *shop) settle(id, status, code string) {
	s.update(id, func(o *order) {
		if o.Status != "NEW" {
			return // a notification after the inquiry, or a retry: already settled
		}
		switch status {
		case "S":
			o.Status = "PAID"
		case "F":
			o.Status, o.Note = "FAILED", code
		}
	})
}

func (s *shop) ordersJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.list())
}

func (s *shop) get(id string) (order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return order{}, false
	}
	return *o, true
}

func (s *shop) byRequestID(reqID string) (order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orders {
		if o.PaymentRequestID == reqID {
			return *o, true
		}
	}
	return order{}, false
}

func (s *shop) update(id string, f func(*order)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[id]; ok {
		f(o)
	}
}
