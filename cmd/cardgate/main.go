// Command cardgate is the gateway and its tools: serve runs the Antom-compatible API; init and
// merchant create print SDK credentials. The flags and JSON outputs are contracts that users'
// scripts rely on (docs/design.md "Interfaces other tools rely on"): extend them, never rename them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cardgate — a self-hostable card payment gateway, wire-compatible with Antom.

Usage:
  cardgate serve [--addr 127.0.0.1:8080] [--data DIR] [--public-url URL] [--mode sandbox|production]
                 [--tls-cert FILE --tls-key FILE] [--log-level info] [--refund-window 365d]
                 [--notify-timeout 10s] [--notify-allow CIDR]... [--cpuprofile FILE]
                 [--fx-rates FILE] [--fee-bps N] [--fee-fixed N]   (every flag also reads CARDGATE_<FLAG>)
                 [--gateway-key pkcs11:URI [--gateway-key-version N]]  (the key in an HSM; -tags pkcs11)
  cardgate init [--data DIR] --json [--tls-self-signed DIR --public-url URL] [--gateway-key pkcs11:URI]
  cardgate merchant create [--data DIR] [--name N] [--public-key FILE] [--settlement-currencies USD,EUR] --json
  cardgate merchant set [--data DIR] --client-id ID --notify-url URL
  cardgate vault rotate [--data DIR | --database URL] [--vault-keys KEYS] [--json]
  cardgate user create [--data DIR] --username U (--client-id ID | --sandbox-merchant | --operator) [--password-file F]
  cardgate user password [--data DIR] --username U [--password-file F]
                                                 (console users at /dashboard/; the password on stdin by default)

Calls to a running gateway (credentials: --client-id/--private-key/--gateway-public-key, the
CARDGATE_* variables, or the sandbox merchant of --data; prints the answer; exit 0 on S, 1 on F, 3 on U):
  cardgate pay [--card N] [--amount 4200 --currency SGD] [--capture-mode MANUAL] [--3ds]
               [--hosted] [--tokenize-mode ENABLED|ASKFORCONSENT] [--token CARD_TOKEN --buyer-id ID]
  cardgate inquire --payment-id ID | --payment-request-id ID | --refund-id ID | --refund-request-id ID
  cardgate capture --payment-id ID --amount 4200 --currency SGD
  cardgate cancel --payment-id ID | --payment-request-id ID
  cardgate refund --payment-id ID --amount 100 --currency SGD [--reason R]
  cardgate consult --amount 10000 --currency USD   (the card brands and installment plans offered)
  cardgate clock advance --by 15m
  cardgate sandbox force --operation pay|capture|refund --code RESULT_CODE [--count N]
                                                 (--count 0 clears; no flags: list the forces)
  cardgate sandbox reset [--keep-clock]          (the merchant's test data; keeps merchant, keys, rules)
  cardgate sandbox dispute --payment-id ID [--amount 100 --currency SGD] [--reason-code 13.1] [--defense-loses]
                                                 (a chargeback on a captured payment; no --amount: all it has left)
  cardgate dispute list --payment-id ID          (a payment's disputes as they stand)
  cardgate dispute accept --dispute-id ID
  cardgate dispute defend --dispute-id ID --file defense.pdf
  cardgate dispute evidence --dispute-id ID [--type template|file] [--out FILE]
  cardgate listen [--port N] [--forward-to URL] [--json] [--set-notify-url]
                                                 (a local notify URL: verifies, prints, acknowledges)
  cardgate logs tail [--follow] [--limit 20] [--json]
                                                 (the merchant's API calls, from every instance)
  cardgate notifications list --payment-id ID
  cardgate notifications resend --id N
  cardgate routing get
  cardgate routing set [--file rules.json]     (without --file: the document on stdin)
  cardgate report transactions|settlement --date YYYY-MM-DD|today [--format csv|json]
                                                 (a UTC day of the gateway clock; docs/reports.md)

Load (starts a gateway on a temporary store unless --url is given; docs/design.md "Performance"):
  cardgate bench [--mix pay|pay-inquiry|manual|3ds-frictionless] [--concurrency 32 | --rate R]
                 [--duration 10s | --count N] [--notify] [--baseline] [--preload N]
                 [--rounds N] [--store sqlite|postgres --database URL] [--json] [--cpuprofile FILE]
                 [--signer go|openssl]           (the started gateway's signer; the floor's is go)

Tools:
  cardgate version                               (module version, commit, Go and signers of this binary)
  cardgate completion bash|zsh                   (source <(cardgate completion bash))

Run "cardgate <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var status exitStatus
		if errors.As(err, &status) {
			os.Exit(int(status))
		}
		if errors.Is(err, errHelpShown) {
			os.Exit(0)
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cardgate:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	if isGroup(args[0]) && len(args) > 1 && isHelp(args[1]) {
		fmt.Fprint(stdout, groupUsage(args[0]))
		return errHelpShown
	}
	switch args[0] {
	case "version", "--version":
		return versionCmd(args[1:], stdout)
	case "completion":
		return completionCmd(args[1:], stdout)
	case "__complete":
		return complete(args[1:], stdout)
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "init":
		return initCmd(ctx, args[1:], stdout, stderr)
	case "merchant":
		switch {
		case len(args) >= 2 && args[1] == "create":
			return merchantCreate(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "set":
			return merchantSet(ctx, args[2:], stdout, stderr)
		}
		return errors.New(`usage: cardgate merchant create [--name N] [--public-key FILE] [--settlement-currencies USD,EUR] --json | merchant set --client-id ID --notify-url URL`)
	case "notifications":
		return notificationsCmd(ctx, args[1:], stdout, stderr)
	case "routing":
		return routingCmd(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCmd(ctx, args[1:], stdout, stderr)
	case "pay":
		return payCmd(ctx, args[1:], stdout, stderr)
	case "inquire":
		return inquireCmd(ctx, args[1:], stdout, stderr)
	case "capture":
		return captureCmd(ctx, args[1:], stdout, stderr)
	case "cancel":
		return cancelCmd(ctx, args[1:], stdout, stderr)
	case "refund":
		return refundCmd(ctx, args[1:], stdout, stderr)
	case "clock":
		return clockCmd(ctx, args[1:], stdout, stderr)
	case "consult":
		return consultCmd(ctx, args[1:], stdout, stderr)
	case "sandbox":
		return sandboxCmd(ctx, args[1:], stdout, stderr)
	case "dispute":
		return disputeCmd(ctx, args[1:], stdout, stderr)
	case "listen":
		return listenCmd(ctx, args[1:], stdout, stderr)
	case "logs":
		return logsCmd(ctx, args[1:], stdout, stderr)
	case "vault":
		return vaultCmd(ctx, args[1:], stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (run \"cardgate help\" for the commands)", args[0])
}
