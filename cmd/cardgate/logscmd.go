package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// logsCmd is `cardgate logs tail`: the merchant's API calls as the gateway recorded them (every
// instance's), the latest first printed oldest to newest, and with --follow the new ones as they
// come.
func logsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		return errors.New("usage: cardgate logs tail [--follow] [--limit N] [--json]")
	}
	fs := newFlagSet("logs tail")
	var cf clientFlags
	cf.register(fs)
	follow := fs.Bool("follow", false, "keep printing new calls as they are made (Ctrl-C stops)")
	limit := fs.Int("limit", 20, "how many of the latest calls to print first (1 to 1000)")
	asJSON := fs.Bool("json", false, "one JSON object per call")
	every := fs.Duration("every", time.Second, "with --follow, how often to ask for new calls")
	if err := parseArgs(fs, args[1:], stdout); err != nil {
		return err
	}
	c, err := cf.client(ctx)
	if err != nil {
		return err
	}
	req := protocol.LogsTailRequest{Limit: *limit}
	for {
		var resp protocol.LogsTailResponse
		if err := call(ctx, c, protocol.PathLogsTail, req, &resp); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if resp.Result.ResultStatus != "S" {
			return fmt.Errorf("%s: %s", resp.Result.ResultCode, resp.Result.ResultMessage)
		}
		for _, a := range resp.Calls {
			if *asJSON {
				b, _ := json.Marshal(a)
				fmt.Fprintln(stdout, string(b))
				continue
			}
			fmt.Fprintf(stdout, "%s  %s  %-52s %s/%s  %d ms\n", a.Time, a.RequestID, a.Path, a.ResultStatus, a.ResultCode, a.LatencyMS)
		}
		req = protocol.LogsTailRequest{After: resp.Next, Limit: 1000}
		if !*follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}
