package payments

import (
	"strings"

	"github.com/cardgate/cardgate/internal/notify"
)

// notifyURL checks a notification URL when the merchant gives it, so a URL the dispatcher would
// refuse in every mode, or that parsers read two ways, is PARAM_ILLEGAL now rather than eight
// refused attempts later. Whether a loopback or private address is admitted depends on the mode
// and --notify-allow, and what a name resolves to can change: the dispatcher judges those on the
// address it dials.
func notifyURL(path, raw string) error {
	if strings.Contains(raw, `\`) {
		// Before parsing: Go refuses a backslash in a host as no URL at all, which hides why.
		return illegal(path, "must not contain a backslash")
	}
	if err := absoluteURL(path, raw, true); err != nil {
		return err
	}
	if err := notify.CheckURL(raw); err != nil {
		return illegal(path, "%s", err)
	}
	return nil
}

// ValidateNotifyURL checks a notification URL the way pay checks paymentNotifyUrl.
func ValidateNotifyURL(path, raw string) error { return notifyURL(path, raw) }
