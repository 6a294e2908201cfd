package dashboard

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// ChartDays is how many days the overview charts.
const ChartDays = 14

type overviewView struct {
	From, To       time.Time
	Payments       int
	Approved       int
	ApprovalRate   string
	Delivered      int
	Failed         int
	Pending        int
	PaymentsChart  template.HTML
	DeliveryChart  template.HTML
	HasMerchant    bool
	HasAnyPayments bool
}

// overview charts the last ChartDays days of the gateway clock: payments per day with the
// approval rate, and notification deliveries by how they stand.
func (h *Handler) overview(c *call) {
	v := &overviewView{HasMerchant: c.m.ClientID != ""}
	to := h.cfg.Clock.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	from := to.Add(-ChartDays * 24 * time.Hour)
	v.From, v.To = from, to.Add(-time.Second)
	if v.HasMerchant {
		ctx := c.ctx()
		pays, err := h.cfg.Store.PaymentsPerDay(ctx, c.m.ClientID, from, to)
		if err != nil {
			h.fail(c, err)
			return
		}
		dels, err := h.cfg.Store.DeliveriesPerDay(ctx, c.m.ClientID, from, to)
		if err != nil {
			h.fail(c, err)
			return
		}
		days := make([]time.Time, ChartDays)
		for i := range days {
			days[i] = from.Add(time.Duration(i) * 24 * time.Hour)
		}
		total, ok, bad := make([]int, ChartDays), make([]int, ChartDays), make([]int, ChartDays)
		var decided int
		for _, d := range pays {
			i := int(d.Day.Sub(from) / (24 * time.Hour))
			if i < 0 || i >= ChartDays {
				continue
			}
			total[i], ok[i], bad[i] = d.Total, d.Succeeded, d.Failed
			v.Payments += d.Total
			v.Approved += d.Succeeded
			decided += d.Succeeded + d.Failed
		}
		v.HasAnyPayments = v.Payments > 0
		v.ApprovalRate = "—"
		if decided > 0 {
			v.ApprovalRate = fmt.Sprintf("%.1f%%", 100*float64(v.Approved)/float64(decided))
		}
		delivered, failed, pending := make([]int, ChartDays), make([]int, ChartDays), make([]int, ChartDays)
		for _, d := range dels {
			i := int(d.Day.Sub(from) / (24 * time.Hour))
			if i < 0 || i >= ChartDays {
				continue
			}
			delivered[i], failed[i], pending[i] = d.Delivered, d.Failed, d.Pending
			v.Delivered += d.Delivered
			v.Failed += d.Failed
			v.Pending += d.Pending
		}
		v.PaymentsChart = barChart("Payments per day, approved in green", days, []series{
			{Name: "approved", Class: "ok", Values: ok},
			{Name: "not approved", Class: "other", Values: minus(total, ok)},
		}, rateLine(ok, bad))
		v.DeliveryChart = barChart("Notifications per day by delivery", days, []series{
			{Name: "delivered", Class: "ok", Values: delivered},
			{Name: "pending", Class: "pending", Values: pending},
			{Name: "failed", Class: "bad", Values: failed},
		}, nil)
	}
	h.render(c, 200, "overview", h.page(c, "Overview", "overview", v))
}

func minus(a, b []int) []int {
	out := make([]int, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// rateLine is each day's approval rate: approved among the payments decided, approved or
// failed (-1: none decided that day). Payments in process or cancelled do not count.
func rateLine(ok, bad []int) []float64 {
	out := make([]float64, len(ok))
	for i := range ok {
		out[i] = -1
		if n := ok[i] + bad[i]; n > 0 {
			out[i] = float64(ok[i]) / float64(n)
		}
	}
	return out
}

type series struct {
	Name, Class string
	Values      []int
}

// barChart draws stacked bars per day, with an optional rate line (0..1) on a right-hand axis,
// as an inline SVG: numbers and fixed labels only, so nothing in it comes from a user.
func barChart(title string, days []time.Time, ss []series, rate []float64) template.HTML {
	const (
		w, hgt              = 720, 240
		left, right, top, b = 60, 72, 16, 44
	)
	plotW, plotH := float64(w-left-right), float64(hgt-top-b)
	maxV := 0
	for i := range days {
		sum := 0
		for _, s := range ss {
			sum += s.Values[i]
		}
		maxV = max(maxV, sum)
	}
	scale := niceMax(maxV)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, hgt, template.HTMLEscapeString(title))
	fmt.Fprintf(&sb, `<title>%s</title>`, template.HTMLEscapeString(title))
	for i := 0; i <= 4; i++ {
		y := float64(top) + plotH - plotH*float64(i)/4
		fmt.Fprintf(&sb, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, y, y)
		fmt.Fprintf(&sb, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`, left-6, y+4, scale*i/4)
		if rate != nil {
			fmt.Fprintf(&sb, `<text class="axis" x="%d" y="%.1f">%d%%</text>`, w-right+6, y+4, 25*i)
		}
	}
	slot := plotW / float64(len(days))
	barW := slot * 0.62
	for i, d := range days {
		x := float64(left) + slot*float64(i) + (slot-barW)/2
		y := float64(top) + plotH
		for _, s := range ss {
			v := s.Values[i]
			if v == 0 || scale == 0 {
				continue
			}
			bh := plotH * float64(v) / float64(scale)
			y -= bh
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
				s.Class, x, y, barW, bh, d.Format("Jan 2"), v, s.Name)
		}
		if i%2 == 0 || len(days) <= 7 {
			// Every other day on a wide screen; "minor" labels give way on a phone (console.css).
			class := "axis"
			if i%4 != 0 {
				class += " minor"
			}
			fmt.Fprintf(&sb, `<text class="%s" x="%.1f" y="%d" text-anchor="middle">%s</text>`, class, x+barW/2, hgt-8, d.Format("Jan 2"))
		}
	}
	if rate != nil {
		var pts []string
		for i, r := range rate {
			if r < 0 {
				continue
			}
			x := float64(left) + slot*float64(i) + slot/2
			y := float64(top) + plotH - plotH*r
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			fmt.Fprintf(&sb, `<circle class="rate" cx="%.1f" cy="%.1f" r="3"><title>%s: %.0f%% approved</title></circle>`, x, y, days[i].Format("Jan 2"), 100*r)
		}
		if len(pts) > 1 {
			fmt.Fprintf(&sb, `<polyline class="rate" points="%s"/>`, strings.Join(pts, " "))
		}
	}
	fmt.Fprintf(&sb, `<line class="base" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, w-right, float64(top)+plotH, float64(top)+plotH)
	sb.WriteString(`</svg>`)
	// Safe: every value written above is a number, a date or a fixed string, and the title is
	// escaped.
	return template.HTML(sb.String()) //nolint:gosec
}

// niceMax rounds a maximum up to a number whose quarters are whole and round: 4, 8, 20, 40, 80,
// 200, ….
func niceMax(v int) int {
	best := 4
	for m := 1; best < v && m <= 1<<40; m *= 10 {
		for _, step := range []int{1, 2, 5} {
			if n := 4 * step * m; n >= v {
				return n
			}
		}
	}
	return max(best, v)
}
