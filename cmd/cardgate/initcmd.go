package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
)

// initCmd creates (if missing) the gateway key and the sandbox merchant and prints its
// credentials. It is repeatable and safe while serve runs on the same store.
func initCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init")
	fs.SetOutput(stderr)
	var (
		sf         storeFlags
		asJSON     = fs.Bool("json", false, "print the credentials as JSON")
		selfSigned = fs.String("tls-self-signed", "", "also write cert.pem and key.pem for the --public-url host into this directory")
		publicURL  = fs.String("public-url", "https://localhost", "the URL the certificate is for (with --tls-self-signed)")
	)
	sf.register(fs)
	sf.registerGatewayKey(fs, true)
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	sf.gatewayKeyEnv(fs)
	if *selfSigned != "" {
		certFile, keyFile, err := writeSelfSigned(*selfSigned, *publicURL, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s and %s\n", certFile, keyFile)
	}
	store, gw, err := sf.openWithGatewayKey(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	now := clock.Wall{}.Now()
	m, _, err := merchant.EnsureSandbox(ctx, store, now)
	if err != nil {
		return err
	}
	return printCredentials(stdout, m, gw, *asJSON)
}

func merchantCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merchant create")
	fs.SetOutput(stderr)
	var (
		sf      storeFlags
		name    = fs.String("name", "", "merchant name")
		pubFile = fs.String("public-key", "", "register this public key (base64 DER or PEM file); the gateway then holds no private key")
		asJSON  = fs.Bool("json", false, "print the credentials as JSON")
		settle  = fs.String("settlement-currencies", "USD", "the currencies the merchant is contracted to settle in, the default first: USD,EUR (* for every currency)")
	)
	sf.register(fs)
	sf.registerGatewayKey(fs, true)
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	sf.gatewayKeyEnv(fs)
	currencies, err := merchant.ParseSettlementCurrencies(*settle)
	if err != nil {
		return fmt.Errorf("--settlement-currencies: %w", err)
	}
	store, gw, err := sf.openWithGatewayKey(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	now := clock.Wall{}.Now()
	var m merchant.Merchant
	if *pubFile != "" {
		pem, err := os.ReadFile(*pubFile)
		if err != nil {
			return fmt.Errorf("--public-key: %w", err)
		}
		m, err = merchant.NewWithPublicKey(*name, string(pem), now)
		if err != nil {
			return err
		}
	} else {
		if m, err = merchant.NewSandbox(*name, now); err != nil {
			return err
		}
	}
	m.SettlementCurrencies = currencies
	if err := store.CreateMerchant(ctx, m); err != nil {
		return err
	}
	return printCredentials(stdout, m, gw, *asJSON)
}

func printCredentials(w io.Writer, m merchant.Merchant, gw keyring.Key, asJSON bool) error {
	pub, err := gw.PublicKeyBase64()
	if err != nil {
		return err
	}
	c, err := merchant.CredentialsOf(m, pub)
	if err != nil {
		return err
	}
	if !asJSON {
		if c.MerchantPrivateKey == "" {
			_, err = fmt.Fprintf(w, "client id          %s\ngateway public key %s\n", c.ClientID, c.GatewayPublicKey)
			return err
		}
		_, err = fmt.Fprintf(w, "client id            %s\nmerchant private key %s\n(PKCS#1, for Python) %s\nmerchant public key  %s\ngateway public key   %s\n",
			c.ClientID, c.MerchantPrivateKey, c.MerchantPrivateKeyPkcs1, c.MerchantPublicKey, c.GatewayPublicKey)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return errors.Join(errors.New("print credentials"), err)
	}
	return nil
}

// merchantSet changes a merchant's settings directly in the store (an operator's command; the
// merchant itself uses the signed /cardgate/v1/merchant/settings call).
func merchantSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merchant set")
	fs.SetOutput(stderr)
	var (
		sf        storeFlags
		clientID  = fs.String("client-id", "", "the merchant's client id (required)")
		notifyURL = fs.String("notify-url", "", "default notification URL (\"\" clears it)")
	)
	sf.register(fs)
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	if *clientID == "" {
		return errors.New("--client-id is required")
	}
	if *notifyURL != "" {
		if err := payments.ValidateNotifyURL("--notify-url", *notifyURL); err != nil {
			return err
		}
	}
	store, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.SetNotifyURL(ctx, *clientID, *notifyURL); err != nil {
		return fmt.Errorf("merchant %s: %w", *clientID, err)
	}
	_, err = fmt.Fprintf(stdout, "merchant %s notify URL: %q\n", *clientID, *notifyURL)
	return err
}
