package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// listenCmd is a merchant's notification endpoint on the developer's machine: it verifies each
// notification with the gateway key, prints it, and acknowledges it, or hands it to the
// merchant's own app (--forward-to) and relays the app's answer, so the gateway's retries follow
// what the app did.
func listenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("listen")
	var cf clientFlags
	cf.register(fs)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	port := fs.Int("port", 0, "port to listen on, on 127.0.0.1 (instead of --addr)")
	forward := fs.String("forward-to", "", "forward each verified notification to this URL (your app) and answer with its answer")
	asJSON := fs.Bool("json", false, "print each notification as one JSON line instead of a summary")
	setURL := fs.Bool("set-notify-url", false, "make this listener the merchant's notify URL (merchant settings) while it runs")
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	if *port != 0 {
		*addr = fmt.Sprintf("127.0.0.1:%d", *port)
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	// The gateway signs over the notify URL's path, and the app verifies over the path it is
	// called at: listening on the app's own path keeps the forwarded signature valid.
	path := "/notify"
	if *forward != "" {
		u, err := neturl.Parse(*forward)
		if err != nil || u.Host == "" {
			ln.Close()
			return usageError{"listen", fmt.Errorf("--forward-to %q is not an http(s) URL", *forward)}
		}
		path = firstNonEmpty(u.EscapedPath(), "/")
	}
	url := "http://" + ln.Addr().String() + path
	l := &listener{client: c, out: stdout, json: *asJSON, forward: *forward, http: &http.Client{Timeout: 20 * time.Second}}
	fmt.Fprintf(stdout, "cardgate listen: notifications to %s are verified with the gateway key, printed and acknowledged", url)
	if *forward != "" {
		fmt.Fprintf(stdout, " by %s", *forward)
	}
	fmt.Fprintln(stdout)
	if *setURL {
		previous, err := setNotifyURL(ctx, c, url)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--set-notify-url: %w", err)
		}
		fmt.Fprintf(stdout, "the merchant's notify URL is now %s (it was %q); it is put back when listen stops\n", url, previous)
		defer func() {
			restore, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := setNotifyURL(restore, c, previous); err != nil {
				fmt.Fprintf(stderr, "cardgate listen: putting back the notify URL %q: %v\n", previous, err)
			}
		}()
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Stopping is what the developer asked for: a notification still being answered gets a
	// moment, then the connections close (the gateway retries what was not acknowledged).
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		_ = srv.Close()
	}
	return nil
}

// setNotifyURL sets the merchant's default notify URL and returns the one before.
func setNotifyURL(ctx context.Context, c *client.Client, url string) (string, error) {
	var before protocol.MerchantSettingsResponse
	if err := call(ctx, c, protocol.PathMerchantSettings, struct{}{}, &before); err != nil {
		return "", err
	}
	var after protocol.MerchantSettingsResponse
	if err := call(ctx, c, protocol.PathMerchantSettings, protocol.MerchantSettingsRequest{NotifyURL: &url}, &after); err != nil {
		return "", err
	}
	if after.Result.ResultStatus != "S" {
		return "", fmt.Errorf("%s: %s", after.Result.ResultCode, after.Result.ResultMessage)
	}
	return before.NotifyURL, nil
}

func call(ctx context.Context, c *client.Client, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := c.Do(ctx, path, body)
	if err != nil {
		return err
	}
	return json.Unmarshal(r.Body, resp)
}

type listener struct {
	client  *client.Client
	out     io.Writer
	mu      sync.Mutex // one notification printed at a time
	json    bool
	forward string
	http    *http.Client
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	verify := r.Clone(r.Context())
	verify.Body = io.NopCloser(bytes.NewReader(raw))
	_, verr := l.client.VerifyNotification(verify)
	if verr != nil {
		// Not acknowledged: a notification that does not verify is not the gateway's, or was
		// changed on the way, and a merchant must not act on it.
		l.print(r, raw, "REFUSED: "+verr.Error())
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"result":{"resultCode":"INVALID_SIGNATURE","resultStatus":"F","resultMessage":"signature does not verify"}}`)
		return
	}
	if l.forward == "" {
		l.print(r, raw, "acknowledged")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, client.Acknowledgement)
		return
	}
	status, answer, ferr := l.relay(r, raw)
	if ferr != nil {
		l.print(r, raw, "forward failed: "+ferr.Error())
		http.Error(w, "forward to "+l.forward+": "+ferr.Error(), http.StatusBadGateway)
		return
	}
	l.print(r, raw, fmt.Sprintf("forwarded: your app answered HTTP %d %s", status, oneLine(answer)))
	w.WriteHeader(status)
	w.Write(answer)
}

// relay posts the notification as it came (headers and body) to the merchant's app.
func (l *listener) relay(r *http.Request, raw []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, l.forward, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	for _, h := range []string{"client-id", "request-time", "signature", "content-type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header[h] = []string{v} // lowercase, as the gateway sends them
		}
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// print writes one notification: a summary line, or with --json the body and the outcome.
func (l *listener) print(r *http.Request, raw []byte, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msg map[string]any
	_ = json.Unmarshal(raw, &msg)
	if l.json {
		line, _ := json.Marshal(map[string]any{"time": time.Now().UTC().Format(time.RFC3339), "path": r.URL.Path,
			"verified": !strings.HasPrefix(outcome, "REFUSED"), "outcome": outcome, "notification": json.RawMessage(validOr(raw))})
		fmt.Fprintln(l.out, string(line))
		return
	}
	str := func(k string) string { s, _ := msg[k].(string); return s }
	typ := firstNonEmpty(str("notifyType"), str("disputeNotificationType"))
	var parts []string
	if res, ok := msg["result"].(map[string]any); ok {
		parts = append(parts, fmt.Sprintf("%v/%v", res["resultStatus"], res["resultCode"]))
	}
	for _, k := range []string{"paymentId", "captureId", "refundId", "disputeId"} {
		if v := str(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	for _, k := range []string{"paymentAmount", "captureAmount", "refundAmount", "disputeAmount"} {
		if a, ok := msg[k].(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("%s=%v %v", k, a["value"], a["currency"]))
		}
	}
	fmt.Fprintf(l.out, "%s  %-18s %s  [%s]\n", time.Now().Format("15:04:05"), firstNonEmpty(typ, "(unknown)"), strings.Join(parts, " "), outcome)
}

func validOr(raw []byte) []byte {
	if json.Valid(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}
