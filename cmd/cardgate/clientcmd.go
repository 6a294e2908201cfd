package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// The client commands call a running gateway, signed like any merchant: for quick manual use and
// scripts. Credentials come from flags, from CARDGATE_* variables, or from the sandbox merchant of
// a local data directory.

// exitStatus carries the process exit code of a call that answered F (1) or U (3), so scripts can
// branch on the outcome without parsing JSON.
type exitStatus int

func (e exitStatus) Error() string { return "result status " + strconv.Itoa(int(e)) }

type clientFlags struct {
	url, clientID, privateKey, gatewayKey string
	store                                 storeFlags
	// timeout bounds a whole call, its answer read (default the client's 30 s).
	timeout time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", envOr("CARDGATE_URL", "http://127.0.0.1:8080"), "gateway base URL ($CARDGATE_URL)")
	fs.StringVar(&f.clientID, "client-id", os.Getenv("CARDGATE_CLIENT_ID"), "client id ($CARDGATE_CLIENT_ID); given alone, that merchant of --data, whose key the gateway holds; default: the sandbox merchant of --data")
	fs.StringVar(&f.privateKey, "private-key", os.Getenv("CARDGATE_PRIVATE_KEY"), "merchant private key, base64 ($CARDGATE_PRIVATE_KEY)")
	fs.StringVar(&f.gatewayKey, "gateway-public-key", os.Getenv("CARDGATE_GATEWAY_PUBLIC_KEY"), "gateway public key, base64 ($CARDGATE_GATEWAY_PUBLIC_KEY)")
	f.store.register(fs)
	// Without --gateway-public-key, the key to verify answers with is serve's: the HSM's when
	// serve signs with one ($CARDGATE_GATEWAY_KEY, as serve reads it), else the store's.
	f.store.gatewayKey = gateway.KeyConfig{Spec: os.Getenv("CARDGATE_GATEWAY_KEY"), Version: os.Getenv("CARDGATE_GATEWAY_KEY_VERSION")}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (f *clientFlags) client(ctx context.Context) (*client.Client, error) {
	if f.clientID == "" && f.privateKey != "" {
		return nil, errors.New("--private-key needs the --client-id it belongs to")
	}
	if f.clientID == "" || f.privateKey == "" || f.gatewayKey == "" {
		if err := f.store.mustExist(); err != nil {
			return nil, err
		}
		store, gw, err := f.store.openWithGatewayKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("no --client-id/--private-key/--gateway-public-key given, and the sandbox merchant of %s cannot be read: %w", f.store.data, err)
		}
		defer store.Close()
		// --client-id alone picks that merchant of the local store, whose private key the
		// gateway holds if it was created without --public-key; otherwise the sandbox merchant.
		m, err := store.SandboxMerchant(ctx)
		if f.clientID != "" && f.privateKey == "" {
			m, err = store.MerchantByClientID(ctx, f.clientID)
		}
		if err != nil {
			return nil, fmt.Errorf("merchant %s of %s: %w", firstNonEmpty(f.clientID, "(sandbox)"), f.store.data, err)
		}
		pub, err := gw.PublicKeyBase64()
		if err != nil {
			return nil, err
		}
		c, err := merchant.CredentialsOf(m, pub)
		if err != nil {
			return nil, err
		}
		if f.privateKey == "" && c.MerchantPrivateKey == "" {
			return nil, fmt.Errorf("merchant %s keeps its own private key (it was registered with --public-key): give --private-key", c.ClientID)
		}
		if f.privateKey == "" {
			f.clientID, f.privateKey = c.ClientID, c.MerchantPrivateKey
		}
		if f.gatewayKey == "" {
			f.gatewayKey = c.GatewayPublicKey
		}
	}
	cfg := client.Config{BaseURL: f.url, ClientID: f.clientID, PrivateKey: f.privateKey, GatewayPublicKey: f.gatewayKey}
	if f.timeout > 0 {
		cfg.HTTPClient = &http.Client{Timeout: f.timeout}
	}
	return client.New(cfg)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// callCmd parses flags, builds the request with build, sends it to api and prints the answer.
func callCmd(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	define func(fs *flag.FlagSet) func() (string, any, error)) error {
	fs := newFlagSet(name)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	build := define(fs)
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	path, req, err := build()
	if err != nil {
		return err
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	body, isRaw := req.(rawBody)
	if !isRaw {
		if body, err = json.Marshal(req); err != nil {
			return err
		}
	}
	if strings.HasPrefix(path, "/v1/") {
		path = c.Path(path) // an Antom API: under /ams/api or /ams/sandbox/api
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, path, body)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, resp.Body, "", "  "); err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	fmt.Fprintln(stdout, pretty.String())
	var r protocol.ErrorResponse
	_ = json.Unmarshal(resp.Body, &r)
	switch protocol.Status(r.Result.ResultStatus) {
	case protocol.StatusSuccess:
		return nil
	case protocol.StatusUnknown:
		return exitStatus(3)
	}
	return exitStatus(1)
}

// rawBody is a request body sent exactly as given: a routing document is judged by the gateway,
// whose answer names the field at fault, rather than by a local re-encoding that would refuse
// malformed JSON with a message of its own and drop repeated fields.
type rawBody []byte

func amountFlags(fs *flag.FlagSet) (*string, *string) {
	return fs.String("amount", "", "amount in minor units, e.g. 4200 for 42.00 SGD"), fs.String("currency", "SGD", "ISO 4217 currency")
}

func wireAmount(value, currency string) (*protocol.Amount, error) {
	if value == "" {
		return nil, errors.New("--amount is required")
	}
	if _, err := money.Parse(currency, value); err != nil {
		return nil, fmt.Errorf("--amount %s --currency %s: %w", value, currency, err)
	}
	return &protocol.Amount{Currency: currency, Value: value}, nil
}

func requestID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func payCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "pay", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		cardNo := fs.String("card", "4242424242424242", "card number (a sandbox test card)")
		expiry := fs.String("expiry", "12/30", "expiry MM/YY")
		cvv := fs.String("cvv", "123", "CVV")
		amount, currency := amountFlags(fs)
		capture := fs.String("capture-mode", "AUTOMATIC", "AUTOMATIC or MANUAL")
		reqID := fs.String("request-id", "", "paymentRequestId (default: a new one)")
		notify := fs.String("notify-url", "", "paymentNotifyUrl: where the result is notified (default: the merchant's notify URL; see cardgate listen)")
		redirect := fs.String("redirect-url", "https://merchant.example/return", "paymentRedirectUrl: where the buyer returns after 3-D Secure or the hosted page")
		with3DS := fs.Bool("3ds", false, "request 3-D Secure (is3DSAuthentication): the answer carries the challenge page in normalUrl")
		hosted := fs.Bool("hosted", false, "send no card: the answer's normalUrl is the hosted card page where the buyer enters it")
		tokenize := fs.String("tokenize-mode", "", "save the card: ENABLED, or ASKFORCONSENT (the hosted page asks the buyer)")
		token := fs.String("token", "", "pay with a saved card: its cardToken (paymentMethodId), no card number or CVV")
		buyer := fs.String("buyer-id", "cli-buyer", "order.buyer.referenceBuyerId (a saved card serves the buyer it was saved for)")
		return func() (string, any, error) {
			if *amount == "" {
				*amount = "4200"
			}
			amt, err := wireAmount(*amount, *currency)
			if err != nil {
				return "", nil, err
			}
			if len(*expiry) != 5 || (*expiry)[2] != '/' {
				return "", nil, fmt.Errorf("--expiry %q: want MM/YY", *expiry)
			}
			if *reqID == "" {
				*reqID = requestID("cli-pay")
			}
			method := &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: &protocol.CardMetaData{
				CardNo: *cardNo, ExpiryMonth: (*expiry)[:2], ExpiryYear: (*expiry)[3:], CVV: *cvv, Is3DSAuthentication: *with3DS,
				CardholderName: &protocol.UserName{FirstName: "Test", LastName: "Buyer"}, TokenizeMode: *tokenize,
			}}
			switch {
			case *token != "":
				method.PaymentMethodID = *token
				method.PaymentMethodMetaData = &protocol.CardMetaData{IsCardOnFile: !*with3DS, Is3DSAuthentication: *with3DS} // an MIT (isCardOnFile) has no 3DS
			case *hosted:
				method.PaymentMethodMetaData = nil
				if *tokenize != "" {
					method.PaymentMethodMetaData = &protocol.CardMetaData{TokenizeMode: *tokenize}
				}
			}
			return protocol.PathPay, &protocol.PayRequest{
				ProductCode: "CASHIER_PAYMENT", PaymentRequestID: *reqID, PaymentAmount: amt,
				PaymentRedirectURL: *redirect, PaymentNotifyURL: *notify,
				PaymentFactor: &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: *capture},
				PaymentMethod: method,
				Order: &protocol.Order{ReferenceOrderID: *reqID, OrderDescription: "cardgate CLI payment", OrderAmount: amt,
					Buyer: &protocol.Buyer{ReferenceBuyerID: *buyer}},
				Env: &protocol.Env{TerminalType: "WEB", ClientIP: "127.0.0.1"},
			}, nil
		}
	})
}

func inquireCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "inquire", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		paymentID := fs.String("payment-id", "", "paymentId")
		paymentReqID := fs.String("payment-request-id", "", "paymentRequestId")
		refundID := fs.String("refund-id", "", "refundId (inquires the refund)")
		refundReqID := fs.String("refund-request-id", "", "refundRequestId (inquires the refund)")
		return func() (string, any, error) {
			switch {
			case *refundID != "" || *refundReqID != "":
				return protocol.PathInquiryRefund, &protocol.InquiryRefundRequest{RefundID: *refundID, RefundRequestID: *refundReqID}, nil
			case *paymentID != "" || *paymentReqID != "":
				return protocol.PathInquiryPayment, &protocol.InquiryPaymentRequest{PaymentID: *paymentID, PaymentRequestID: *paymentReqID}, nil
			}
			return "", nil, errors.New("give --payment-id, --payment-request-id, --refund-id or --refund-request-id")
		}
	})
}

func captureCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "capture", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		paymentID := fs.String("payment-id", "", "paymentId (required)")
		amount, currency := amountFlags(fs)
		reqID := fs.String("request-id", "", "captureRequestId (default: a new one)")
		return func() (string, any, error) {
			if *paymentID == "" {
				return "", nil, errors.New("--payment-id is required")
			}
			amt, err := wireAmount(*amount, *currency)
			if err != nil {
				return "", nil, err
			}
			if *reqID == "" {
				*reqID = requestID("cli-capture")
			}
			return protocol.PathCapture, &protocol.CaptureRequest{CaptureRequestID: *reqID, PaymentID: *paymentID, CaptureAmount: amt}, nil
		}
	})
}

func cancelCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "cancel", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		paymentID := fs.String("payment-id", "", "paymentId")
		paymentReqID := fs.String("payment-request-id", "", "paymentRequestId")
		return func() (string, any, error) {
			if *paymentID == "" && *paymentReqID == "" {
				return "", nil, errors.New("give --payment-id or --payment-request-id")
			}
			return protocol.PathCancel, &protocol.CancelRequest{PaymentID: *paymentID, PaymentRequestID: *paymentReqID}, nil
		}
	})
}

func refundCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "refund", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		paymentID := fs.String("payment-id", "", "paymentId (required)")
		amount, currency := amountFlags(fs)
		reqID := fs.String("request-id", "", "refundRequestId (default: a new one)")
		reason := fs.String("reason", "", "refundReason")
		notify := fs.String("notify-url", "", "refundNotifyUrl")
		return func() (string, any, error) {
			if *paymentID == "" {
				return "", nil, errors.New("--payment-id is required")
			}
			amt, err := wireAmount(*amount, *currency)
			if err != nil {
				return "", nil, err
			}
			if *reqID == "" {
				*reqID = requestID("cli-refund")
			}
			return protocol.PathRefund, &protocol.RefundRequest{RefundRequestID: *reqID, PaymentID: *paymentID, RefundAmount: amt,
				RefundReason: *reason, RefundNotifyURL: *notify}, nil
		}
	})
}

func clockCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "advance" {
		return errors.New("usage: cardgate clock advance --by 15m")
	}
	return callCmd(ctx, "clock advance", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		by := fs.String("by", "", "how far to move the sandbox clock: 15m, 7d, 7d1m")
		return func() (string, any, error) {
			if *by == "" {
				return "", nil, errors.New("--by is required")
			}
			return protocol.PathSandboxClockAdvance, &protocol.ClockAdvanceRequest{Duration: *by}, nil
		}
	})
}

func consultCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return callCmd(ctx, "consult", args, stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		value, currency := amountFlags(fs)
		terminal := fs.String("terminal-type", "WEB", "env.terminalType: WEB, WAP, APP or MINI_APP")
		return func() (string, any, error) {
			if fs.NArg() > 0 {
				return "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
			}
			amt, err := wireAmount(*value, *currency)
			if err != nil {
				return "", nil, err
			}
			return protocol.PathConsult, &protocol.ConsultRequest{ProductCode: "CASHIER_PAYMENT", PaymentAmount: amt,
				Env: &protocol.Env{TerminalType: *terminal}}, nil
		}
	})
}

func sandboxCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: cardgate sandbox force --operation pay --code DO_NOT_HONOR [--count N] | sandbox reset [--keep-clock] | sandbox dispute --payment-id ID [--amount N --currency C]"
	if len(args) == 0 {
		return errors.New(use)
	}
	switch args[0] {
	case "force":
		return callCmd(ctx, "sandbox force", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			op := fs.String("operation", "", "the call to force: pay, capture or refund (none: list the forces in effect)")
			code := fs.String("code", "", "the result code it answers, e.g. DO_NOT_HONOR, PROCESS_FAIL")
			count := fs.Int("count", 1, "how many of the next calls answer it; 0 clears the operation's force")
			return func() (string, any, error) {
				if fs.NArg() > 0 {
					return "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
				}
				req := &protocol.ForceRequest{Operation: *op, ResultCode: *code}
				if *op != "" || *code != "" {
					req.Count = count
				}
				return protocol.PathSandboxForce, req, nil
			}
		})
	case "reset":
		return callCmd(ctx, "sandbox reset", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			keep := fs.Bool("keep-clock", false, "leave the sandbox clock where it is (it is shared by every merchant)")
			return func() (string, any, error) {
				if fs.NArg() > 0 {
					return "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
				}
				return protocol.PathSandboxReset, &protocol.ResetRequest{KeepClock: *keep}, nil
			}
		})
	case "dispute":
		return callCmd(ctx, "sandbox dispute", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			paymentID := fs.String("payment-id", "", "the captured payment the buyer disputes")
			value, currency := fs.String("amount", "", "disputed amount in minor units (default: all the payment has left to dispute)"), fs.String("currency", "", "its currency (the payment's)")
			reason := fs.String("reason-code", "", "the issuer's reason code (default 13.1, merchandise not received)")
			loses := fs.Bool("defense-loses", false, "the issuer upholds the chargeback even when defended")
			return func() (string, any, error) {
				if fs.NArg() > 0 {
					return "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
				}
				if *paymentID == "" {
					return "", nil, errors.New("--payment-id is required")
				}
				wins := !*loses
				req := &protocol.SandboxDisputeOpenRequest{PaymentID: *paymentID, ReasonCode: *reason, DefenseWins: &wins}
				if *value != "" {
					if *currency == "" {
						return "", nil, errors.New("--amount needs --currency, the payment's")
					}
					amt, err := wireAmount(*value, *currency)
					if err != nil {
						return "", nil, err
					}
					req.DisputeAmount = amt
				}
				return protocol.PathSandboxDisputeOpen, req, nil
			}
		})
	}
	return fmt.Errorf("unknown sandbox command %q; %s", args[0], use)
}

func notificationsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: cardgate notifications list --payment-id ID | resend --id N")
	}
	switch args[0] {
	case "list":
		return callCmd(ctx, "notifications list", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			paymentID := fs.String("payment-id", "", "paymentId (required)")
			return func() (string, any, error) {
				if *paymentID == "" {
					return "", nil, errors.New("--payment-id is required")
				}
				return protocol.PathNotificationsList, &protocol.NotificationsListRequest{PaymentID: *paymentID}, nil
			}
		})
	case "resend":
		return callCmd(ctx, "notifications resend", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			id := fs.String("id", "", "notificationId from notifications list (required)")
			return func() (string, any, error) {
				if *id == "" {
					return "", nil, errors.New("--id is required")
				}
				return protocol.PathNotificationsResend, &protocol.NotificationsResendRequest{NotificationID: *id}, nil
			}
		})
	}
	return fmt.Errorf("unknown notifications command %q", args[0])
}

// stdin is where routing set reads a document given no --file.
var stdin io.Reader = os.Stdin

func routingCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: cardgate routing get | routing set [--file rules.json] (without --file the document is read from stdin)"
	if len(args) == 0 {
		return errors.New(usage)
	}
	noArgs := func(fs *flag.FlagSet) error {
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q; %s", fs.Arg(0), usage)
		}
		return nil
	}
	helpFor := func(fs *flag.FlagSet, line string) {
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), line)
			fs.PrintDefaults()
		}
	}
	switch args[0] {
	case "get":
		return callCmd(ctx, "routing get", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			helpFor(fs, "usage: cardgate routing get [flags]\nPrints the merchant's routing rules (docs/design.md, routing rules).")
			return func() (string, any, error) {
				return protocol.PathRoutingGet, struct{}{}, noArgs(fs)
			}
		})
	case "set":
		return callCmd(ctx, "routing set", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			helpFor(fs, "usage: cardgate routing set [--file rules.json] [flags]\nReplaces the merchant's routing rules with the document in --file, or on stdin, and prints\nthem as stored. A document the gateway refuses leaves the old rules (exit 1).")
			file := fs.String("file", "", "the routing document, JSON (default: read from stdin)")
			return func() (string, any, error) {
				if err := noArgs(fs); err != nil {
					return "", nil, err
				}
				in, name := stdin, "stdin"
				if *file != "" {
					f, err := os.Open(*file)
					if err != nil {
						return "", nil, err
					}
					defer f.Close()
					in, name = f, *file
				}
				// The gateway refuses bodies above 64 KiB itself; the bound only stops an endless stdin.
				doc, err := io.ReadAll(io.LimitReader(in, 1<<20))
				if err != nil {
					return "", nil, fmt.Errorf("read %s: %w", name, err)
				}
				return protocol.PathRoutingSet, rawBody(doc), nil
			}
		})
	}
	return fmt.Errorf("unknown routing command %q; %s", args[0], usage)
}

