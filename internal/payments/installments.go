package payments

import (
	"strconv"

	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/installments"
	"github.com/cardgate/cardgate/protocol"
)

// Installments (creditPayPlan, docs/installments.md). A pay's plan is checked in two steps: what
// the request alone decides (the count, the currency's plan, its minimum) when it is parsed, and
// what the card decides (its brand and issuing country) once the card is known — from the
// request, or from the vault for a saved card. The plan the payment keeps is the table's, filled
// in, so pay, inquiry and the notification echo the same interval, fee and interest.

const planPath = "creditPayPlan"

// plans is the table pay and consult read; a variable so that tests may swap it.
var plans = installments.Default()

// parseCreditPayPlan checks what the request alone says about its installment plan and keeps the
// plan in cmd.Order. The decoder already refused an installmentNum that is not a whole number
// ("abc", 3.5) naming creditPayPlan.installmentNum.
func parseCreditPayPlan(r *protocol.PayRequest, cmd *PayCommand) error {
	cp := r.CreditPayPlan
	if cp == nil {
		return nil
	}
	if r.PaymentMethod.PaymentMethodID == "" && hostedRequest(r.PaymentMethod.PaymentMethodMetaData) {
		// The plan depends on the card's brand and issuing country, and a hosted pay has no card
		// until the buyer types it, when there is no one left to tell that the plan does not fit.
		// cardgate's choice: refuse it at pay time, while the merchant can still act.
		return illegal(planPath, "is not supported on a hosted-page payment (no card data): the plan depends on the card; send the card, or pay without creditPayPlan")
	}
	n := int(cp.InstallmentNum)
	switch {
	case n == 0:
		return required(planPath + ".installmentNum")
	case n < installments.MinCount:
		return illegal(planPath+".installmentNum", "must be a whole number of at least %d, got %d", installments.MinCount, n)
	}
	cur := cmd.Amount.Currency.Code
	plan, ok := plans.ForCurrency(cur)
	if !ok {
		return illegal(planPath, "cannot be used: no installment plan is offered for %s payments", cur)
	}
	if !plan.Offers(n) {
		return illegal(planPath+".installmentNum", "%d is not offered for %s payments; allowed: %s", n, cur, plan.CountsText())
	}
	if cmd.Amount.Minor < plan.MinMinor {
		return illegal(planPath, "cannot be used: %s installments need a paymentAmount.value of at least %d, got %d", cur, plan.MinMinor, cmd.Amount.Minor)
	}
	cmd.Order.CreditPayPlan = wirePlan(plan, n)
	return nil
}

// checkCardPlan checks a pay's installment plan against its card, once the card is known.
func checkCardPlan(cmd *PayCommand) error {
	if cmd.Order.CreditPayPlan == nil {
		return nil
	}
	// The brand the payment will use: the merchant's choice on a co-badged card, else its first.
	brand := cmd.SelectedBrand
	if brand == "" {
		brand = paymentBrand(*cmd)
	}
	cur, country := cmd.Amount.Currency.Code, bin.Lookup(cmd.Card).Country
	if _, ok := plans.Lookup(cur, brand, country); ok {
		return nil
	}
	plan, _ := plans.ForCurrency(cur)
	where := "issued in " + plan.Country
	if plan.Country == installments.AnyCountry {
		where = "issued anywhere"
	}
	brands := make([]string, len(plan.Brands))
	for i, b := range plan.Brands {
		brands[i] = string(b)
	}
	return illegal(planPath, "cannot be used with this card (%s issued in %s): %s installments take %s cards %s",
		brand, firstNonEmpty(country, "an unknown country"), cur, joinOr(brands), where)
}

// wirePlan is the plan as the answers show it: the merchant's count, the table's terms.
func wirePlan(p installments.Plan, n int) *protocol.CreditPayPlan {
	return &protocol.CreditPayPlan{
		InstallmentNum:   int32(n),
		Interval:         p.Interval,
		CreditPayFeeType: p.FeeType,
		FeePercentage:    int32(p.FeePercentage),
		InterestRate:     p.InterestRate,
	}
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, v := range s[1 : len(s)-1] {
		out += ", " + v
	}
	return out + " or " + s[len(s)-1]
}

// planCounts renders a plan's counts for the consult answer (the SDK's Plan.installmentNum is a
// string).
func planCounts(p installments.Plan) []string {
	out := make([]string, len(p.Counts))
	for i, n := range p.Counts {
		out[i] = strconv.Itoa(n)
	}
	return out
}
