package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/dashboard"
)

const userUsage = `usage: cardgate user create --username U (--client-id ID | --sandbox-merchant | --operator) [--password-file F]
       cardgate user password --username U [--password-file F]
The password is read from --password-file, or else from the first line of standard input, never
from a flag (which ps and shell histories would show).`

// userCmd manages the console's users (docs/design.md "The console").
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(userUsage)
	}
	switch args[0] {
	case "create":
		return userCreate(ctx, args[1:], stdin, stdout, stderr)
	case "password":
		return userPassword(ctx, args[1:], stdin, stdout, stderr)
	}
	return errors.New(userUsage)
}

func userCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sf           storeFlags
		username     = fs.String("username", "", "the name to sign in with (required)")
		clientID     = fs.String("client-id", "", "the merchant the user sees")
		sandboxUser  = fs.Bool("sandbox-merchant", false, "the user sees the sandbox merchant")
		operator     = fs.Bool("operator", false, "the user is an operator and sees every merchant")
		passwordFile = fs.String("password-file", "", "read the password from this file (default: the first line of stdin)")
	)
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	u := dashboard.User{Username: strings.TrimSpace(*username), Role: dashboard.RoleMerchant, ClientID: *clientID}
	if err := dashboard.CheckUsername(u.Username); err != nil {
		return fmt.Errorf("--username: %w", err)
	}
	chosen := 0
	for _, b := range []bool{*clientID != "", *sandboxUser, *operator} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return errors.New("give exactly one of --client-id ID, --sandbox-merchant or --operator")
	}
	password, err := readPassword(*passwordFile, stdin)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = dashboard.HashPassword(password); err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	switch {
	case *operator:
		u.Role, u.ClientID = dashboard.RoleOperator, ""
	case *sandboxUser:
		m, err := st.SandboxMerchant(ctx)
		if err != nil {
			return fmt.Errorf("the sandbox merchant (run cardgate init first): %w", err)
		}
		u.ClientID = m.ClientID
	default:
		if _, err := st.MerchantByClientID(ctx, u.ClientID); err != nil {
			return fmt.Errorf("merchant %s: %w", u.ClientID, err)
		}
	}
	u.CreatedAt = clock.Wall{}.Now()
	if _, err := st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, dashboard.ErrUserExists) {
			return fmt.Errorf("user %q exists; change its password with cardgate user password", u.Username)
		}
		return err
	}
	who := "operator (every merchant)"
	if u.Role == dashboard.RoleMerchant {
		who = "merchant " + u.ClientID
	}
	_, err = fmt.Fprintf(stdout, "console user %s created: %s; sign in at the gateway's %s\n", u.Username, who, dashboard.Prefix)
	return err
}

func userPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sf           storeFlags
		username     = fs.String("username", "", "the user (required)")
		passwordFile = fs.String("password-file", "", "read the new password from this file (default: the first line of stdin)")
	)
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("--username is required")
	}
	password, err := readPassword(*passwordFile, stdin)
	if err != nil {
		return err
	}
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetPassword(ctx, *username, hash); err != nil {
		if errors.Is(err, dashboard.ErrNoUser) {
			return fmt.Errorf("no console user %q", *username)
		}
		return err
	}
	_, err = fmt.Fprintf(stdout, "console user %s: password changed, every session of the user ended\n", *username)
	return err
}

// readPassword reads the first line of the file, or of stdin without a file.
func readPassword(file string, stdin io.Reader) (string, error) {
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, dashboard.MaxPassword+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password: give --password-file, or the password on standard input")
	}
	return line, nil
}