// disputeCmd calls the Antom dispute APIs, as a merchant's server would.
func disputeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: cardgate dispute list --payment-id ID | dispute accept --dispute-id ID | dispute defend --dispute-id ID --file F | dispute evidence --dispute-id ID [--type template|file] [--out F]"
	if len(args) == 0 {
		return errors.New(use)
	}
	idFlag := func(fs *flag.FlagSet) *string {
		return fs.String("dispute-id", "", "the disputeId of the dispute notification")
	}
	switch args[0] {
	case "list":
		return callCmd(ctx, "dispute list", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			paymentID := fs.String("payment-id", "", "the payment whose disputes to list")
			return func() (string, any, error) {
				if *paymentID == "" {
					return "", nil, errors.New("--payment-id is required")
				}
				return protocol.PathDisputesList, &protocol.DisputesListRequest{PaymentID: *paymentID}, nil
			}
		})
	case "accept":
		return callCmd(ctx, "dispute accept", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			id := idFlag(fs)
			return func() (string, any, error) {
				if *id == "" {
					return "", nil, errors.New("--dispute-id is required")
				}
				return protocol.PathAcceptDispute, &protocol.AcceptDisputeRequest{DisputeID: *id}, nil
			}
		})
	case "defend":
		return callCmd(ctx, "dispute defend", args[1:], stdout, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
			id := idFlag(fs)
			file := fs.String("file", "", "the defense document (PDF, Word, an image...), sent base64")
			return func() (string, any, error) {
				if *id == "" || *file == "" {
					return "", nil, errors.New("--dispute-id and --file are required")
				}
				doc, err := os.ReadFile(*file)
				if err != nil {
					return "", nil, fmt.Errorf("--file: %w", err)
				}
				return protocol.PathSupplyDefenseDocument, &protocol.SupplyDefenseDocumentRequest{DisputeID: *id,
					DisputeEvidence: base64.StdEncoding.EncodeToString(doc)}, nil
			}
		})
	case "evidence":
		return evidenceCmd(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown dispute command %q; %s", args[0], use)
}

// evidenceCmd downloads a dispute's template or defense; with --out the document is written
// decoded to that file and the answer printed without it.
func evidenceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var out *string
	var answer bytes.Buffer
	err := callCmd(ctx, "dispute evidence", args, &answer, stderr, func(fs *flag.FlagSet) func() (string, any, error) {
		id := fs.String("dispute-id", "", "the disputeId of the dispute notification")
		kind := fs.String("type", "template", "template (the defense template) or file (the defense supplied)")
		out = fs.String("out", "", "write the document, decoded, to this file")
		return func() (string, any, error) {
			if *id == "" {
				return "", nil, errors.New("--dispute-id is required")
			}
			types := map[string]string{"template": "DISPUTE_EVIDENCE_TEMPLATE", "file": "DISPUTE_EVIDENCE_FILE"}
			t, ok := types[*kind]
			if !ok {
				return "", nil, fmt.Errorf("--type %q must be template or file", *kind)
			}
			return protocol.PathDownloadDisputeEvidence, &protocol.DownloadDisputeEvidenceRequest{DisputeID: *id, DisputeEvidenceType: t}, nil
		}
	})
	if out == nil || *out == "" || err != nil {
		stdout.Write(answer.Bytes())
		return err
	}
	var resp protocol.DownloadDisputeEvidenceResponse
	if jerr := json.Unmarshal(answer.Bytes(), &resp); jerr != nil {
		return fmt.Errorf("answer: %w", jerr)
	}
	doc, derr := base64.StdEncoding.DecodeString(resp.DisputeEvidence)
	if derr != nil {
		return fmt.Errorf("disputeEvidence is not base64: %w", derr)
	}
	if werr := os.WriteFile(*out, doc, 0o600); werr != nil {
		return werr
	}
	resp.DisputeEvidence = fmt.Sprintf("(%d bytes written to %s)", len(doc), *out)
	pretty, _ := json.MarshalIndent(resp, "", "  ")
	fmt.Fprintln(stdout, string(pretty))
	return nil
}
